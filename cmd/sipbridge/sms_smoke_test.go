package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/provider/providertest"
)

// TestServeSendsQueuedSMSOnSQLite runs the binary on the embedded SQLite
// with environment-level Twilio credentials pointing at the fake: a queued
// message whose first attempt met a 503 survives a restart of the process
// and is sent by the next one, exactly once.
func TestServeSendsQueuedSMSOnSQLite(t *testing.T) {
	tw := providertest.NewTwilio(t, "AC0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210")
	tw.FailNextSends(providertest.FakeError{Status: 503, Code: 20503, Message: "Service Unavailable"})
	bin := buildBinary(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "SIPBRIDGE_ADDR=" + addr, "TWILIO_API_BASE_URL=" + tw.URL(),
		"TWILIO_ACCOUNT_SID=" + tw.AccountSID, "TWILIO_AUTH_TOKEN=" + tw.AuthToken, "PUBLIC_BASE_URL=https://bridge.example.com",
		"SMS_RATE_LIMITS=twilio=50"}
	out, err := func() ([]byte, error) {
		c := exec.Command(bin, "admin", "create-key", "--org", "acme")
		c.Dir, c.Env = dir, env
		return c.Output()
	}()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	key := lines[len(lines)-1]
	var logs bytes.Buffer
	start := func() (stop func()) {
		srv := exec.Command(bin, "serve")
		srv.Dir, srv.Env, srv.Stderr = dir, env, &logs
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- srv.Wait() }()
		up := testkit.Until(20*time.Second, func() bool {
			res, err := http.Get("http://" + addr + "/healthz")
			if err == nil {
				res.Body.Close()
			}
			return err == nil
		})
		if !up {
			srv.Process.Kill()
			t.Fatalf("server did not come up\n%s", logs.String())
		}
		return func() {
			srv.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("serve: %v\n%s", err, logs.String())
				}
			case <-time.After(15 * time.Second):
				srv.Process.Kill()
				t.Fatal("serve did not stop on SIGTERM")
			}
		}
	}
	call := func(method, path string, body any) (int, map[string]any) {
		b, _ := json.Marshal(body)
		if body == nil {
			b = nil
		}
		req, _ := http.NewRequest(method, "http://"+addr+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	stop := start()
	_, a := call("POST", "/api/v1/assistants", map[string]any{"name": "A"})
	if st, n := call("POST", "/api/v1/phone-numbers", map[string]any{"phone_number": "+16475550100", "provider": "twilio", "assistant_id": a["id"]}); st != 201 {
		t.Fatalf("number: %d %v", st, n)
	}
	// A US recipient: the organization's default country is US, and outbound_countries applies to SMS.
	st, sent := call("POST", "/sms/send", map[string]any{"from_phone_number": "+16475550100", "to_phone_number": "+12125550111", "message": "from the binary"})
	if st != 200 || sent["status"] != "queued" {
		t.Fatalf("send: %d %v", st, sent)
	}
	id := sent["message_id"].(string)
	wait := func(what string, ok func(m map[string]any) bool) map[string]any {
		var m map[string]any
		testkit.Eventually(t, 20*time.Second, what, func() bool {
			_, m = call("GET", "/api/v1/sms/"+id, nil)
			return ok(m)
		}, func() string { return fmt.Sprintf("%v\n%s", m, logs.String()) })
		return m
	}
	// The first attempt meets a 503: back in the queue for 2 s. Stop the
	// process meanwhile; the next one sends the message.
	wait("first attempt", func(m map[string]any) bool { return m["attempts"] == 1.0 && m["status"] == "queued" })
	stop()
	stop = start()
	m := wait("sent after the restart", func(m map[string]any) bool { return m["status"] == "sent" })
	if m["attempts"] != 2.0 {
		t.Fatalf("after one 503 and a restart: %v", m)
	}
	stop()
	if msgs := tw.SentMessages(); len(msgs) != 1 || msgs[0].Body != "from the binary" || msgs[0].StatusCallback != "https://bridge.example.com/webhooks/sms/twilio" {
		t.Fatalf("Twilio got %+v", msgs)
	}
	if strings.Contains(logs.String(), tw.AuthToken) {
		t.Fatal("the auth token is in the logs")
	}
}

func TestLoadConfigSMS(t *testing.T) {
	get := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := LoadConfig(get(map[string]string{"SMS_RATE_LIMITS": "twilio=10, telnyx=2.5", "TELNYX_PUBLIC_KEY": "pk", "VONAGE_SIGNATURE_SECRET": "vs"}))
	if err != nil || c.SMSRates["twilio"] != 10 || c.SMSRates["telnyx"] != 2.5 {
		t.Fatalf("%v %v", c.SMSRates, err)
	}
	envc := c.EnvCredentials()
	if envc.Telnyx == nil || envc.Telnyx.PublicKey != "pk" || envc.Vonage == nil || envc.Vonage.SignatureSecret != "vs" {
		t.Fatalf("env credentials: %+v", envc)
	}
	for _, bad := range []string{"twilio", "twilio=0", "skype=1", "twilio=fast"} {
		if _, err := LoadConfig(get(map[string]string{"SMS_RATE_LIMITS": bad})); err == nil || !strings.Contains(err.Error(), "SMS_RATE_LIMITS") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
