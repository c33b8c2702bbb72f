package web_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sipbridge/sipbridge/app"
	"github.com/sipbridge/sipbridge/audio"
	"github.com/sipbridge/sipbridge/call/hosted"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/internal/tone"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/providertest"
	"github.com/sipbridge/sipbridge/provider/twilio"
	"gorm.io/gorm"
)

// hostedEnv is the hosted-provider voice path end to end: PostgreSQL, the
// Twilio and Telnyx API fakes, the HTTP server on a real port that is also
// PUBLIC_BASE_URL (so the stream URLs in TwiML, answer actions and NCCOs
// point back at it), call control for /calls/initiate, and the test
// assistant of calls_harness_test.go.
type hostedEnv struct {
	*env
	hosted       *hosted.Path
	asst         *testAssistant
	assistant    *db.Assistant
	base         string
	telnyxPriv   ed25519.PrivateKey
	vonageSecret string
	twilioNum    *db.PhoneNumber
	telnyxNum    *db.PhoneNumber
	vonageNum    *db.PhoneNumber
	vonage       *providertest.VonageVoice
}

var (
	vonageKeyOnce sync.Once
	vonageKeyPEM  string
)

// vonageAppKey is an RSA key in PKCS#8 PEM, as the Vonage dashboard hands
// out (generated once per test binary).
func vonageAppKey(t *testing.T) string {
	vonageKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		der, _ := x509.MarshalPKCS8PrivateKey(k)
		vonageKeyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	})
	return vonageKeyPEM
}

const (
	twilioNumber = "+16475550100"
	telnyxNumber = "+16475550200"
	vonageNumber = "+16475550300"
	callerNumber = "+14165550199"
)

func newHostedEnv(t *testing.T, opts ...func(*hosted.Options)) *hostedEnv {
	t.Helper()
	return newHostedEnvOn(t, dbtest.Postgres(t), opts...)
}

// newHostedEnvOn is newHostedEnv on a database of choice.
func newHostedEnvOn(t *testing.T, g *gorm.DB, opts ...func(*hosted.Options)) *hostedEnv {
	t.Helper()
	logs := &testkit.LogBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store := db.NewStore(g, dbtest.Keyring(t), log)
	tw := providertest.NewTwilio(t, "AC0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210")
	tx := providertest.NewTelnyx(t, "KEYtelnyx0123456789")
	vg := providertest.NewVonageVoice(t)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	// The fake assistant listens on 127.0.0.1: loopback allowed.
	bridge := newApp(t, app.Config{Store: store, Log: log, PublicBaseURL: base, AddressPolicy: loopbackPolicy(),
		Provider: provider.Config{TwilioBaseURL: tw.URL(), TelnyxBaseURL: tx.URL(), VonageAPIBaseURL: vg.URL()},
		HostedOptions: func(ho *hosted.Options) {
			ho.AssistantConnectTimeout, ho.HangupGrace = time.Second, 2*time.Second
			for _, o := range opts {
				o(ho)
			}
		},
	})
	hosted, s := bridge.Hosted, bridge.Web
	srv := httptest.NewUnstartedServer(s.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() {
		bridge.Close()
		srv.Close()
	})

	ctx := context.Background()
	e := &env{t: t, srv: srv, web: s, store: store, logs: logs, bodies: &testkit.LogBuffer{}, twilio: tw, telnyx: tx}
	a, _ := e.addOrgs()

	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	he := &hostedEnv{env: e, hosted: hosted, asst: newTestAssistant(t), base: base, telnyxPriv: priv, vonageSecret: "vonage-signature-secret", vonage: vg}
	a.Settings.TwilioAccountSID = tw.AccountSID
	a.Settings.TelnyxConnectionID = "conn-1"
	a.Settings.TelnyxPublicKey = base64.StdEncoding.EncodeToString(pub)
	a.Settings.VonageApplicationID = "app-1"
	a.Settings.CallLimits.OutboundCountries = []string{"*"}
	if err := store.UpdateOrg(ctx, a, db.OrgSecrets{TwilioAuthToken: tw.AuthToken, TelnyxAPIKey: tx.APIKey,
		VonageSignatureSecret: he.vonageSecret, VonagePrivateKey: vonageAppKey(t)}); err != nil {
		t.Fatal(err)
	}
	he.assistant = &db.Assistant{OrgID: a.ID, Name: "Receptionist", StreamURL: he.asst.URL(), WelcomeMessage: "Hello from Acme"}
	if err := store.SaveAssistant(ctx, he.assistant, db.AssistantSecrets{}); err != nil {
		t.Fatal(err)
	}
	add := func(number, prov string) *db.PhoneNumber {
		n := &db.PhoneNumber{OrgID: a.ID, PhoneNumber: number, Provider: prov, CountryCode: "CA", CapVoice: true, IsActive: true,
			AssistantID: &he.assistant.ID}
		if err := store.SaveNumber(ctx, n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	he.twilioNum = add(twilioNumber, db.ProviderTwilio)
	he.telnyxNum = add(telnyxNumber, db.ProviderTelnyx)
	he.vonageNum = add(vonageNumber, db.ProviderVonage)
	return he
}

// post sends a raw request and returns status, body.
func (he *hostedEnv) post(method, path, contentType string, body []byte, header http.Header) (int, string) {
	he.t.Helper()
	req, _ := http.NewRequest(method, he.srv.URL+path, strings.NewReader(string(body)))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		he.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(raw)
}

// twilioVoice posts Twilio's voice webhook signed with token.
func (he *hostedEnv) twilioVoice(form url.Values, token string) (int, string) {
	sig := twilio.Signature(token, he.base+"/twiml", form)
	return he.post(http.MethodPost, "/twiml", "application/x-www-form-urlencoded", []byte(form.Encode()),
		http.Header{"X-Twilio-Signature": {sig}})
}

func twilioInboundForm(callSID string) url.Values {
	return url.Values{"CallSid": {callSID}, "AccountSid": {"AC0123456789abcdef0123456789abcdef"}, "From": {callerNumber},
		"To": {twilioNumber}, "Direction": {"inbound"}, "CallStatus": {"ringing"}, "ApiVersion": {"2010-04-01"}}
}

// telnyxWebhook posts a Call Control event signed at ts (Unix seconds).
func (he *hostedEnv) telnyxWebhook(body []byte, ts int64, tamper bool) (int, string) {
	tsStr := strconv.FormatInt(ts, 10)
	sig := ed25519.Sign(he.telnyxPriv, append([]byte(tsStr+"|"), body...))
	if tamper {
		body = append(append([]byte(nil), body...), ' ')
	}
	return he.post(http.MethodPost, "/telnyx-webhook", "application/json", body, http.Header{
		"Telnyx-Signature-Ed25519": {base64.StdEncoding.EncodeToString(sig)}, "Telnyx-Timestamp": {tsStr}})
}

func telnyxEvent(eventType, ccid, direction, from, to, clientState string, extra map[string]any) []byte {
	payload := map[string]any{"call_control_id": ccid, "connection_id": "conn-1", "call_leg_id": "leg-" + ccid,
		"call_session_id": "sess-" + ccid, "direction": direction, "from": from, "to": to, "state": "parked"}
	if clientState != "" {
		payload["client_state"] = clientState
	}
	for k, v := range extra {
		payload[k] = v
	}
	b, _ := json.Marshal(map[string]any{"data": map[string]any{"event_type": eventType, "id": "ev-" + eventType,
		"occurred_at": time.Now().UTC().Format(time.RFC3339Nano), "record_type": "event", "payload": payload}, "meta": map[string]any{"attempt": 1}})
	return b
}

func (he *hostedEnv) eventTypes(callID string) []string {
	evs, _ := he.store.CallEvents(context.Background(), he.orgA, callID)
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// providerWS is a websocket client playing a provider's media stream.
type providerWS struct {
	t    *testing.T
	ws   *websocket.Conn
	msgs chan wsMsg
}

type wsMsg struct {
	binary bool
	data   []byte
	err    error
}

func dialProvider(t *testing.T, u string) *providerWS {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	p := &providerWS{t: t, ws: ws, msgs: make(chan wsMsg, 4096)}
	go func() {
		for {
			mt, data, err := ws.ReadMessage()
			p.msgs <- wsMsg{binary: mt == websocket.BinaryMessage, data: data, err: err}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { ws.Close() })
	return p
}

func (p *providerWS) sendJSON(v any) {
	p.t.Helper()
	if err := p.ws.WriteJSON(v); err != nil {
		p.t.Fatal(err)
	}
}

// next returns the next message whose JSON event is one of events (binary
// messages match "binary").
func (p *providerWS) next(within time.Duration, events ...string) (string, map[string]any, []byte) {
	p.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case m := <-p.msgs:
			if m.err != nil {
				p.t.Fatalf("provider websocket closed while waiting for %v: %v", events, m.err)
			}
			if m.binary {
				for _, e := range events {
					if e == "binary" {
						return "binary", nil, m.data
					}
				}
				continue
			}
			var top map[string]any
			_ = json.Unmarshal(m.data, &top)
			ev, _ := top["event"].(string)
			for _, e := range events {
				if e == ev {
					return ev, top, m.data
				}
			}
		case <-deadline:
			p.t.Fatalf("no %v from sipbridge within %v", events, within)
		}
	}
}

// mulawTone returns n 20 ms frames of a tone as μ-law 8 kHz.
func mulawTone(freq float64, frames int) [][]byte {
	pcm := tone.Generate(freq, 8000, 20*frames, 8000)
	ulaw := make([]byte, len(pcm))
	audio.MulawEncode(ulaw, pcm)
	var out [][]byte
	for i := 0; i+160 <= len(ulaw); i += 160 {
		out = append(out, ulaw[i:i+160])
	}
	return out
}

// heardFrequency estimates the tone in μ-law 8 kHz frames, skipping the
// first ones (resampler warm-up).
func heardFrequency(frames [][]byte, skip int) float64 {
	var pcm []int16
	for i, f := range frames {
		if i < skip {
			continue
		}
		pcm = audio.AppendMulawDecode(pcm, f)
	}
	return tone.EstimateFrequency(pcm, 8000)
}

// speakTone sends a tone from the assistant as 20 ms μ-law media messages
// (testAssistant.speak's amplitude is too low to measure a frequency).
func speakTone(c *assistantConn, freq float64, frames int) {
	for _, f := range mulawTone(freq, frames) {
		_ = c.send(map[string]any{"event": "media", "streamSid": "MZ1", "media": map[string]any{"payload": base64.StdEncoding.EncodeToString(f)}})
	}
}

func waitMedia(c *assistantConn, n int, within time.Duration) bool {
	return waitUntil(within, func() bool { return c.mediaCount() >= n })
}
