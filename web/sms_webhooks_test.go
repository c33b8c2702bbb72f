package web_test

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/provider/twilio"
	"github.com/sipbridge/sipbridge/provider/vonage"
)

// assistantEndpoint is an assistant's sms_webhook_url: it answers 503 to
// the first failures requests, then 200, and records every request.
type assistantEndpoint struct {
	srv      *httptest.Server
	mu       sync.Mutex
	failures int
	got      []forwarded
}

type forwarded struct {
	body      []byte
	signature string
	messageID string
}

func newAssistantEndpoint(t *testing.T, failures int) *assistantEndpoint {
	a := &assistantEndpoint{failures: failures}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		a.got = append(a.got, forwarded{body, r.Header.Get("X-Sipbridge-Signature"), r.Header.Get("X-Sipbridge-Message-Id")})
		fail := len(a.got) <= a.failures
		a.mu.Unlock()
		if fail {
			w.WriteHeader(503)
			return
		}
		w.WriteHeader(204)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *assistantEndpoint) requests() []forwarded {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]forwarded(nil), a.got...)
}

// twilioInbound posts a Twilio incoming-message webhook signed with token
// (a wrong token makes a bad signature; "" sends none).
func (e *env) twilioInbound(token, sid, from, to, body string, extra url.Values) resp {
	e.t.Helper()
	form := url.Values{"MessageSid": {sid}, "SmsSid": {sid}, "AccountSid": {e.twilio.AccountSID}, "From": {from}, "To": {to},
		"Body": {body}, "NumMedia": {"0"}, "SmsStatus": {"received"}}
	for k, v := range extra {
		form[k] = v
	}
	h := map[string]string{}
	if token != "" {
		h["X-Twilio-Signature"] = twilio.Signature(token, publicBase+"/webhooks/sms/twilio", form)
	}
	return e.postForm("/webhooks/sms/twilio", form, h)
}

func TestTwilioInboundVerifiedStoredAndForwardedUntil2xx(t *testing.T) {
	e := newEnvWith(t, loopbackPolicy()) // the assistant endpoint listens on 127.0.0.1
	ep := newAssistantEndpoint(t, 2)
	asst := e.smsSender(e.keyA, "+16475550100", ep.srv.URL+"/sms")
	sec := e.mustDo("POST", "/api/v1/assistants/"+asst+"/sms-webhook-secret", e.keyA, nil, 201)
	secret := sec.Body["secret"].(string)
	if len(secret) < 32 || sec.Body["header"] != "X-Sipbridge-Signature" {
		t.Fatalf("secret: %s", sec.Raw)
	}
	tok := e.twilio.AuthToken
	// Bad and missing signatures: 403, nothing stored or forwarded.
	for name, r := range map[string]resp{
		"wrong token":    e.twilioInbound("not-the-token", "SMbad1", "+16475550111", "+16475550100", "hi", nil),
		"no signature":   e.twilioInbound("", "SMbad2", "+16475550111", "+16475550100", "hi", nil),
		"unknown number": e.twilioInbound(tok, "SMbad3", "+16475550111", "+16475550999", "hi", nil),
		"tampered after signing": func() resp {
			form := url.Values{"MessageSid": {"SMbad4"}, "From": {"+16475550111"}, "To": {"+16475550100"}, "Body": {"hi"}, "SmsStatus": {"received"}}
			sig := twilio.Signature(tok, publicBase+"/webhooks/sms/twilio", form)
			form.Set("Body", "hi, changed")
			return e.postForm("/webhooks/sms/twilio", form, map[string]string{"X-Twilio-Signature": sig})
		}(),
	} {
		if r.Status != 403 || r.errCode() != "invalid_signature" {
			t.Errorf("%s: %d %s, want 403", name, r.Status, r.Raw)
		}
	}
	if !strings.Contains(e.logs.String(), "sms webhook rejected") {
		t.Error("rejections are not logged")
	}
	if m := e.mustDo("GET", "/metrics", "", nil, 200).Raw; !strings.Contains(m, `sipbridge_sms_webhooks_rejected_total{provider="twilio"} 4`) {
		t.Error("rejections are not counted in /metrics")
	}
	if convs := e.mustDo("GET", "/api/v1/sms/conversations", e.keyA, nil, 200); convs.Total != 0.0 {
		t.Fatalf("a rejected webhook was stored: %s", convs.Raw)
	}
	// A good one, with media.
	r := e.twilioInbound(tok, "SM100", "+16475550111", "+16475550100", "Can I move it to 4pm?",
		url.Values{"NumMedia": {"1"}, "MediaUrl0": {"https://api.twilio.com/media/ME1"}, "MediaContentType0": {"image/jpeg"}})
	if r.Status != 200 || !strings.Contains(r.Raw, "<Response>") {
		t.Fatalf("good webhook: %d %s", r.Status, r.Raw)
	}
	// Twilio retries webhooks: the same MessageSid is stored and forwarded once.
	if r := e.twilioInbound(tok, "SM100", "+16475550111", "+16475550100", "Can I move it to 4pm?", nil); r.Status != 200 {
		t.Fatalf("redelivery: %d", r.Status)
	}
	startWorkers(t, e.sms.svc.RunForwards)
	eventually(t, "forwarded after two 503s", func() bool { return len(ep.requests()) >= 3 })
	time.Sleep(50 * time.Millisecond) // nothing more may come
	got := ep.requests()
	if len(got) != 3 {
		t.Fatalf("assistant got %d requests, want 3 (503, 503, 204)", len(got))
	}
	for i, g := range got {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(g.body)
		if g.signature != hex.EncodeToString(mac.Sum(nil)) {
			t.Errorf("attempt %d: bad X-Sipbridge-Signature", i)
		}
		if string(g.body) != string(got[0].body) {
			t.Errorf("attempt %d: body differs from the first", i)
		}
	}
	var payload struct {
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
		Data      struct {
			MessageID string   `json:"message_id"`
			From      string   `json:"from"`
			To        string   `json:"to"`
			Body      string   `json:"body"`
			MediaURLs []string `json:"media_urls"`
			Provider  string   `json:"provider"`
		} `json:"data"`
	}
	if err := json.Unmarshal(got[0].body, &payload); err != nil {
		t.Fatal(err)
	}
	d := payload.Data
	if payload.Type != "sms_received" || payload.Timestamp == "" || d.From != "+16475550111" || d.To != "+16475550100" || d.Body != "Can I move it to 4pm?" ||
		len(d.MediaURLs) != 1 || d.Provider != "twilio" || d.MessageID == "" || got[0].messageID != d.MessageID {
		t.Fatalf("payload: %s", got[0].body)
	}
	if m := e.mustDo("GET", "/metrics", "", nil, 200).Raw; !strings.Contains(m, `sipbridge_sms_messages{direction="inbound",provider="twilio",status="received"} 1`) ||
		!strings.Contains(m, `sipbridge_sms_messages{direction="forward",provider="",status="delivered"} 1`) {
		t.Errorf("metrics: %s", m)
	}
	m := e.mustDo("GET", "/api/v1/sms/"+d.MessageID, e.keyA, nil, 200)
	fw := m.Body["forward"].(map[string]any)
	if m.Body["direction"] != "inbound" || m.Body["status"] != "received" || m.Body["provider_message_id"] != "SM100" ||
		fw["status"] != "delivered" || fw["attempts"] != 3.0 {
		t.Fatalf("stored message: %s", m.Raw)
	}
	// The secret never shows again, nor sits in clear in the database or the logs.
	if a := e.mustDo("GET", "/api/v1/assistants/"+asst, e.keyA, nil, 200); strings.Contains(a.Raw, secret) {
		t.Fatal("assistant view shows the secret")
	}
	var stored string
	e.store.DB.Raw("SELECT secret_enc FROM sms_webhook_secrets").Scan(&stored)
	if strings.Contains(stored, secret) || strings.Contains(e.logs.String(), secret) || strings.Contains(e.logs.String(), tok) {
		t.Fatal("secret in clear at rest or in the logs")
	}
	// Rotation replaces it.
	if s2 := e.mustDo("POST", "/api/v1/assistants/"+asst+"/sms-webhook-secret", e.keyA, nil, 201).Body["secret"]; s2 == secret {
		t.Fatal("rotation kept the secret")
	}
	if r := e.do("POST", "/api/v1/assistants/"+asst+"/sms-webhook-secret", e.keyB, nil); r.Status != 404 {
		t.Fatalf("org B rotating A's secret: %d", r.Status)
	}
}

func TestForwardWaitsForASecret(t *testing.T) {
	e := newEnvWith(t, loopbackPolicy()) // the assistant endpoint listens on 127.0.0.1
	ep := newAssistantEndpoint(t, 0)
	asst := e.smsSender(e.keyA, "+16475550100", ep.srv.URL)
	e.mustDo("GET", "/api/v1/organization", e.keyA, nil, 200)
	if r := e.twilioInbound(e.twilio.AuthToken, "SM1", "+16475550111", "+16475550100", "hello", nil); r.Status != 200 {
		t.Fatalf("webhook: %d %s", r.Status, r.Raw)
	}
	startWorkers(t, e.sms.svc.RunForwards)
	time.Sleep(60 * time.Millisecond)
	if n := len(ep.requests()); n != 0 {
		t.Fatalf("forwarded unsigned (%d)", n)
	}
	st := e.mustDo("GET", "/api/v1/sms/queue/stats", e.keyA, nil, 200)
	if st.Body["forwards_pending"] != 1.0 {
		t.Fatalf("stats: %s", st.Raw)
	}
	e.mustDo("POST", "/api/v1/assistants/"+asst+"/sms-webhook-secret", e.keyA, nil, 201)
	eventually(t, "forwarded once a secret exists", func() bool { return len(ep.requests()) == 1 })
}

func TestTwilioStatusCallbackAndOptOut(t *testing.T) {
	e := newEnv(t)
	e.smsSender(e.keyA, "+16475550100", "")
	tok := e.twilio.AuthToken
	r := e.mustDo("POST", "/api/v1/sms/send", e.keyA, sendBody("+16475550100", "+16475550111", "hi", map[string]any{"queue": false}), 200)
	id := r.Body["message_id"].(string)
	sid := e.getSMS(id)["provider_message_id"].(string)
	status := func(st, token string) resp {
		form := url.Values{"MessageSid": {sid}, "MessageStatus": {st}, "SmsStatus": {st}, "From": {"+16475550100"}, "To": {"+16475550111"}}
		if st == "undelivered" {
			form.Set("ErrorCode", "30003")
		}
		return e.postForm("/webhooks/sms/twilio", form, map[string]string{"X-Twilio-Signature": twilio.Signature(token, publicBase+"/webhooks/sms/twilio", form)})
	}
	if r := status("delivered", "wrong"); r.Status != 403 {
		t.Fatalf("unsigned status: %d", r.Status)
	}
	if r := status("delivered", tok); r.Status != 200 || e.getSMS(id)["status"] != "delivered" || e.getSMS(id)["delivered_at"] == nil {
		t.Fatalf("delivered: %d %v", r.Status, e.getSMS(id))
	}
	// Failure of another message carries the code.
	id2 := e.mustDo("POST", "/api/v1/sms/send", e.keyA, sendBody("+16475550100", "+16475550111", "hi2", map[string]any{"queue": false}), 200).Body["message_id"].(string)
	sid = e.getSMS(id2)["provider_message_id"].(string)
	if r := status("undelivered", tok); r.Status != 200 || e.getSMS(id2)["status"] != "failed" || !strings.Contains(e.getSMS(id2)["error"].(string), "30003") {
		t.Fatalf("undelivered: %d %v", r.Status, e.getSMS(id2))
	}

	// Consent: STOP (any case, spaces) opts out of this sender only.
	for _, kw := range []string{" stop ", "Unsubscribe", "CANCEL", "end", "Quit"} {
		cust := "+1647555" + strconv.Itoa(1000+len(kw))
		if r := e.twilioInbound(tok, "SMkw"+kw, cust, "+16475550100", kw, nil); r.Status != 200 {
			t.Fatalf("%q: %d", kw, r.Status)
		}
		r := e.do("POST", "/api/v1/sms/send", e.keyA, sendBody("+16475550100", cust, "promo", nil))
		if r.Status != 409 || r.errCode() != "opted_out" || r.errField() != "to_phone_number" {
			t.Fatalf("send after %q: %d %s", kw, r.Status, r.Raw)
		}
	}
	e.twilioInbound(tok, "SMstop", "+16475550111", "+16475550100", "STOP", nil)
	if r := e.do("POST", "/api/v1/sms/send", e.keyA, sendBody("+16475550100", "+16475550111", "promo", nil)); r.Status != 409 {
		t.Fatalf("opted out: %d", r.Status)
	}
	// "Please stop calling" is not a keyword.
	e.twilioInbound(tok, "SMnotkw", "+16475550112", "+16475550100", "please stop calling", nil)
	e.mustDo("POST", "/api/v1/sms/send", e.keyA, sendBody("+16475550100", "+16475550112", "ok", nil), 200)
	convs := e.mustDo("GET", "/api/v1/sms/conversations", e.keyA, nil, 200)
	var opted map[string]any
	for _, c := range convs.List {
		if c.(map[string]any)["customer_number"] == "+16475550111" {
			opted = c.(map[string]any)
		}
	}
	if opted == nil || opted["opted_out"] != true || opted["message_count"] != 3.0 || opted["assistant_number"] != "+16475550100" {
		t.Fatalf("conversation: %v", opted)
	}
	// START opts back in.
	e.twilioInbound(tok, "SMstart", "+16475550111", "+16475550100", "start", nil)
	e.mustDo("POST", "/api/v1/sms/send", e.keyA, sendBody("+16475550100", "+16475550111", "welcome back", nil), 200)
	// The conversation's messages, in order; another organization sees none of it.
	convID := opted["id"].(string)
	msgs := e.mustDo("GET", "/api/v1/sms/conversations/"+convID+"/messages", e.keyA, nil, 200)
	var bodies []string
	for _, m := range msgs.List {
		bodies = append(bodies, m.(map[string]any)["body"].(string))
	}
	if strings.Join(bodies, "|") != "hi|hi2|STOP|start|welcome back" {
		t.Fatalf("conversation messages: %v", bodies)
	}
	if r := e.do("GET", "/api/v1/sms/conversations/"+convID+"/messages", e.keyB, nil); r.Status != 404 {
		t.Fatalf("org B reading A's conversation: %d", r.Status)
	}
	if r := e.mustDo("GET", "/api/v1/sms/conversations", e.keyB, nil, 200); r.Total != 0.0 {
		t.Fatalf("org B lists A's conversations: %s", r.Raw)
	}
	stats := e.mustDo("GET", "/api/v1/sms/stats", e.keyA, nil, 200).Body
	if stats["delivered"] != 1.0 || stats["failed"] != 1.0 || stats["received"] != 8.0 || stats["sent"] != 1.0 || stats["queued"] != 2.0 {
		t.Fatalf("stats: %v", stats)
	}
}

func TestTelnyxWebhooks(t *testing.T) {
	e := newEnv(t)
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	e.mustDo("PUT", "/api/v1/organization", e.keyA, map[string]any{"telnyx": map[string]any{"api_key": e.telnyx.APIKey,
		"public_key": base64.StdEncoding.EncodeToString(pub)}}, 200)
	asst := e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "T"}, 201).Body["id"].(string)
	e.mustDo("POST", "/api/v1/phone-numbers", e.keyA, map[string]any{"phone_number": "+13125550100", "provider": "telnyx", "assistant_id": asst}, 201)
	post := func(body string, ts time.Time, key ed25519.PrivateKey, tamper bool) resp {
		stamp := strconv.FormatInt(ts.Unix(), 10)
		sig := base64.StdEncoding.EncodeToString(ed25519.Sign(key, []byte(stamp+"|"+body)))
		if tamper {
			body = strings.Replace(body, "hello", "HELLO", 1)
		}
		return e.raw("POST", "/webhooks/sms/telnyx", "application/json", body, map[string]string{"telnyx-signature-ed25519": sig, "telnyx-timestamp": stamp})
	}
	inbound := `{"data":{"event_type":"message.received","id":"ev-1","occurred_at":"2026-12-01T18:00:00Z","payload":{"id":"tx-msg-1","direction":"inbound","type":"SMS",
		"from":{"phone_number":"+14155550111"},"to":[{"phone_number":"+13125550100","status":"webhook_delivered"}],"text":"hello","media":[]}}}`
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	for name, r := range map[string]resp{
		"tampered":      post(inbound, time.Now(), priv, true),
		"stale (6 min)": post(inbound, time.Now().Add(-6*time.Minute), priv, false),
		"another key":   post(inbound, time.Now(), other, false),
		"no headers":    e.raw("POST", "/webhooks/sms/telnyx", "application/json", inbound, nil),
	} {
		if r.Status != 403 {
			t.Errorf("%s: %d %s, want 403", name, r.Status, r.Raw)
		}
	}
	r := post(inbound, time.Now().Add(-4*time.Minute), priv, false)
	if r.Status != 200 || r.Body["status"] != "received" {
		t.Fatalf("good: %d %s", r.Status, r.Raw)
	}
	id := r.Body["message_id"].(string)
	if m := e.getSMS(id); m["body"] != "hello" || m["provider"] != "telnyx" || m["from"] != "+14155550111" {
		t.Fatalf("stored: %v", m)
	}
	// Delivery report of a message we sent through Telnyx.
	sent := e.mustDo("POST", "/api/v1/sms/send", e.keyA, sendBody("+13125550100", "+14155550111", "reply", map[string]any{"queue": false}), 200)
	if sent.Body["status"] != "sent" || sent.Body["provider"] != "telnyx" {
		t.Fatalf("telnyx send: %s", sent.Raw)
	}
	mid := sent.Body["message_id"].(string)
	pid := e.getSMS(mid)["provider_message_id"].(string)
	if tm := e.telnyx.SentMessages(); len(tm) != 1 || tm[0].ID != pid || tm[0].WebhookURL != publicBase+"/webhooks/sms/telnyx" {
		t.Fatalf("telnyx got %+v", tm)
	}
	final := `{"data":{"event_type":"message.finalized","payload":{"id":"` + pid + `","from":{"phone_number":"+13125550100"},"to":[{"phone_number":"+14155550111","status":"delivered"}]}}}`
	if r := post(final, time.Now(), priv, false); r.Status != 200 || e.getSMS(mid)["status"] != "delivered" {
		t.Fatalf("finalized: %d %s %v", r.Status, r.Raw, e.getSMS(mid))
	}
}

func TestVonageWebhooks(t *testing.T) {
	e := newEnv(t)
	const secret = "vonage-signature-secret"
	e.mustDo("PUT", "/api/v1/organization", e.keyA, map[string]any{"vonage": map[string]any{"api_key": e.sms.vonage.APIKey,
		"api_secret": e.sms.vonage.APISecret, "signature_secret": secret}}, 200)
	asst := e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "V"}, 201).Body["id"].(string)
	e.mustDo("POST", "/api/v1/phone-numbers", e.keyA, map[string]any{"phone_number": "+447700900000", "provider": "vonage", "assistant_id": asst}, 201)
	now := time.Now()
	// SMS API inbound by GET, signed with sig (md5hash and sha256).
	signed := func(p url.Values, method string) url.Values {
		p.Set("timestamp", strconv.FormatInt(now.Unix(), 10))
		p.Set("nonce", "n-"+p.Get("messageId"))
		sig, err := vonage.SMSSignature(p, secret, method)
		if err != nil {
			t.Fatal(err)
		}
		p.Set("sig", sig)
		return p
	}
	in := signed(url.Values{"msisdn": {"447700900001"}, "to": {"447700900000"}, "messageId": {"0A0000001"}, "text": {"hi there"}, "type": {"text"}}, vonage.SigMD5Hash)
	if r := e.raw("GET", "/webhooks/sms/vonage?"+in.Encode(), "", "", nil); r.Status != 200 || r.Body["status"] != "received" {
		t.Fatalf("GET sig: %d %s", r.Status, r.Raw)
	}
	in2 := signed(url.Values{"msisdn": {"447700900001"}, "to": {"447700900000"}, "messageId": {"0A0000002"}, "text": {"post"}}, vonage.SigSHA256)
	if r := e.raw("POST", "/webhooks/sms/vonage", "application/x-www-form-urlencoded", in2.Encode(), nil); r.Status != 200 {
		t.Fatalf("POST sig sha256: %d %s", r.Status, r.Raw)
	}
	bad := signed(url.Values{"msisdn": {"447700900001"}, "to": {"447700900000"}, "messageId": {"0A0000003"}, "text": {"x"}}, vonage.SigMD5Hash)
	bad.Set("text", "changed")
	unsigned := url.Values{"msisdn": {"447700900001"}, "to": {"447700900000"}, "messageId": {"0A0000004"}, "text": {"x"}}
	for name, q := range map[string]url.Values{"tampered": bad, "unsigned": unsigned} {
		if r := e.raw("GET", "/webhooks/sms/vonage?"+q.Encode(), "", "", nil); r.Status != 403 {
			t.Errorf("%s: %d", name, r.Status)
		}
	}
	// Messages API inbound with a signed JWT over the body.
	body := `{"channel":"sms","message_uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab","to":"447700900000","from":"447700900001","timestamp":"2026-12-01T18:00:00Z","message_type":"text","text":"jwt hello"}`
	jwt := vonage.SignWebhookJWT(secret, []byte(body), now, nil)
	if r := e.raw("POST", "/webhooks/sms/vonage", "application/json", body, map[string]string{"Authorization": "Bearer " + jwt}); r.Status != 200 {
		t.Fatalf("JWT: %d %s", r.Status, r.Raw)
	}
	if r := e.raw("POST", "/webhooks/sms/vonage", "application/json", strings.Replace(body, "jwt hello", "jwt HELLO", 1),
		map[string]string{"Authorization": "Bearer " + jwt}); r.Status != 403 {
		t.Fatalf("JWT with another body: %d", r.Status)
	}
	if r := e.raw("POST", "/webhooks/sms/vonage", "application/json", body,
		map[string]string{"Authorization": "Bearer " + vonage.SignWebhookJWT("other-secret", []byte(body), now, nil)}); r.Status != 403 {
		t.Fatalf("JWT with another secret: %d", r.Status)
	}
	// Send through the Vonage SMS API, then its signed delivery receipt.
	sent := e.mustDo("POST", "/api/v1/sms/send", e.keyA, sendBody("+447700900000", "+447700900001", "reply", map[string]any{"queue": false}), 200)
	if sent.Body["status"] != "sent" {
		t.Fatalf("vonage send: %s", sent.Raw)
	}
	vm := e.sms.vonage.SentMessages()
	if len(vm) != 1 || vm[0].From != "447700900000" || vm[0].Callback != publicBase+"/webhooks/sms/vonage" {
		t.Fatalf("vonage got %+v", vm)
	}
	dlr := signed(url.Values{"msisdn": {"447700900001"}, "to": {"447700900000"}, "messageId": {vm[0].ID}, "status": {"delivered"}, "err-code": {"0"}}, vonage.SigMD5Hash)
	if r := e.raw("GET", "/webhooks/sms/vonage?"+dlr.Encode(), "", "", nil); r.Status != 200 {
		t.Fatalf("DLR: %d %s", r.Status, r.Raw)
	}
	if m := e.getSMS(sent.Body["message_id"].(string)); m["status"] != "delivered" {
		t.Fatalf("after DLR: %v", m)
	}
	if c := e.mustDo("GET", "/api/v1/sms/conversations", e.keyA, nil, 200); c.Total != 1.0 ||
		c.List[0].(map[string]any)["message_count"] != 4.0 {
		t.Fatalf("conversations: %s", c.Raw)
	}
}

// The signed URL is PUBLIC_BASE_URL + path + query; Twilio's JSON variant
// signs the URL carrying bodySHA256.
func TestTwilioSignedURLIncludesQueryAndJSONVariant(t *testing.T) {
	e := newEnv(t)
	e.smsSender(e.keyA, "+16475550100", "")
	tok := e.twilio.AuthToken
	form := url.Values{"MessageSid": {"SMq1"}, "From": {"+16475550111"}, "To": {"+16475550100"}, "Body": {"q"}, "SmsStatus": {"received"}}
	path := "/webhooks/sms/twilio?foo=1&bar=2"
	withoutQuery := twilio.Signature(tok, publicBase+"/webhooks/sms/twilio", form)
	if r := e.postForm(path, form, map[string]string{"X-Twilio-Signature": withoutQuery}); r.Status != 403 {
		t.Fatalf("signature without the query accepted: %d", r.Status)
	}
	if r := e.postForm(path, form, map[string]string{"X-Twilio-Signature": twilio.Signature(tok, publicBase+path, form)}); r.Status != 200 {
		t.Fatalf("signature with the query: %d %s", r.Status, r.Raw)
	}
	body := `{"MessageSid":"SMj1","From":"+16475550111","To":"+16475550100","Body":"json","SmsStatus":"received"}`
	sum := sha256.Sum256([]byte(body))
	jpath := "/webhooks/sms/twilio?bodySHA256=" + hex.EncodeToString(sum[:])
	sig := twilio.Signature(tok, publicBase+jpath, nil)
	if r := e.raw("POST", jpath, "application/json", body, map[string]string{"X-Twilio-Signature": sig}); r.Status != 200 {
		t.Fatalf("JSON variant: %d %s", r.Status, r.Raw)
	}
	if r := e.raw("POST", jpath, "application/json", strings.Replace(body, "json", "JSON", 1), map[string]string{"X-Twilio-Signature": sig}); r.Status != 403 {
		t.Fatalf("JSON variant with another body: %d", r.Status)
	}
}

func TestMMSThroughEachProvider(t *testing.T) {
	e := newEnv(t)
	e.smsSender(e.keyA, "+16475550100", "")
	img := []string{"https://m.example/a.jpg", "https://m.example/b.png"}
	r := e.mustDo("POST", "/api/v1/sms/send", e.keyA, sendBody("+16475550100", "+16475550111", "two pictures", map[string]any{"media_urls": img, "queue": false}), 200)
	if r.Body["status"] != "sent" {
		t.Fatalf("twilio mms: %s", r.Raw)
	}
	if m := e.twilio.SentMessages(); len(m) != 1 || strings.Join(m[0].MediaURLs, ",") != strings.Join(img, ",") {
		t.Fatalf("twilio got %+v", m)
	}
	if got := e.getSMS(r.Body["message_id"].(string)); len(got["media_urls"].([]any)) != 2 {
		t.Fatalf("stored media: %v", got)
	}
	// Vonage: one image per MMS through the Messages API.
	e.mustDo("PUT", "/api/v1/organization", e.keyA, map[string]any{"vonage": map[string]any{"api_key": e.sms.vonage.APIKey, "api_secret": e.sms.vonage.APISecret}}, 200)
	asst := e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "V"}, 201).Body["id"].(string)
	e.mustDo("POST", "/api/v1/phone-numbers", e.keyA, map[string]any{"phone_number": "+14155550100", "provider": "vonage", "assistant_id": asst}, 201)
	if r := e.do("POST", "/api/v1/sms/send", e.keyA, sendBody("+14155550100", "+14155550111", "two", map[string]any{"media_urls": img})); r.Status != 400 || r.errField() != "media_urls" {
		t.Fatalf("two images on Vonage: %d %s", r.Status, r.Raw)
	}
	r = e.mustDo("POST", "/api/v1/sms/send", e.keyA, sendBody("+14155550100", "+14155550111", "one picture", map[string]any{"media_urls": img[:1], "queue": false}), 200)
	if r.Body["status"] != "sent" || r.Body["provider"] != "vonage" {
		t.Fatalf("vonage mms: %s", r.Raw)
	}
	mms := e.sms.vonage.SentMMS()
	if len(mms) != 1 || mms[0].ImageURL != img[0] || mms[0].Caption != "one picture" || mms[0].From != "14155550100" ||
		mms[0].WebhookURL != publicBase+"/webhooks/sms/vonage" || e.getSMS(r.Body["message_id"].(string))["provider_message_id"] != mms[0].UUID {
		t.Fatalf("vonage got %+v", mms)
	}
}

// Outside text that PostgreSQL would refuse (NUL, invalid UTF-8) is stored
// with U+FFFD instead, never a 500 (the provider would retry forever).
func TestInboundOddBytesStored(t *testing.T) {
	e := newEnv(t)
	e.smsSender(e.keyA, "+16475550100", "")
	r := e.twilioInbound(e.twilio.AuthToken, "SModd", "+16475550111", "+16475550100", "a\x00b\xffc", nil)
	if r.Status != 200 {
		t.Fatalf("odd bytes: %d %s", r.Status, r.Raw)
	}
	c := e.mustDo("GET", "/api/v1/sms/conversations", e.keyA, nil, 200).List[0].(map[string]any)
	msgs := e.mustDo("GET", "/api/v1/sms/conversations/"+c["id"].(string)+"/messages", e.keyA, nil, 200).List
	if body := msgs[0].(map[string]any)["body"]; body != "a\uFFFDb\uFFFDc" {
		t.Fatalf("stored %q", body)
	}
}
