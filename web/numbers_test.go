package web_test

import (
	"strings"
	"testing"
)

// withTwilio gives organization key's org the fake account's credentials.
func (e *env) withTwilio(key string) {
	e.t.Helper()
	e.mustDo("PUT", "/api/v1/organization", key, map[string]any{"twilio": map[string]any{"account_sid": e.twilio.AccountSID, "auth_token": e.twilio.AuthToken}}, 200)
}

func TestPurchaseTwilioConfiguresWebhooks(t *testing.T) {
	e := newEnv(t)
	e.withTwilio(e.keyA)
	asst := e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "A"}, 201).Body["id"].(string)

	found := e.mustDo("POST", "/api/v1/phone-numbers/search", e.keyA, map[string]any{"provider": "twilio", "area_code": "647", "limit": 2}, 200)
	items := found.List
	if len(items) == 0 || !strings.HasPrefix(items[0].(map[string]any)["phone_number"].(string), "+1647") {
		t.Fatalf("search: %s", found.Raw)
	}
	r := e.mustDo("POST", "/api/v1/phone-numbers/purchase", e.keyA, map[string]any{
		"phone_number": "+16475550100", "provider": "twilio", "assistant_id": asst, "friendly_name": "Sales"}, 200)
	if r.Body["success"] != true || r.Body["provider"] != "twilio" {
		t.Fatalf("purchase: %s", r.Raw)
	}
	form := e.twilio.LastForm("/IncomingPhoneNumbers.json")
	if form.Get("PhoneNumber") != "+16475550100" || form.Get("VoiceUrl") != "https://bridge.example.com/twiml" ||
		form.Get("SmsUrl") != "https://bridge.example.com/webhooks/sms/twilio" || form.Get("FriendlyName") != "Sales" {
		t.Fatalf("Twilio got %v", form)
	}
	num := r.Body["number"].(map[string]any)
	if num["assistant_id"] != asst || num["country_code"] != "CA" {
		t.Fatalf("record: %v", num)
	}
	// Webhooks as Twilio has them.
	wh := e.mustDo("GET", "/api/v1/phone-numbers/%2B16475550100/webhooks", e.keyA, nil, 200)
	if wh.Body["webhooks"].(map[string]any)["voice_url"] != "https://bridge.example.com/twiml" {
		t.Fatalf("webhooks: %s", wh.Raw)
	}
	upd := e.mustDo("PUT", "/api/v1/phone-numbers/webhooks", e.keyA, map[string]any{"phone_number": "+16475550100", "voice_webhook_url": "https://other.example.com/voice"}, 200)
	if upd.Body["webhooks"].(map[string]any)["voice_url"] != "https://other.example.com/voice" || e.twilio.Owned()[0].VoiceURL != "https://other.example.com/voice" {
		t.Fatalf("webhook update: %s", upd.Raw)
	}
	// disable_sms removes the SMS webhook at Twilio and marks the number; enable_sms restores it.
	off := e.mustDo("PUT", "/api/v1/phone-numbers/webhooks", e.keyA, map[string]any{"phone_number": "+16475550100", "disable_sms": true}, 200)
	if off.Body["sms_enabled"] != false || e.twilio.Owned()[0].SMSURL != "" || e.twilio.Owned()[0].VoiceURL != "https://other.example.com/voice" {
		t.Fatalf("disable_sms: %s / %+v", off.Raw, e.twilio.Owned()[0])
	}
	on := e.mustDo("PUT", "/api/v1/phone-numbers/webhooks", e.keyA, map[string]any{"phone_number": "+16475550100", "enable_sms": true}, 200)
	if on.Body["sms_enabled"] != true || e.twilio.Owned()[0].SMSURL != "https://bridge.example.com/webhooks/sms/twilio" {
		t.Fatalf("enable_sms: %s", on.Raw)
	}
	// The same number cannot be bought or registered by another organization.
	e.withTwilio(e.keyB)
	for _, body := range []map[string]any{
		{"phone_number": "+16475550100", "provider": "twilio"},
		{"phone_number": "+16475550100", "provider": "byo-sip-trunk"},
	} {
		if r := e.do("POST", "/api/v1/phone-numbers/purchase", e.keyB, body); r.Status != 409 || r.errField() != "phone_number" {
			t.Fatalf("org B buying org A's number: %d %s", r.Status, r.Raw)
		}
	}
	if r := e.do("POST", "/api/v1/phone-numbers", e.keyB, map[string]any{"phone_number": "+16475550100", "provider": "twilio"}); r.Status != 409 {
		t.Fatalf("org B registering org A's number: %d", r.Status)
	}
	if r := e.do("POST", "/api/v1/phone-numbers/release", e.keyB, map[string]any{"phone_number": "+16475550100"}); r.Status != 404 {
		t.Fatalf("org B releasing org A's number: %d %s", r.Status, r.Raw)
	}
	if n := e.twilio.Count("POST", "/IncomingPhoneNumbers.json"); n != 1 {
		t.Fatalf("Twilio was asked to buy %d times", n)
	}
	// Release: gone at Twilio and in the API.
	e.mustDo("POST", "/api/v1/phone-numbers/release", e.keyA, map[string]any{"phone_number": "+16475550100"}, 200)
	if len(e.twilio.Owned()) != 0 {
		t.Fatal("still owned at Twilio")
	}
	if total := e.mustDo("GET", "/api/v1/phone-numbers", e.keyA, nil, 200).Total; total != 0 {
		t.Fatal("record survived release")
	}
}

func TestPurchaseFailuresLeaveNothing(t *testing.T) {
	e := newEnv(t)
	e.twilio.Unavailable["+16475550111"] = true
	// No credentials at all: 424 with the reason.
	if r := e.do("POST", "/api/v1/phone-numbers/purchase", e.keyA, map[string]any{"phone_number": "+16475550111", "provider": "twilio"}); r.Status != 424 {
		t.Fatalf("no credentials: %d %s", r.Status, r.Raw)
	}
	// Wrong credentials: 424 carrying Twilio's message.
	e.mustDo("PUT", "/api/v1/organization", e.keyA, map[string]any{"twilio": map[string]any{"account_sid": e.twilio.AccountSID, "auth_token": "wrong"}}, 200)
	if r := e.do("POST", "/api/v1/phone-numbers/purchase", e.keyA, map[string]any{"phone_number": "+16475550112", "provider": "twilio"}); r.Status != 424 || !strings.Contains(r.Raw, "Authenticate") {
		t.Fatalf("bad credentials: %d %s", r.Status, r.Raw)
	}
	e.withTwilio(e.keyA)
	if r := e.do("POST", "/api/v1/phone-numbers/purchase", e.keyA, map[string]any{"phone_number": "+16475550111", "provider": "twilio"}); r.Status != 409 || !strings.Contains(r.Raw, "not available") {
		t.Fatalf("unavailable: %d %s", r.Status, r.Raw)
	}
	for _, c := range []struct {
		body  map[string]any
		code  int
		field string
	}{
		{map[string]any{"phone_number": "+16475550113", "provider": "skype"}, 400, "provider"},
		{map[string]any{"phone_number": "647555", "provider": "twilio"}, 400, "phone_number"},
		{map[string]any{"phone_number": "+16475550113", "provider": "twilio", "assistant_id": "nope"}, 404, "assistant_id"},
		{map[string]any{"phone_number": "+16475550113", "provider": "byo-sip-trunk"}, 400, "sip_trunk_id"},
		{map[string]any{"phone_number": "+16475550113", "provider": "byo-sip-trunk", "sip_trunk_id": "nope"}, 404, "sip_trunk_id"},
	} {
		r := e.do("POST", "/api/v1/phone-numbers/purchase", e.keyA, c.body)
		if r.Status != c.code || r.errField() != c.field {
			t.Errorf("%v: %d %s, want %d %s", c.body, r.Status, r.Raw, c.code, c.field)
		}
	}
	if strings.Contains(e.do("POST", "/api/v1/phone-numbers/purchase", e.keyA, map[string]any{"phone_number": "+16475550113", "provider": "skype"}).Raw, "twilio, telnyx, vonage, byo-sip-trunk") == false {
		t.Error("unknown provider error does not list the valid ones")
	}
	if total := e.mustDo("GET", "/api/v1/phone-numbers", e.keyA, nil, 200).Total; total != 0 {
		t.Fatalf("failed purchases left %v records", total)
	}
	if len(e.twilio.Owned()) != 0 {
		t.Fatal("failed purchases left numbers at Twilio")
	}
}

func TestBYOSIPRegistrationAndSync(t *testing.T) {
	e := newEnv(t)
	low := e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, map[string]any{"name": "Low", "gateway": "sip.example.com", "username": "u", "password": "p", "priority": 5}, 201).Body["id"].(string)
	high := e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, map[string]any{"name": "High", "gateway": "sip.example.com", "username": "u", "password": "p", "priority": 0}, 201).Body["id"].(string)
	r := e.mustDo("POST", "/api/v1/phone-numbers/purchase", e.keyA, map[string]any{"phone_number": "+442079460018", "provider": "byo-sip-trunk"}, 200)
	if r.Body["number"].(map[string]any)["sip_trunk_id"] != high || r.Body["number"].(map[string]any)["country_code"] != "GB" {
		t.Fatalf("byo default trunk: %s", r.Raw)
	}
	r = e.mustDo("POST", "/api/v1/phone-numbers/purchase", e.keyA, map[string]any{"phone_number": "+442079460019", "provider": "byo-sip-trunk", "sip_trunk_id": low}, 200)
	if r.Body["number"].(map[string]any)["sip_trunk_id"] != low {
		t.Fatalf("byo given trunk: %s", r.Raw)
	}
	// Sync imports what the organization owns at Twilio, once.
	e.withTwilio(e.keyA)
	e.mustDo("POST", "/api/v1/phone-numbers/purchase", e.keyA, map[string]any{"phone_number": "+16475550120", "provider": "twilio"}, 200)
	e.mustDo("POST", "/api/v1/phone-numbers/release", e.keyA, map[string]any{"phone_number": "+16475550120"}, 200)
	e.twilio.Numbers = append(e.twilio.Numbers, providertestNumber("PN1", "+16475550121"), providertestNumber("PN2", "+16475550122"))
	if got := e.mustDo("POST", "/api/v1/phone-numbers/sync", e.keyA, nil, 200).Body["synced_count"].(float64); got != 2 {
		t.Fatalf("synced %v", got)
	}
	if got := e.mustDo("POST", "/api/v1/phone-numbers/sync", e.keyA, nil, 200).Body["synced_count"].(float64); got != 0 {
		t.Fatalf("second sync imported %v", got)
	}
	if total := e.mustDo("GET", "/api/v1/phone-numbers?provider=twilio", e.keyA, nil, 200).Total; total != 2 {
		t.Fatalf("twilio numbers after sync: %v", total)
	}
}

func TestBYOCNumbers(t *testing.T) {
	e := newEnv(t)
	in := e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "In"}, 201).Body["id"].(string)
	r := e.mustDo("POST", "/api/v1/byoc/phone-numbers", e.keyA, map[string]any{
		"phoneNumber": "+16478491000", "terminationUri": "sip:pbx.example.com:5080;transport=tcp", "inboundAgentId": in,
		"sipUsername": "byocuser", "sipPassword": "byoc-secret", "friendlyName": "Front desk"}, 201)
	trunk := r.Body["trunk"].(map[string]any)
	if trunk["gateway"] != "pbx.example.com:5080" || trunk["transport"] != "tcp" || trunk["register"] != false || r.Body["sipPasswordSet"] != true ||
		strings.Contains(r.Raw, "byoc-secret") || r.Body["terminationUri"] != "sip:pbx.example.com:5080;transport=tcp" {
		t.Fatalf("byoc: %s", r.Raw)
	}
	for _, c := range []struct {
		body  map[string]any
		code  int
		field string
	}{
		{map[string]any{"phoneNumber": "+16478491000", "terminationUri": "sip:pbx.example.com"}, 409, "phoneNumber"},
		{map[string]any{"phoneNumber": "+16478491001", "terminationUri": "sip:pbx.example.com;transport=carrier-pigeon"}, 400, "terminationUri"},
		{map[string]any{"phoneNumber": "+16478491001", "terminationUri": "sip:pbx.example.com\r\nX: y"}, 400, "terminationUri"},
		{map[string]any{"phoneNumber": "+16478491001"}, 400, "terminationUri"},
		{map[string]any{"phoneNumber": "+16478491001", "terminationUri": "sip:pbx.example.com", "inboundAgentId": "nope"}, 404, "inboundAgentId"},
	} {
		if got := e.do("POST", "/api/v1/byoc/phone-numbers", e.keyA, c.body); got.Status != c.code || got.errField() != c.field {
			t.Errorf("%v: %d %s", c.body, got.Status, got.Raw)
		}
	}
	u := e.mustDo("PUT", "/api/v1/byoc/phone-numbers/+16478491000", e.keyA, map[string]any{"terminationUri": "sip:pbx2.example.com", "inboundAgentId": ""}, 200)
	if u.Body["trunk"].(map[string]any)["gateway"] != "pbx2.example.com" || u.Body["inboundAgentId"] != nil || u.Body["sipPasswordSet"] != true {
		t.Fatalf("byoc update: %s", u.Raw)
	}
	ref := e.mustDo("POST", "/api/v1/byoc/trunks/refresh", e.keyA, map[string]any{"phoneNumber": "+16478491000"}, 202)
	if gws := ref.Body["gateways"].([]any); len(gws) != 1 || gws[0] != trunk["gateway_name"] {
		t.Fatalf("refresh: %s", ref.Raw)
	}
	if gws := e.mustDo("POST", "/api/v1/byoc/trunks/refresh-all", e.keyB, nil, 202).Body["gateways"].([]any); len(gws) != 0 {
		t.Fatalf("org B refreshed org A's gateways: %v", gws)
	}
	e.mustDo("PUT", "/api/v1/byoc/phone-numbers/+16478491000", e.keyB, map[string]any{"friendlyName": "x"}, 404)
	e.mustDo("DELETE", "/api/v1/byoc/phone-numbers/+16478491000", e.keyB, nil, 404)
	e.mustDo("DELETE", "/api/v1/byoc/phone-numbers/%2B16478491000", e.keyA, nil, 204)
	if n := e.mustDo("GET", "/api/v1/sip-trunks", e.keyA, nil, 200).Total; n != 0 {
		t.Fatal("BYOC trunk survived its number")
	}
}

func TestAssistantResolvedProvider(t *testing.T) {
	e := newEnv(t)
	id := e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "A"}, 201).Body["id"].(string)
	get := func() any {
		return e.mustDo("GET", "/api/v1/assistants/"+id, e.keyA, nil, 200).Body["resolved_provider"]
	}
	if rp := get(); rp != nil {
		t.Fatalf("nothing configured, got %v", rp)
	}
	e.withTwilio(e.keyA)
	if rp := get().(map[string]any); rp["provider"] != "twilio" || rp["level"] != "organization" {
		t.Fatalf("org twilio: %v", rp)
	}
	// Telnyx before Twilio at the same level.
	e.mustDo("PUT", "/api/v1/organization", e.keyA, map[string]any{"telnyx": map[string]any{"api_key": "KEY123", "connection_id": "c1"}}, 200)
	if rp := get().(map[string]any); rp["provider"] != "telnyx" || rp["level"] != "organization" {
		t.Fatalf("org telnyx+twilio: %v", rp)
	}
	// The assistant's own credentials win over the organization's.
	e.mustDo("PUT", "/api/v1/assistants/"+id, e.keyA, map[string]any{"twilio_config": map[string]any{"account_sid": "ACx", "auth_token": "t"}}, 200)
	if rp := get().(map[string]any); rp["provider"] != "twilio" || rp["level"] != "assistant" {
		t.Fatalf("assistant twilio: %v", rp)
	}
}

// TestPurchaseTelnyxUsesOrganizationConnection: the order carries the
// organization's connection and messaging profile, so calls and messages reach us.
func TestPurchaseTelnyxUsesOrganizationConnection(t *testing.T) {
	e := newEnv(t)
	e.mustDo("PUT", "/api/v1/organization", e.keyA, map[string]any{"telnyx": map[string]any{
		"api_key": "wrong-key", "connection_id": "conn-9", "messaging_profile_id": "mp-9"}}, 200)
	if r := e.do("POST", "/api/v1/phone-numbers/purchase", e.keyA, map[string]any{"phone_number": "+13125550100", "provider": "telnyx"}); r.Status != 424 || !strings.Contains(r.Raw, "invalid") {
		t.Fatalf("bad key: %d %s", r.Status, r.Raw)
	}
	e.mustDo("PUT", "/api/v1/organization", e.keyA, map[string]any{"telnyx": map[string]any{"api_key": e.telnyx.APIKey}}, 200)
	r := e.mustDo("POST", "/api/v1/phone-numbers/purchase", e.keyA, map[string]any{"phone_number": "+13125550100", "provider": "telnyx", "friendly_name": "Chicago"}, 200)
	order := e.telnyx.LastOrder()
	if order["connection_id"] != "conn-9" || order["messaging_profile_id"] != "mp-9" {
		t.Fatalf("order sent %v", order)
	}
	d := r.Body["purchase_details"].(map[string]any)
	if d["order_id"] == nil || d["connection_id"] != "conn-9" {
		t.Fatalf("purchase_details %v", d)
	}
	// A failed order leaves nothing.
	e.telnyx.Unavailable["+13125550101"] = true
	if r := e.do("POST", "/api/v1/phone-numbers/purchase", e.keyA, map[string]any{"phone_number": "+13125550101", "provider": "telnyx"}); r.Status != 409 {
		t.Fatalf("unavailable: %d %s", r.Status, r.Raw)
	}
	if total := e.mustDo("GET", "/api/v1/phone-numbers", e.keyA, nil, 200).Total; total != 1 {
		t.Fatalf("records: %v", total)
	}
	e.mustDo("POST", "/api/v1/phone-numbers/release", e.keyA, map[string]any{"phone_number": "+13125550100", "provider": "telnyx"}, 200)
	if len(e.telnyx.Numbers) != 0 {
		t.Fatalf("still owned at Telnyx: %v", e.telnyx.Numbers)
	}
}
