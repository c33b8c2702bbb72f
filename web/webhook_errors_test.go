package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/db"
)

// leaksInternals reports what an error answer must not carry: Go type
// names, encoding/json's messages, package paths, reflected input.
func leaksInternals(body string) string {
	for _, s := range []string{"json:", "Go value", "Go struct", "unmarshal", "controller.", "provider.", "web.", "main.", "%!", "<script>", "invalid character"} {
		if strings.Contains(body, s) {
			return s
		}
	}
	return ""
}

// The voice and SMS webhooks' error answers (unsigned, malformed) are fixed
// messages, and nothing is recorded.
func TestWebhookErrorsAreFixedMessages(t *testing.T) {
	he := newHostedEnv(t)
	e := newEnv(t)
	form := "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name, method, path, ct, body string
		envSMS                       bool
	}{
		{"telnyx voice: data a string", "POST", "/telnyx-webhook", "application/json", `{"data":"x"}`, false},
		{"telnyx voice: not JSON", "POST", "/telnyx-webhook", "application/json", `{"data":`, false},
		{"telnyx voice: payload wrong type", "POST", "/telnyx-webhook", "application/json", `{"data":{"event_type":"call.initiated","payload":{"call_control_id":5}}}`, false},
		{"vonage answer: uuid a number", "POST", "/vonage-webhook", "application/json", `{"uuid":5,"to":"14155550100"}`, false},
		{"vonage answer: not JSON", "POST", "/vonage-webhook", "application/json", `<script>`, false},
		{"vonage event: an array", "POST", "/vonage-webhook/event", "application/json", `[1,2]`, false},
		{"vonage event: uuid an object", "POST", "/vonage-webhook/event", "application/json", `{"uuid":{},"status":"answered"}`, false},
		{"twiml: reflected CallSid", "POST", "/twiml", form, "CallSid=%3Cscript%3Ealert(1)&AccountSid=%3Cscript%3E&To=%2B14155550100&From=%2B14155550101", false},
		{"twiml: malformed form", "POST", "/twiml", form, "a=%zz", false},
		{"twiml status: JSON", "POST", "/twiml/status", "application/json", `{"CallSid":5}`, false},
		{"sms twilio: nested JSON", "POST", "/webhooks/sms/twilio", "application/json", `{"To":{"x":1}}`, true},
		{"sms twilio: not JSON", "POST", "/webhooks/sms/twilio", "application/json", `{"To":`, true},
		{"sms twilio: unsigned form", "POST", "/webhooks/sms/twilio", form, "To=%3Cscript%3E&From=x&Body=hi&MessageSid=SM1", true},
		{"sms telnyx: data a string", "POST", "/webhooks/sms/telnyx", "application/json", `{"data":"x"}`, true},
		{"sms telnyx: wrong types", "POST", "/webhooks/sms/telnyx", "application/json", `{"data":{"event_type":"message.received","payload":{"to":"+14155550100","text":5}}}`, true},
		{"sms vonage: JSON wrong types", "POST", "/webhooks/sms/vonage", "application/json", `{"msisdn":5,"to":{"a":1}}`, true},
		{"sms vonage: not JSON", "POST", "/webhooks/sms/vonage", "application/json", `[`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := he.env
			if tc.envSMS {
				target = e
			}
			req, _ := http.NewRequest(tc.method, target.srv.URL+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.ct)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var sb strings.Builder
			buf := make([]byte, 4096)
			for {
				n, err := res.Body.Read(buf)
				sb.Write(buf[:n])
				if err != nil {
					break
				}
			}
			body := sb.String()
			if res.StatusCode < 400 || res.StatusCode >= 500 {
				t.Fatalf("status %d: %s", res.StatusCode, body)
			}
			if s := leaksInternals(body); s != "" {
				t.Fatalf("answer carries %q: %s", s, body)
			}
		})
	}
	for _, env := range []*env{he.env, e} {
		for _, org := range []int64{env.orgA, env.orgB} {
			if calls, n, _ := env.store.ListCalls(context.Background(), org, db.CallFilter{}, db.Page{Limit: 10}); n != 0 {
				t.Fatalf("malformed webhooks recorded calls: %+v", calls)
			}
		}
	}
	for _, key := range []string{e.keyA, e.keyB} {
		if n := e.mustDo("GET", "/api/v1/sms/conversations", key, nil, 200).Total; n != 0 {
			t.Fatalf("malformed webhooks recorded %v conversations", n)
		}
	}
}
