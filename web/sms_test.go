package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/provider/providertest"
)

func sendBody(from, to, msg string, extra map[string]any) map[string]any {
	b := map[string]any{"from_phone_number": from, "to_phone_number": to, "message": msg}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

func (e *env) getSMS(id string) map[string]any {
	e.t.Helper()
	return e.mustDo("GET", "/api/v1/sms/"+id, e.keyA, nil, 200).Body
}

func TestSMSSendQueuedThenSentByWorker(t *testing.T) {
	e := newEnv(t)
	e.smsSender(e.keyA, "+16475550100", "")
	r := e.mustDo("POST", "/api/v1/sms/send", e.keyA, sendBody("+16475550100", "+16475550111", "Your appointment is at 3pm", nil), 200)
	if r.Body["success"] != true || r.Body["status"] != "queued" || r.Body["provider"] != "twilio" || r.Body["segments"] != 1.0 || r.Body["encoding"] != "GSM-7" {
		t.Fatalf("send: %s", r.Raw)
	}
	id := r.Body["message_id"].(string)
	if got := e.getSMS(id); got["status"] != "queued" || got["direction"] != "outbound" {
		t.Fatalf("before the worker: %v", got)
	}
	if n := len(e.twilio.SentMessages()); n != 0 {
		t.Fatalf("queued message sent before the worker ran (%d)", n)
	}
	startWorkers(t, e.sms.svc.RunQueue)
	eventually(t, "sent", func() bool { return e.getSMS(id)["status"] == "sent" })
	sent := e.twilio.SentMessages()
	if len(sent) != 1 || sent[0].Body != "Your appointment is at 3pm" || sent[0].From != "+16475550100" || sent[0].To != "+16475550111" ||
		sent[0].StatusCallback != publicBase+"/webhooks/sms/twilio" {
		t.Fatalf("Twilio got %+v", sent)
	}
	if got := e.getSMS(id); got["provider_message_id"] != sent[0].SID || got["sent_at"] == nil {
		t.Fatalf("after send: %v", got)
	}
	// The alias outside /api/v1 needs the same API key.
	if r := e.do("POST", "/sms/send", "", sendBody("+16475550100", "+16475550111", "x", nil)); r.Status != 401 {
		t.Fatalf("alias without key: %d", r.Status)
	}
	r = e.mustDo("POST", "/sms/send", e.keyA, sendBody("+16475550100", "+16475550111", "Привет", map[string]any{"queue": false}), 200)
	if r.Body["status"] != "sent" || r.Body["encoding"] != "UCS-2" {
		t.Fatalf("alias, queue=false: %s", r.Raw)
	}
}

func TestSMSSendValidation(t *testing.T) {
	e := newEnv(t)
	e.smsSender(e.keyA, "+16475550100", "")
	asst := e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "other"}, 201).Body["id"].(string)
	e.mustDo("POST", "/api/v1/phone-numbers", e.keyA, map[string]any{"phone_number": "+16475550101", "provider": "twilio"}, 201)
	e.mustDo("POST", "/api/v1/phone-numbers", e.keyA, map[string]any{"phone_number": "+16475550102", "provider": "twilio", "assistant_id": asst, "is_active": false}, 201)
	trunk := e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, regTrunk("T"), 201).Body["id"].(string)
	e.mustDo("POST", "/api/v1/phone-numbers", e.keyA, map[string]any{"phone_number": "+16475550103", "provider": "byo-sip-trunk", "assistant_id": asst, "sip_trunk_id": trunk}, 201)
	from, to := "+16475550100", "+16475550111"
	media := func(n int, u string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf(u, i)
		}
		return out
	}
	for _, c := range []struct {
		name   string
		body   map[string]any
		status int
		field  string
		msg    string
	}{
		{"1601 characters", sendBody(from, to, strings.Repeat("a", 1601), nil), 400, "message", "at most 1600"},
		{"empty message", sendBody(from, to, "", nil), 400, "message", ""},
		{"blank message", sendBody(from, to, "   ", nil), 400, "message", ""},
		{"control character", sendBody(from, to, "a\x00b", nil), 400, "message", ""},
		{"11 media URLs", sendBody(from, to, "m", map[string]any{"media_urls": media(11, "https://m.example/%d.jpg")}), 400, "media_urls", "at most 10"},
		{"ftp media URL", sendBody(from, to, "m", map[string]any{"media_urls": []string{"ftp://m.example/a.jpg"}}), 400, "media_urls", "http"},
		{"relative media URL", sendBody(from, to, "m", map[string]any{"media_urls": []string{"/a.jpg"}}), 400, "media_urls", ""},
		{"media_urls not a list", sendBody(from, to, "m", map[string]any{"media_urls": "https://m.example/a.jpg"}), 400, "media_urls", ""},
		{"bad from", sendBody("6475550100", to, "m", nil), 400, "from_phone_number", "E.164"},
		{"bad to", sendBody(from, "+1", "m", nil), 400, "to_phone_number", ""},
		{"unknown field", sendBody(from, to, "m", map[string]any{"mesage": "x"}), 400, "mesage", ""},
		{"queue not a boolean", sendBody(from, to, "m", map[string]any{"queue": "yes"}), 400, "queue", ""},
		{"unknown sender", sendBody("+16475550199", to, "m", nil), 404, "from_phone_number", "No assistant found for phone number +16475550199"},
		{"sender without assistant", sendBody("+16475550101", to, "m", nil), 404, "from_phone_number", "No assistant found for phone number +16475550101"},
		{"inactive sender", sendBody("+16475550102", to, "m", nil), 404, "from_phone_number", "No assistant found"},
		{"byo-sip-trunk sender", sendBody("+16475550103", to, "m", nil), 400, "from_phone_number", "voice only"},
	} {
		r := e.do("POST", "/api/v1/sms/send", e.keyA, c.body)
		if r.Status != c.status || r.errField() != c.field || !strings.Contains(r.Raw, c.msg) {
			t.Errorf("%s: %d %s, want %d field %q containing %q", c.name, r.Status, r.Raw, c.status, c.field, c.msg)
		}
	}
	// Exactly 1600 characters is fine: 1600 GSM-7 septets in 11 parts of 153.
	r := e.mustDo("POST", "/api/v1/sms/send", e.keyA, sendBody(from, to, strings.Repeat("a", 1600), nil), 200)
	if r.Body["segments"] != 11.0 || r.Body["encoding"] != "GSM-7" {
		t.Fatalf("1600: %s", r.Raw)
	}
	// 1600 characters counted as characters, not bytes.
	r = e.mustDo("POST", "/api/v1/sms/send", e.keyA, sendBody(from, to, strings.Repeat("ж", 1600), nil), 200)
	if r.Body["segments"] != 24.0 || r.Body["encoding"] != "UCS-2" {
		t.Fatalf("1600 UCS-2: %s", r.Raw)
	}
	for _, c := range []struct {
		text string
		segs float64
		enc  string
	}{
		{strings.Repeat("a", 160), 1, "GSM-7"}, {strings.Repeat("a", 161), 2, "GSM-7"},
		{strings.Repeat("€", 80), 1, "GSM-7"}, {strings.Repeat("€", 81), 2, "GSM-7"},
		{strings.Repeat("ж", 70), 1, "UCS-2"}, {strings.Repeat("ж", 71), 2, "UCS-2"},
	} {
		r := e.mustDo("POST", "/api/v1/sms/send", e.keyA, sendBody(from, to, c.text, nil), 200)
		if r.Body["segments"] != c.segs || r.Body["encoding"] != c.enc {
			t.Errorf("%d×%q: %v %v, want %v %s", len([]rune(c.text)), []rune(c.text)[0], r.Body["segments"], r.Body["encoding"], c.segs, c.enc)
		}
	}
	// Ten http(s) media URLs are accepted.
	e.mustDo("POST", "/api/v1/sms/send", e.keyA, sendBody(from, to, "pics", map[string]any{"media_urls": media(10, "http://m.example/%d.jpg")}), 200)
	// Another organization cannot send from A's number.
	if r := e.do("POST", "/api/v1/sms/send", e.keyB, sendBody(from, to, "m", nil)); r.Status != 404 || r.errField() != "from_phone_number" {
		t.Fatalf("org B sending from A's number: %d %s", r.Status, r.Raw)
	}
	if n := len(e.twilio.SentMessages()); n != 0 {
		t.Fatalf("%d messages reached Twilio without a worker", n)
	}
}

func TestSMSIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	e.smsSender(e.keyA, "+16475550100", "")
	post := func(body map[string]any, header string) resp {
		raw, _ := json.Marshal(body)
		h := map[string]string{"Authorization": "Bearer " + e.keyA}
		if header != "" {
			h["Idempotency-Key"] = header
		}
		return e.raw("POST", "/api/v1/sms/send", "application/json", string(raw), h)
	}
	first := post(sendBody("+16475550100", "+16475550111", "once", map[string]any{"queue": false, "idempotency_key": "body-key"}), "hdr-key")
	if first.Status != 200 || first.Body["status"] != "sent" {
		t.Fatalf("first: %s", first.Raw)
	}
	id := first.Body["message_id"]
	// The header won: the same header key replays, whatever the body says.
	again := post(sendBody("+16475550100", "+16475550111", "once", map[string]any{"queue": false, "idempotency_key": "other"}), "hdr-key")
	if again.Status != 200 || again.Body["message_id"] != id || again.Body["status"] != "sent" {
		t.Fatalf("replay: %s", again.Raw)
	}
	// The body key was not used: it sends a new message.
	third := post(sendBody("+16475550100", "+16475550111", "once", map[string]any{"queue": false, "idempotency_key": "body-key"}), "")
	if third.Body["message_id"] == id {
		t.Fatal("the body key was used although a header was sent")
	}
	if n := len(e.twilio.SentMessages()); n != 2 {
		t.Fatalf("Twilio got %d messages, want 2", n)
	}
	// Keys are per organization.
	e.smsSender(e.keyB, "+16475550200", "")
	b := e.do("POST", "/api/v1/sms/send", e.keyB, sendBody("+16475550200", "+16475550111", "theirs", map[string]any{"idempotency_key": "body-key"}))
	if b.Status != 200 || b.Body["message_id"] == third.Body["message_id"] {
		t.Fatalf("org B with A's key: %s", b.Raw)
	}
}

// The worker is stopped in the middle of a batch and a new one takes over:
// every message reaches the provider exactly once.
func TestSMSQueueStopMidBatchRestartSendsEachOnce(t *testing.T) {
	e := newEnv(t)
	e.smsSender(e.keyA, "+16475550100", "")
	const n = 10
	ids := map[string]string{}
	for i := 0; i < n; i++ {
		body := fmt.Sprintf("message %d", i)
		ids[body] = e.mustDo("POST", "/api/v1/sms/send", e.keyA, sendBody("+16475550100", "+16475550111", body, nil), 200).Body["message_id"].(string)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sent := 0
	e.twilio.SetOnSend(func(providertest.TwilioMessage) {
		if sent++; sent == 3 { // the third of a batch of 4
			cancel()
		}
	})
	done := make(chan struct{})
	go func() { e.sms.svc.RunQueue(ctx); close(done) }()
	<-done
	e.twilio.SetOnSend(nil)
	first := len(e.twilio.SentMessages())
	if first != 3 {
		t.Fatalf("the stopped worker sent %d messages, want 3", first)
	}
	st := e.mustDo("GET", "/api/v1/sms/queue/stats", e.keyA, nil, 200)
	if st.Body["sending"] != 0.0 || st.Body["queued"] != float64(n-first) || st.Body["due"] != float64(n-first) {
		t.Fatalf("after the stop (leases must be released): %s", st.Raw)
	}
	startWorkers(t, e.sms.svc.RunQueue)
	eventually(t, "all sent", func() bool {
		// sending == 0 too: the provider may have the last message while its
		// sent mark is still being written.
		st := e.mustDo("GET", "/api/v1/sms/queue/stats", e.keyA, nil, 200).Body
		return len(e.twilio.SentMessages()) >= n && st["queued"] == 0.0 && st["sending"] == 0.0
	})
	seen := map[string]int{}
	for _, m := range e.twilio.SentMessages() {
		seen[m.Body]++
	}
	for body, id := range ids {
		got := e.getSMS(id)
		if seen[body] != 1 || got["status"] != "sent" || got["provider_message_id"] == "" {
			t.Errorf("%s: sent %d times, status %v", body, seen[body], got["status"])
		}
	}
	if len(e.twilio.SentMessages()) != n {
		t.Fatalf("%d sends for %d messages", len(e.twilio.SentMessages()), n)
	}
}

func TestSMSRetriesThenFails(t *testing.T) {
	e := newEnv(t)
	e.smsSender(e.keyA, "+16475550100", "")
	e.twilio.FailNextSends(providertest.FakeError{Status: 429, Code: 20429, Message: "Too Many Requests"},
		providertest.FakeError{Status: 503, Code: 20503, Message: "Service Unavailable"})
	retried := e.mustDo("POST", "/api/v1/sms/send", e.keyA, sendBody("+16475550100", "+16475550111", "eventually", nil), 200).Body["message_id"].(string)
	stop := startWorkers(t, e.sms.svc.RunQueue)
	eventually(t, "sent after retries", func() bool { return e.getSMS(retried)["status"] == "sent" })
	if got := e.getSMS(retried); got["attempts"] != 3.0 || got["error"] != "" {
		t.Fatalf("after two retries: %v", got)
	}
	// A permanent error fails at once with Twilio's message.
	e.twilio.FailNextSends(providertest.FakeError{Status: 400, Code: 21610, Message: "Attempt to send to unsubscribed recipient"})
	perm := e.mustDo("POST", "/api/v1/sms/send", e.keyA, sendBody("+16475550100", "+16475550111", "nope", nil), 200).Body["message_id"].(string)
	eventually(t, "failed", func() bool { return e.getSMS(perm)["status"] == "failed" })
	if got := e.getSMS(perm); got["attempts"] != 1.0 || !strings.Contains(got["error"].(string), "Attempt to send to unsubscribed recipient") {
		t.Fatalf("permanent: %v", got)
	}
	// Always 5xx: given up after MaxAttempts (4 in this fixture).
	stop()
	down := providertest.FakeError{Status: 500, Code: 20500, Message: "Internal Server Error"}
	e.twilio.FailNextSends(down, down, down, down)
	gaveUp := e.mustDo("POST", "/api/v1/sms/send", e.keyA, sendBody("+16475550100", "+16475550111", "down", nil), 200).Body["message_id"].(string)
	startWorkers(t, e.sms.svc.RunQueue)
	eventually(t, "given up", func() bool { return e.getSMS(gaveUp)["status"] == "failed" })
	if got := e.getSMS(gaveUp); got["attempts"] != 4.0 || !strings.Contains(got["error"].(string), "gave up after 4 attempts") {
		t.Fatalf("given up: %v", got)
	}
	// queue=false with a permanent error answers failed with the reason.
	e.twilio.FailNextSends(providertest.FakeError{Status: 400, Code: 21211, Message: "The 'To' number is not a valid phone number."})
	r := e.mustDo("POST", "/api/v1/sms/send", e.keyA, sendBody("+16475550100", "+16475550111", "sync", map[string]any{"queue": false}), 200)
	if r.Body["success"] != false || r.Body["status"] != "failed" || !strings.Contains(r.Body["message"].(string), "not a valid phone number") {
		t.Fatalf("sync failure: %s", r.Raw)
	}
	stats := e.mustDo("GET", "/api/v1/sms/stats", e.keyA, nil, 200)
	if stats.Body["sent"] != 1.0 || stats.Body["failed"] != 3.0 || stats.Body["by_provider"].(map[string]any)["twilio"].(map[string]any)["failed"] != 3.0 {
		t.Fatalf("stats: %s", stats.Raw)
	}
}

func TestSMSCancel(t *testing.T) {
	e := newEnv(t)
	e.smsSender(e.keyA, "+16475550100", "")
	id := e.mustDo("POST", "/api/v1/sms/send", e.keyA, sendBody("+16475550100", "+16475550111", "never", nil), 200).Body["message_id"].(string)
	if r := e.do("DELETE", "/api/v1/sms/"+id, e.keyB, nil); r.Status != 404 {
		t.Fatalf("org B cancelling: %d", r.Status)
	}
	if r := e.mustDo("DELETE", "/api/v1/sms/"+id, e.keyA, nil, 200); r.Body["status"] != "cancelled" {
		t.Fatalf("cancel: %s", r.Raw)
	}
	other := e.mustDo("POST", "/api/v1/sms/send", e.keyA, sendBody("+16475550100", "+16475550111", "sent", nil), 200).Body["message_id"].(string)
	startWorkers(t, e.sms.svc.RunQueue)
	eventually(t, "the other sent", func() bool { return e.getSMS(other)["status"] == "sent" })
	if sent := e.twilio.SentMessages(); len(sent) != 1 || sent[0].Body != "sent" {
		t.Fatalf("a cancelled message was sent: %+v", sent)
	}
	if r := e.do("DELETE", "/api/v1/sms/"+other, e.keyA, nil); r.Status != 409 || !strings.Contains(r.Raw, "sent") {
		t.Fatalf("cancelling a sent message: %d %s", r.Status, r.Raw)
	}
	if r := e.do("GET", "/api/v1/sms/"+id, e.keyB, nil); r.Status != 404 {
		t.Fatalf("org B reading: %d", r.Status)
	}
}

// Several workers (replicas) share the queue: each message is sent once.
func TestSMSConcurrentWorkersSendEachOnce(t *testing.T) {
	e := newEnv(t)
	e.smsSender(e.keyA, "+16475550100", "")
	const n = 24
	for i := 0; i < n; i++ {
		e.mustDo("POST", "/api/v1/sms/send", e.keyA, sendBody("+16475550100", "+16475550111", fmt.Sprintf("m%d", i), nil), 200)
	}
	for i := 0; i < 3; i++ {
		startWorkers(t, e.sms.svc.RunQueue)
	}
	eventually(t, "all sent", func() bool {
		return e.mustDo("GET", "/api/v1/sms/stats", e.keyA, nil, 200).Body["sent"] == float64(n)
	})
	seen := map[string]int{}
	for _, m := range e.twilio.SentMessages() {
		seen[m.Body]++
	}
	if len(seen) != n || len(e.twilio.SentMessages()) != n {
		t.Fatalf("%d sends of %d distinct messages, want %d", len(e.twilio.SentMessages()), len(seen), n)
	}
}

// Concurrent requests with one idempotency key make one message.
func TestSMSIdempotencyKeyConcurrent(t *testing.T) {
	e := newEnv(t)
	e.smsSender(e.keyA, "+16475550100", "")
	ids := make(chan any, 8)
	raw, _ := json.Marshal(sendBody("+16475550100", "+16475550111", "once", map[string]any{"idempotency_key": "race", "queue": false}))
	for i := 0; i < 8; i++ {
		go func() { // no t.Fatal off the test goroutine: failures arrive as nil ids
			req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/sms/send", bytes.NewReader(raw))
			req.Header.Set("Authorization", "Bearer "+e.keyA)
			var body map[string]any
			if res, err := http.DefaultClient.Do(req); err == nil {
				json.NewDecoder(res.Body).Decode(&body)
				res.Body.Close()
			}
			ids <- body["message_id"]
		}()
	}
	first := <-ids
	for i := 1; i < 8; i++ {
		if id := <-ids; id != first || id == nil {
			t.Fatalf("two answers for one key: %v %v", first, id)
		}
	}
	if n := len(e.twilio.SentMessages()); n != 1 {
		t.Fatalf("Twilio got %d messages for one key", n)
	}
}

// A customer who texts STOP while a message to them waits in the queue is
// not texted: consent is checked again when the worker sends.
func TestSMSOptOutWhileQueued(t *testing.T) {
	e := newEnv(t)
	e.smsSender(e.keyA, "+16475550100", "")
	id := e.mustDo("POST", "/api/v1/sms/send", e.keyA, sendBody("+16475550100", "+16475550111", "Your code is 1234", nil), 200).Body["message_id"].(string)
	if r := e.twilioInbound(e.twilio.AuthToken, "SMstopq", "+16475550111", "+16475550100", "STOP", nil); r.Status != 200 {
		t.Fatalf("STOP: %d %s", r.Status, r.Raw)
	}
	startWorkers(t, e.sms.svc.RunQueue)
	eventually(t, "failed", func() bool { return e.getSMS(id)["status"] == "failed" })
	if got := e.getSMS(id); !strings.Contains(got["error"].(string), "opted out") {
		t.Fatalf("message %v", got)
	}
	if n := len(e.twilio.SentMessages()); n != 0 {
		t.Fatalf("%d message(s) sent to a customer who opted out", n)
	}
}

// A STOP the provider delivers again after the customer's START does not
// opt them out again: consent follows the customer's last word, once.
func TestSMSRedeliveredStopAfterStart(t *testing.T) {
	e := newEnv(t)
	e.smsSender(e.keyA, "+16475550100", "")
	tok := e.twilio.AuthToken
	e.twilioInbound(tok, "SMstop1", "+16475550111", "+16475550100", "STOP", nil)
	e.twilioInbound(tok, "SMstart1", "+16475550111", "+16475550100", "START", nil)
	if r := e.twilioInbound(tok, "SMstop1", "+16475550111", "+16475550100", "STOP", nil); r.Status != 200 {
		t.Fatalf("redelivery: %d %s", r.Status, r.Raw)
	}
	if r := e.do("POST", "/api/v1/sms/send", e.keyA, sendBody("+16475550100", "+16475550111", "welcome back", nil)); r.Status != 200 {
		t.Fatalf("send after START and a redelivered STOP: %d %s", r.Status, r.Raw)
	}
}
