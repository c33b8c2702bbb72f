package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
)

func init() {
	addScenario(scenario{"outbound_progress", testOutboundProgress})
}

// Loopback addresses letting in the scenario's carriers (unused inbound).
const (
	srcProgress1 = "127.0.0.41"
	srcProgress2 = "127.0.0.42"
	srcProgress3 = "127.0.0.43"
)

// The suite's own certificate for https receivers on 127.0.0.1: sipbridge
// trusts it through SSL_CERT_DIR (StartBridge).
var suiteCert struct {
	once sync.Once
	dir  string
	cert tls.Certificate
	err  error
}

// suiteCertDir makes the certificate once and returns the folder holding it.
func suiteCertDir(t testing.TB) string {
	suiteCert.once.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			suiteCert.err = err
			return
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "sipbridge e2e receiver"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			BasicConstraintsValid: true, IsCA: true}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			suiteCert.err = err
			return
		}
		dir := filepath.Join(suite.tmp, "trusted-certs")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			suiteCert.err = err
			return
		}
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		if err := os.WriteFile(filepath.Join(dir, "e2e-receiver.pem"), certPEM, 0o644); err != nil {
			suiteCert.err = err
			return
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		suiteCert.cert, suiteCert.err = tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
		suiteCert.dir = dir
	})
	if suiteCert.err != nil {
		t.Fatalf("suite certificate: %v", suiteCert.err)
	}
	return suiteCert.dir
}

// statusPost is one status callback as its receiver saw it.
type statusPost struct {
	At    time.Time
	SigOK bool
	Body  struct {
		Event      string `json:"event"`
		Status     string `json:"status"`
		CallID     string `json:"call_id"`
		CallSID    string `json:"call_sid"`
		SIPTrunkID string `json:"sip_trunk_id"`
		Cause      string `json:"cause"`
	}
}

// statusSink is an https endpoint checking each POST's signature.
type statusSink struct {
	URL   string
	mu    sync.Mutex
	posts []statusPost
}

func startStatusSink(t *testing.T, secret string) *statusSink {
	suiteCertDir(t)
	s := &statusSink{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(raw)
		p := statusPost{At: time.Now(), SigOK: hex.EncodeToString(mac.Sum(nil)) == r.Header.Get("X-Sipbridge-Signature")}
		_ = json.Unmarshal(raw, &p.Body)
		s.mu.Lock()
		s.posts = append(s.posts, p)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{suiteCert.cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	s.URL = srv.URL + "/status"
	return s
}

// of waits for a call's event and returns it.
func (s *statusSink) of(t *testing.T, callID, event string, within time.Duration) statusPost {
	t.Helper()
	var got statusPost
	testkit.Eventually(t, within, "status callback "+event, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, p := range s.posts {
			if p.Body.CallID == callID && p.Body.Event == event {
				got = p
				return true
			}
		}
		return false
	}, nil)
	if !got.SigOK {
		t.Errorf("status callback %s: bad signature", event)
	}
	return got
}

// attemptsOf are the dial_attempt entries of a call's timeline.
func attemptsOf(evs []CallEvent) []map[string]any {
	var out []map[string]any
	for _, e := range evs {
		if e.Type == "dial_attempt" {
			out = append(out, e.Detail)
		}
	}
	return out
}

// testOutboundProgress: /calls/initiate answers as soon as the call is
// placed, the outcome follows.
//
// placed_then_failover: the number's trunk goes to a carrier answering
// 503 at once, the next trunk's carrier rings 4 s and answers. The request
// answers 200 ringing before that answer; the status callback (https,
// signed with the assistant's webhook secret) gets ringing, then answered
// naming the second trunk, which the record's sip_trunk_id shows too; the
// timeline has both attempts (503 → NORMAL_TEMPORARY_FAILURE, then ANSWER
// after ≈4 s of ringing); the hangup posts completed.
//
// ring_timeout: a trunk with ring_timeout_seconds 5 (above the suite's
// LEG_TIMEOUT of 3 s: the trunk's setting wins) to a carrier that never
// answers is tried first: FreeSWITCH cancels it after 5 s (its timers
// tick once a second: up to 6 s) and the next trunk answers.
func testOutboundProgress(t *testing.T, b *Bridge) {
	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "Progress Caller", asst, nil)
	var sec struct {
		Secret string `json:"secret"`
	}
	b.API.Call(t, "POST", "/api/v1/assistants/"+asstID+"/sms-webhook-secret", nil, http.StatusCreated, &sec)
	sink := startStatusSink(t, sec.Secret)

	refusing := StartSipp(t, SippOptions{Scenario: "uas-answer.xml", Calls: 1, Timeout: 90 * time.Second,
		Data: uasData{Code: 503, Phrase: "Service Unavailable"}})
	ringing := StartSipp(t, SippOptions{Scenario: "uas-answer.xml", Calls: 2, Timeout: 90 * time.Second,
		Data: uasData{Code: 200, RingMs: 4000}})
	silent := StartSipp(t, SippOptions{Scenario: "uas-answer.xml", Calls: 1, Timeout: 90 * time.Second, Data: uasData{Code: 180}})
	tr1 := b.ipTrunk(t, "Progress Refusing", srcProgress1, fmt.Sprintf("%s:%d", refusing.IP, refusing.Port), map[string]any{"priority": 1})
	tr2 := b.ipTrunk(t, "Progress Answering", srcProgress2, fmt.Sprintf("%s:%d", ringing.IP, ringing.Port),
		map[string]any{"priority": 2, "ring_timeout_seconds": 20})
	const from = "+16478496000"
	b.addNumberOn(t, from, asstID, tr1.ID)
	b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)

	type initiated struct {
		Message string `json:"message"`
		CallSID string `json:"call_sid"`
		CallID  string `json:"call_id"`
		Status  string `json:"status"`
	}

	t.Run("placed_then_failover", func(t *testing.T) {
		started := time.Now()
		var res initiated
		b.API.Call(t, "POST", "/api/v1/calls/initiate", map[string]any{"from_phone_number": from, "to_phone_number": "+12125550140",
			"status_callback": sink.URL}, http.StatusOK, &res)
		took := time.Since(started)
		t.Logf("initiate answered in %v: %+v", took.Round(time.Millisecond), res)
		if res.Status != "ringing" || res.CallID == "" || res.CallSID == "" || took > 2*time.Second {
			t.Fatalf("initiate answered %+v after %v: want ringing at once", res, took)
		}
		if rec := b.call(t, res.CallID); rec.Status != "ringing" || rec.AnsweredAt != nil || rec.CallSID != res.CallSID {
			t.Errorf("record right after initiate: %s, want ringing", jsonString(rec))
		}
		if p := sink.of(t, res.CallID, "ringing", 5*time.Second); p.Body.Status != "ringing" {
			t.Errorf("ringing callback %+v", p.Body)
		}
		ans := sink.of(t, res.CallID, "answered", 15*time.Second)
		if d := ans.At.Sub(started); d < 3500*time.Millisecond {
			t.Errorf("answered %v after initiate: the carrier rang 4 s", d)
		}
		if ans.Body.SIPTrunkID != tr2.ID || ans.Body.Status != "in-progress" {
			t.Errorf("answered callback %+v: want sip_trunk_id %s", ans.Body, tr2.ID)
		}
		if n := len(refusing.Received("INVITE ")); n != 1 {
			t.Errorf("the refusing carrier got %d INVITEs, want 1", n)
		}
		rec := b.call(t, res.CallID)
		if rec.TrunkID == nil || *rec.TrunkID != tr2.ID || rec.Status != "in-progress" {
			t.Errorf("record %s: want in-progress on trunk %s", jsonString(rec), tr2.ID)
		}
		tries := attemptsOf(b.callEvents(t, res.CallID))
		t.Logf("attempts: %v", tries)
		if len(tries) != 2 || tries[0]["trunk_id"] != tr1.ID || tries[0]["cause"] != "NORMAL_TEMPORARY_FAILURE" ||
			tries[1]["trunk_id"] != tr2.ID || tries[1]["cause"] != "ANSWER" {
			t.Fatalf("dial attempts %v", tries)
		}
		if tries[0]["leg"] != res.CallSID || rec.CallSID != tries[1]["leg"] {
			t.Errorf("legs %v / %v: want the first leg as initiate's call_sid (%s), the answering one as the record's (%s)",
				tries[0]["leg"], tries[1]["leg"], res.CallSID, rec.CallSID)
		}
		if rs, _ := tries[1]["ring_seconds"].(float64); rs < 3.5 || rs > 8 {
			t.Errorf("the answering trunk rang %v s, want ≈4", rs)
		}
		ac := asst.ByParam(t, "to", "+12125550140", 10*time.Second)
		testkit.Eventually(t, 5*time.Second, "audio at the assistant", func() bool { return ac.Frames() >= 5 }, nil)
		b.API.Call(t, "POST", "/api/v1/calls/"+res.CallID+"/hangup", nil, http.StatusAccepted, nil)
		if p := sink.of(t, res.CallID, "completed", 10*time.Second); p.Body.Cause == "" || p.Body.SIPTrunkID != tr2.ID {
			t.Errorf("completed callback %+v", p.Body)
		}
	})

	t.Run("ring_timeout", func(t *testing.T) {
		tr3 := b.ipTrunk(t, "Progress Silent", srcProgress3, fmt.Sprintf("%s:%d", silent.IP, silent.Port),
			map[string]any{"priority": 0, "ring_timeout_seconds": 5})
		b.API.Call(t, "POST", "/api/v1/sip-trunks/"+tr1.ID+"/disable", nil, http.StatusOK, nil)
		b.WaitApplied(t, tr3.ID, 10*time.Second)
		b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)
		started := time.Now()
		var res initiated
		b.API.Call(t, "POST", "/api/v1/calls/initiate", map[string]any{"from_phone_number": from, "to_phone_number": "+12125550141",
			"status_callback": sink.URL}, http.StatusOK, &res)
		if res.Status != "ringing" || time.Since(started) > 2*time.Second {
			t.Fatalf("initiate %+v after %v", res, time.Since(started))
		}
		ans := sink.of(t, res.CallID, "answered", 25*time.Second)
		if ans.Body.SIPTrunkID != tr2.ID {
			t.Errorf("answered on %s, want %s", ans.Body.SIPTrunkID, tr2.ID)
		}
		testkit.Eventually(t, 5*time.Second, "the CANCEL at the silent carrier", func() bool { return len(silent.Received("CANCEL ")) == 1 }, nil)
		tries := attemptsOf(b.callEvents(t, res.CallID))
		t.Logf("attempts: %v", tries)
		if len(tries) != 2 || tries[0]["trunk_id"] != tr3.ID || tries[0]["cause"] != "ALLOTTED_TIMEOUT" || tries[1]["trunk_id"] != tr2.ID {
			t.Fatalf("dial attempts %v", tries)
		}
		if rs, _ := tries[0]["ring_seconds"].(float64); rs < 4.5 || rs > 6.8 {
			t.Errorf("the silent trunk rang %v s, want its ring_timeout_seconds of 5 (not LEG_TIMEOUT %v)", rs, legTimeout)
		}
		b.API.Call(t, "POST", "/api/v1/calls/"+res.CallID+"/hangup", nil, http.StatusAccepted, nil)
		sink.of(t, res.CallID, "completed", 10*time.Second)
		for _, s := range []*Sipp{refusing, ringing, silent} {
			if code := s.Wait(t, 15*time.Second); code != 0 {
				t.Errorf("carrier %s:%d exited %d (%s): %s", s.IP, s.Port, code, sippExit(code), s.Report())
			}
		}
	})
}
