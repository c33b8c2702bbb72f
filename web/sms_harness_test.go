package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/smsdb"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/providertest"
	"github.com/sipbridge/sipbridge/sms"
)

const publicBase = "https://bridge.example.com"

// smsFixture is the SMS service of a test server with a fake Vonage beside
// the harness's Twilio and Telnyx fakes. Its workers run only when a test
// starts them.
type smsFixture struct {
	svc    *sms.Service
	vonage *providertest.Vonage
}

// smsTestOptions makes the SMS service quick for tests: one provider
// attempt per send, fast polling and retries, high send rates.
func smsTestOptions(o *sms.Options) {
	o.ProviderConfig.Retry = provider.RetryPolicy{MaxAttempts: 1}
	o.Rates = map[string]float64{"twilio": 1000, "telnyx": 1000, "vonage": 1000}
	o.Poll = 10 * time.Millisecond
	o.Batch = 4
	o.MaxAttempts = 4
	o.RetryBase = 5 * time.Millisecond
	o.RetryMax = 20 * time.Millisecond
	o.ForwardTimeout = 2 * time.Second
}

// worker runs a service's workers until the returned stop is called (stop
// waits for them).
func startWorkers(t *testing.T, run func(context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// smsSender gives the organization of key Twilio credentials, an assistant
// and an active Twilio number assigned to it; it returns the assistant id.
func (e *env) smsSender(key, number, webhookURL string) string {
	e.t.Helper()
	e.withTwilio(key)
	asst := e.mustDo("POST", "/api/v1/assistants", key, map[string]any{"name": "SMS " + number, "sms_webhook_url": webhookURL}, 201).Body["id"].(string)
	e.mustDo("POST", "/api/v1/phone-numbers", key, map[string]any{"phone_number": number, "provider": "twilio", "assistant_id": asst}, 201)
	return asst
}

// smsMessageFixture stores one queued message of the organization.
func (e *env) smsMessageFixture(org int64) string {
	e.t.Helper()
	now := time.Now().UTC()
	m, _, err := smsdb.New(e.store).EnqueueSMS(context.Background(), &db.SMSMessage{ID: db.NewID(), OrgID: org, Direction: db.SMSOutbound,
		FromNumber: "+16478490001", ToNumber: "+16478490002", Body: "fixture", Provider: "twilio", Status: db.SMSQueued, NextAttemptAt: &now})
	if err != nil {
		e.t.Fatal(err)
	}
	return m.ID
}

// postForm posts a form webhook with headers.
func (e *env) postForm(path string, form url.Values, h map[string]string) resp {
	e.t.Helper()
	return e.raw("POST", path, "application/x-www-form-urlencoded", form.Encode(), h)
}

func (e *env) raw(method, path, ctype, body string, h map[string]string) resp {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{Status: res.StatusCode, Raw: string(raw)}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(raw, &r.Body)
	}
	return r
}
