package web_test

import (
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/db"
)

func TestAuthRequiredOnEveryAPIRoute(t *testing.T) {
	e := newEnv(t)
	revoked := e.mustDo("POST", "/api/v1/api-keys", e.keyA, map[string]any{"name": "tmp"}, 201)
	revKey := revoked.Body["key"].(string)
	e.mustDo("DELETE", "/api/v1/api-keys/"+revoked.Body["id"].(string), e.keyA, nil, 204)

	routes := 0
	for _, r := range e.web.Echo().Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1/") {
			continue
		}
		routes++
		path := strings.ReplaceAll(r.Path, ":id", "00000000-0000-0000-0000-000000000000")
		for name, key := range map[string]string{"no key": "", "unknown key": "sb_" + strings.Repeat("x", 32), "malformed key": "hello", "revoked key": revKey} {
			res := e.do(r.Method, path, key, "{}")
			if res.Status != http.StatusUnauthorized || res.errCode() != "unauthorized" {
				t.Errorf("%s %s with %s: status %d %s, want 401 unauthorized", r.Method, r.Path, name, res.Status, res.Raw)
			}
		}
	}
	if routes < 20 {
		t.Fatalf("only %d API routes registered", routes)
	}
	// A good key works and records its last use.
	e.mustDo("GET", "/api/v1/organization", e.keyA, nil, 200)
	keys := e.mustDo("GET", "/api/v1/api-keys", e.keyA, nil, 200)
	var sawUsed bool
	for _, k := range keys.List {
		km := k.(map[string]any)
		if _, has := km["key"]; has {
			t.Fatal("key list exposes a key")
		}
		if km["last_used_at"] != nil && km["revoked_at"] == nil {
			sawUsed = true
		}
	}
	if !sawUsed {
		t.Fatal("last_used_at not recorded")
	}
}

func TestOrganizationSecretsWriteOnly(t *testing.T) {
	e := newEnv(t)
	r := e.mustDo("PUT", "/api/v1/organization", e.keyA, map[string]any{
		"default_country":  "gb",
		"twilio":           map[string]any{"account_sid": "AC123", "auth_token": "tw-secret-token"},
		"telnyx":           map[string]any{"api_key": "KEYtelnyxsecret", "connection_id": "conn-1"},
		"vonage":           map[string]any{"api_key": "vk", "api_secret": "vonage-secret", "private_key": "-----BEGIN PRIVATE KEY-----\nMIIsecret\n-----END PRIVATE KEY-----\n"},
		"sip_gateway":      "pbx.example.com",
		"sip_password":     "sip-secret-pw",
		"sip_trunk_config": map[string]any{"sip_domain": "pbx.example.com", "auth_plan": map[string]any{"type": "credentials", "username": "u", "password": "sip-secret-pw"}},
	}, 200)
	// auth_plan.password alone changes the same (one) trunk password.
	e.mustDo("PUT", "/api/v1/organization", e.keyA, map[string]any{"sip_trunk_config": map[string]any{"auth_plan": map[string]any{"password": "plan-secret"}}}, 200)
	if r.Body["default_country"] != "GB" {
		t.Fatalf("default_country %v", r.Body["default_country"])
	}
	tw := r.Body["twilio"].(map[string]any)
	if tw["auth_token_set"] != true || tw["account_sid"] != "AC123" {
		t.Fatalf("twilio view %v", tw)
	}
	if r.Body["sip_password_set"] != true || r.Body["vonage"].(map[string]any)["private_key_set"] != true {
		t.Fatalf("secret flags missing: %s", r.Raw)
	}
	got := e.mustDo("GET", "/api/v1/organization", e.keyA, nil, 200)
	for _, secret := range []string{"tw-secret-token", "KEYtelnyxsecret", "vonage-secret", "MIIsecret", "sip-secret-pw", "plan-secret"} {
		if strings.Contains(got.Raw, secret) || strings.Contains(r.Raw, secret) {
			t.Fatalf("response contains secret %q", secret)
		}
	}
	// Sending "" clears a secret; other fields stay.
	r = e.mustDo("PUT", "/api/v1/organization", e.keyA, map[string]any{"twilio": map[string]any{"auth_token": ""}}, 200)
	if r.Body["twilio"].(map[string]any)["auth_token_set"] != false || r.Body["sip_password_set"] != true {
		t.Fatalf("clear: %s", r.Raw)
	}
	// Other organization unaffected.
	b := e.mustDo("GET", "/api/v1/organization", e.keyB, nil, 200)
	if b.Body["sip_password_set"] != false || b.Body["name"] != "org-b" {
		t.Fatalf("org B changed: %s", b.Raw)
	}
}

func TestOrganizationValidation(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		body  any
		field string
	}{
		{map[string]any{"default_country": "XX"}, "default_country"},
		{map[string]any{"default_country": "USA"}, "default_country"},
		{map[string]any{"name": " "}, "name"},
		{map[string]any{"name": 5}, "name"},
		{map[string]any{"twilio": map[string]any{"account_sid": "AC\r\n1"}}, "twilio.account_sid"},
		{map[string]any{"sip_gateway": "bad host!"}, "sip_gateway"},
		{map[string]any{"sip_trunk_config": map[string]any{"auth_plan": map[string]any{"type": "magic"}}}, "sip_trunk_config.auth_plan.type"},
		{map[string]any{"vonage": map[string]any{"private_key": "not a key"}}, "vonage.private_key"},
		{map[string]any{"bogus": 1}, "bogus"},
		{`{"name": "x"`, ""},
		{`[]`, ""},
	}
	before := e.mustDo("GET", "/api/v1/organization", e.keyA, nil, 200).Raw
	for _, c := range cases {
		r := e.do("PUT", "/api/v1/organization", e.keyA, c.body)
		if r.Status != 400 || r.errField() != c.field || r.errCode() != "validation_failed" {
			t.Errorf("PUT organization %v: %d %s, want 400 field %q", c.body, r.Status, r.Raw, c.field)
		}
	}
	if after := e.mustDo("GET", "/api/v1/organization", e.keyA, nil, 200).Raw; after != before {
		t.Fatal("a rejected request changed the organization")
	}
}

func TestAssistantsCRUD(t *testing.T) {
	e := newEnv(t)
	r := e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{
		"name": "Receptionist", "stream_url": "wss://ai.example.com/stream", "sms_webhook_url": "https://ai.example.com/sms",
		"twilio_config":            map[string]any{"account_sid": "ACx", "auth_token": "assist-secret"},
		"fallback_transfer_number": "+14165550100", "recording_enabled": true, "welcome_message": "Hi!", "metadata": map[string]any{"team": "front"},
	}, 201)
	id := r.Body["id"].(string)
	if r.Body["twilio_config"].(map[string]any)["auth_token_set"] != true || strings.Contains(r.Raw, "assist-secret") {
		t.Fatalf("assistant view: %s", r.Raw)
	}
	e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "Another"}, 201)
	list := e.mustDo("GET", "/api/v1/assistants?limit=1", e.keyA, nil, 200)
	if list.Total != 2 || len(list.List) != 1 || !strings.Contains(list.Header.Get("Link"), `rel="next"`) {
		t.Fatalf("list: %s", list.Raw)
	}
	u := e.mustDo("PUT", "/api/v1/assistants/"+id, e.keyA, map[string]any{"welcome_message": "Hello"}, 200)
	if u.Body["welcome_message"] != "Hello" || u.Body["stream_url"] != "wss://ai.example.com/stream" || u.Body["recording_enabled"] != true {
		t.Fatalf("partial update lost fields: %s", u.Raw)
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"stream_url": "http://ai.example.com"}, "stream_url"},
		{map[string]any{"stream_url": "wss://"}, "stream_url"},
		{map[string]any{"sms_webhook_url": "ftp://x.example.com"}, "sms_webhook_url"},
		{map[string]any{"fallback_transfer_number": "12345"}, "fallback_transfer_number"},
		{map[string]any{"fallback_transfer_number": "sip:nohost"}, "fallback_transfer_number"},
		{map[string]any{"name": ""}, "name"},
		{map[string]any{"recording_enabled": "yes"}, "recording_enabled"},
		{map[string]any{"metadata": []any{1}}, "metadata"},
	} {
		r := e.do("PUT", "/api/v1/assistants/"+id, e.keyA, c.body)
		if r.Status != 400 || r.errField() != c.field {
			t.Errorf("PUT assistant %v: %d %s, want field %s", c.body, r.Status, r.Raw, c.field)
		}
	}
	if r := e.do("POST", "/api/v1/assistants", e.keyA, map[string]any{"stream_url": "wss://x.example.com"}); r.Status != 400 || r.errField() != "name" {
		t.Fatalf("create without name: %s", r.Raw)
	}
	e.mustDo("DELETE", "/api/v1/assistants/"+id, e.keyA, nil, 204)
	e.mustDo("GET", "/api/v1/assistants/"+id, e.keyA, nil, 404)
	e.mustDo("DELETE", "/api/v1/assistants/"+id, e.keyA, nil, 404)
}

// audio_format: mulaw_8k unless set, l16_16k kept across a partial
// update and a read on both databases, anything else a 400 naming the
// field (and nothing changed).
func TestAssistantAudioFormat(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r := e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "Default"}, 201)
		if r.Body["audio_format"] != "mulaw_8k" {
			t.Errorf("default audio_format %v, want mulaw_8k", r.Body["audio_format"])
		}
		r = e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "Wideband", "audio_format": "l16_16k"}, 201)
		id := r.Body["id"].(string)
		e.mustDo("PUT", "/api/v1/assistants/"+id, e.keyA, map[string]any{"welcome_message": "Hi"}, 200)
		if g := e.mustDo("GET", "/api/v1/assistants/"+id, e.keyA, nil, 200); g.Body["audio_format"] != "l16_16k" {
			t.Fatalf("audio_format after a partial update: %s", g.Raw)
		}
		for _, bad := range []any{"L16_16K", "opus", "", 16000} {
			if r := e.do("PUT", "/api/v1/assistants/"+id, e.keyA, map[string]any{"audio_format": bad}); r.Status != 400 || r.errField() != "audio_format" {
				t.Errorf("audio_format %v: %d %s, want 400 naming audio_format", bad, r.Status, r.Raw)
			}
		}
		u := e.mustDo("PUT", "/api/v1/assistants/"+id, e.keyA, map[string]any{"audio_format": "mulaw_8k"}, 200)
		if u.Body["audio_format"] != "mulaw_8k" || e.mustDo("GET", "/api/v1/assistants/"+id, e.keyA, nil, 200).Body["audio_format"] != "mulaw_8k" {
			t.Fatalf("back to mulaw_8k: %s", u.Raw)
		}
	})
}

func TestTrunksCRUDAndOrdering(t *testing.T) {
	e := newEnv(t)
	zm := e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, regTrunk("Zadarma Main"), 201)
	if zm.Body["gateway_name"] != fmt.Sprintf("o%d_zadarma_main", e.orgA) {
		t.Fatalf("gateway_name %v", zm.Body["gateway_name"])
	}
	if zm.Body["password_set"] != true || strings.Contains(zm.Raw, "pw-Zadarma-Main") || zm.Body["priority"].(float64) != 1 ||
		zm.Body["enabled"] != true || zm.Body["register"] != true || zm.Body["transport"] != "udp" || zm.Body["srtp"] != "off" {
		t.Fatalf("defaults: %s", zm.Raw)
	}
	if zm.Body["sync_status"].(map[string]any)["state"] != "pending" {
		t.Fatalf("sync_status: %s", zm.Raw)
	}
	ip := e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, map[string]any{
		"name": "Carrier IP", "gateway": "203.0.113.10:5060", "register": false, "priority": 0,
		"allowed_addresses": []string{"203.0.113.10", "198.51.100.0/24", "198.51.100.0/24"},
	}, 201)
	if got := ip.Body["allowed_addresses"]; !reflect.DeepEqual(got, []any{"203.0.113.10/32", "198.51.100.0/24"}) {
		t.Fatalf("allowed_addresses normalized to %v", got)
	}
	e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, regTrunk("Backup"), 201)
	// Same name (case-insensitive) → 409 naming the field.
	if r := e.do("POST", "/api/v1/sip-trunks", e.keyA, regTrunk("zadarma main")); r.Status != 409 || r.errField() != "name" {
		t.Fatalf("duplicate name: %d %s", r.Status, r.Raw)
	}
	// Another organization may use the same name; gateway names stay distinct.
	other := e.mustDo("POST", "/api/v1/sip-trunks", e.keyB, regTrunk("Zadarma Main"), 201)
	if other.Body["gateway_name"] == zm.Body["gateway_name"] {
		t.Fatal("two organizations share a gateway name")
	}
	list := e.mustDo("GET", "/api/v1/sip-trunks", e.keyA, nil, 200)
	var names []string
	for _, it := range list.List {
		names = append(names, it.(map[string]any)["name"].(string))
	}
	if !reflect.DeepEqual(names, []string{"Carrier IP", "Backup", "Zadarma Main"}) {
		t.Fatalf("order %v", names)
	}
	id := zm.Body["id"].(string)
	u := e.mustDo("PUT", "/api/v1/sip-trunks/"+id, e.keyA, map[string]any{"priority": 5, "expire_seconds": 120}, 200)
	if u.Body["priority"].(float64) != 5 || u.Body["username"] != "user1" || u.Body["password_set"] != true || u.Body["expire_seconds"].(float64) != 120 {
		t.Fatalf("partial update: %s", u.Raw)
	}
	// Renaming renames the gateway.
	u = e.mustDo("PUT", "/api/v1/sip-trunks/"+id, e.keyA, map[string]any{"name": "Zadarma EU"}, 200)
	if u.Body["gateway_name"] != fmt.Sprintf("o%d_zadarma_eu", e.orgA) {
		t.Fatalf("renamed gateway %v", u.Body["gateway_name"])
	}
	d := e.mustDo("POST", "/api/v1/sip-trunks/"+id+"/disable", e.keyA, nil, 200)
	if d.Body["enabled"] != false {
		t.Fatal("disable")
	}
	if e.mustDo("POST", "/api/v1/sip-trunks/"+id+"/enable", e.keyA, nil, 200).Body["enabled"] != true {
		t.Fatal("enable")
	}
	e.mustDo("POST", "/api/v1/sip-trunks/sync", e.keyA, nil, 202)
	e.mustDo("DELETE", "/api/v1/sip-trunks/"+id, e.keyA, nil, 204)
	e.mustDo("GET", "/api/v1/sip-trunks/"+id, e.keyA, nil, 404)
}

func TestTrunkValidationRules(t *testing.T) {
	e := newEnv(t)
	base := func(kv ...any) map[string]any {
		m := regTrunk("T")
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	cases := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"missing name", base("name", nil), "name"},
		{"missing gateway", base("gateway", nil), "gateway"},
		{"bad hostname", base("gateway", "sip_example!.com"), "gateway"},
		{"label too long", base("gateway", strings.Repeat("a", 64)+".com"), "gateway"},
		{"port zero", base("gateway", "sip.example.com:0"), "gateway"},
		{"port too big", base("gateway", "sip.example.com:65536"), "gateway"},
		{"port not a number", base("gateway", "sip.example.com:abc"), "gateway"},
		{"bad ipv4", base("gateway", "300.1.1.1"), "gateway"},
		{"bare ipv6", base("gateway", "2001:db8::1"), "gateway"},
		{"bad proxy", base("proxy", "proxy..example.com"), "proxy"},
		{"bad realm", base("realm", "a b"), "realm"},
		{"bad cidr", base("allowed_addresses", []string{"10.0.0.0/33"}), "allowed_addresses"},
		{"not an address", base("allowed_addresses", []string{"example.com"}), "allowed_addresses"},
		{"ip-auth without addresses", base("register", false), "allowed_addresses"},
		{"register without username", base("username", nil), "username"},
		{"register without password", base("password", nil), "password"},
		{"negative priority", base("priority", -1), "priority"},
		{"bad transport", base("transport", "sctp"), "transport"},
		{"bad srtp", base("srtp", "required"), "srtp"},
		{"srtp not a string", base("srtp", true), "srtp"},
		{"crlf in name", base("name", "Main\r\nX-Evil: 1"), "name"},
		{"lf in username", base("username", "u\nx"), "username"},
		{"control char in password", base("password", "p\x00w"), "password"},
		{"space in password", base("password", "p w"), "password"},
		{"crlf in provider", base("provider", "zadarma\r\n"), "provider"},
		{"bad codec", base("codecs", []string{"PCMU", "<x>"}), "codecs"},
		{"expire too large", base("expire_seconds", 100000), "expire_seconds"},
		{"wrong type", base("priority", "1"), "priority"},
		{"unknown field", base("colour", "red"), "colour"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do("POST", "/api/v1/sip-trunks", e.keyA, c.body)
			if r.Status != 400 || r.errField() != c.field || r.errCode() != "validation_failed" {
				t.Fatalf("status %d %s, want 400 field %q", r.Status, r.Raw, c.field)
			}
			if msg := r.Body["error"].(map[string]any)["message"].(string); msg == "" {
				t.Fatal("empty message")
			}
		})
	}
	// Valid edge cases.
	for _, gw := range []string{"203.0.113.5", "[2001:db8::1]:5061", "sip.example.com:5080", "pbx"} {
		b := base("gateway", gw, "name", "ok "+gw)
		e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, b, 201)
	}
	if n := e.mustDo("GET", "/api/v1/sip-trunks", e.keyA, nil, 200).Total; n != 4 {
		t.Fatalf("rejected requests left records: total %v", n)
	}
}

func TestPhoneNumbers(t *testing.T) {
	e := newEnv(t)
	asst := e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "A"}, 201).Body["id"].(string)
	trunk := e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, regTrunk("T"), 201).Body["id"].(string)
	bAsst := e.mustDo("POST", "/api/v1/assistants", e.keyB, map[string]any{"name": "B"}, 201).Body["id"].(string)

	n := e.mustDo("POST", "/api/v1/phone-numbers", e.keyA, map[string]any{
		"phone_number": "+16478491000", "provider": "byo-sip-trunk", "assistant_id": asst, "sip_trunk_id": trunk,
		"capabilities": map[string]any{"sms": true},
	}, 201)
	if n.Body["country_code"] != "CA" || n.Body["assistant_id"] != asst || n.Body["is_active"] != true {
		t.Fatalf("number: %s", n.Raw)
	}
	id := n.Body["id"].(string)
	// Unique across ALL organizations.
	if r := e.do("POST", "/api/v1/phone-numbers", e.keyB, map[string]any{"phone_number": "+16478491000", "provider": "twilio"}); r.Status != 409 || r.errField() != "phone_number" {
		t.Fatalf("duplicate across orgs: %d %s", r.Status, r.Raw)
	}
	for _, c := range []struct {
		body  map[string]any
		field string
		code  int
	}{
		{map[string]any{"phone_number": "6478491000", "provider": "twilio"}, "phone_number", 400},
		{map[string]any{"phone_number": "+0647849100", "provider": "twilio"}, "phone_number", 400},
		{map[string]any{"phone_number": "+1234567890123456", "provider": "twilio"}, "phone_number", 400},
		{map[string]any{"phone_number": "+1 647 849 1001", "provider": "twilio"}, "phone_number", 400},
		{map[string]any{"phone_number": "+16478491001", "provider": "skype"}, "provider", 400},
		{map[string]any{"phone_number": "+16478491001", "provider": "twilio", "assistant_id": bAsst}, "assistant_id", 404},
		{map[string]any{"phone_number": "+16478491001", "provider": "twilio", "country_code": "ZZ"}, "country_code", 400},
	} {
		r := e.do("POST", "/api/v1/phone-numbers", e.keyA, c.body)
		if r.Status != c.code || r.errField() != c.field {
			t.Errorf("create %v: %d %s, want %d field %s", c.body, r.Status, r.Raw, c.code, c.field)
		}
	}
	// PATCH: null unassigns, "" clears the trunk, absent leaves alone.
	p := e.mustDo("PATCH", "/api/v1/phone-numbers/"+id, e.keyA, map[string]any{"assistant_id": nil, "friendly_name": "Main line"}, 200)
	if p.Body["assistant_id"] != nil || p.Body["sip_trunk_id"] != trunk || p.Body["friendly_name"] != "Main line" {
		t.Fatalf("patch null: %s", p.Raw)
	}
	p = e.mustDo("PATCH", "/api/v1/phone-numbers/"+id, e.keyA, map[string]any{"sip_trunk_id": "", "outbound_assistant_id": asst}, 200)
	if p.Body["sip_trunk_id"] != nil || p.Body["outbound_assistant_id"] != asst {
		t.Fatalf("patch clear trunk: %s", p.Raw)
	}
	if r := e.do("PATCH", "/api/v1/phone-numbers/"+id, e.keyA, map[string]any{"phone_number": "+16478491001"}); r.Status != 400 || r.errField() != "phone_number" {
		t.Fatalf("number change: %s", r.Raw)
	}
	// Filters.
	e.mustDo("POST", "/api/v1/phone-numbers", e.keyA, map[string]any{"phone_number": "+442079460018", "provider": "twilio", "is_active": false}, 201)
	for q, want := range map[string]int{"": 2, "?provider=twilio": 1, "?is_active=false": 1, "?q=647": 1, "?assistant_id=" + asst: 1} {
		if got := e.mustDo("GET", "/api/v1/phone-numbers"+q, e.keyA, nil, 200).Total; got != want {
			t.Errorf("filter %q: total %v, want %v", q, got, want)
		}
	}
	if r := e.do("GET", "/api/v1/phone-numbers?is_active=maybe", e.keyA, nil); r.Status != 400 || r.errField() != "is_active" {
		t.Fatalf("bad filter: %s", r.Raw)
	}
	if r := e.do("GET", "/api/v1/phone-numbers?limit=0", e.keyA, nil); r.Status != 400 || r.errField() != "limit" {
		t.Fatalf("bad limit: %s", r.Raw)
	}
	// Deleting the assistant unassigns the number.
	e.mustDo("DELETE", "/api/v1/assistants/"+asst, e.keyA, nil, 204)
	if got := e.mustDo("GET", "/api/v1/phone-numbers/"+id, e.keyA, nil, 200); got.Body["outbound_assistant_id"] != nil {
		t.Fatalf("number still points at deleted assistant: %s", got.Raw)
	}
	e.mustDo("DELETE", "/api/v1/phone-numbers/"+id, e.keyA, nil, 204)
}

// TestCrossOrganizationMatrix: organization B's key on every organization A
// resource and action answers 404, exactly like a missing one, and changes nothing.
func TestCrossOrganizationMatrix(t *testing.T) {
	e := newEnv(t)
	asst := e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "A"}, 201).Body["id"].(string)
	trunk := e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, regTrunk("T"), 201).Body["id"].(string)
	num := e.mustDo("POST", "/api/v1/phone-numbers", e.keyA, map[string]any{"phone_number": "+16478491000", "provider": "twilio"}, 201).Body["id"].(string)
	key := e.mustDo("POST", "/api/v1/api-keys", e.keyA, map[string]any{"name": "x"}, 201).Body["id"].(string)
	e.mustDo("POST", "/api/v1/byoc/phone-numbers", e.keyA, map[string]any{"phoneNumber": "+16478491111", "terminationUri": "sip:pbx.example.com"}, 201)
	call := &db.Call{OrgID: e.orgA, Direction: db.DirectionInbound, Status: db.CallCompleted, CallSID: "5f1c1f9e-0000-4000-8000-000000000001"}
	if err := e.store.CreateCall(t.Context(), call); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{"organizations": fmt.Sprint(e.orgA), "assistants": asst, "sip-trunks": trunk, "phone-numbers": num, "api-keys": key, "byoc": "+16478491111", "calls": call.ID, "sms": e.smsMessageFixture(e.orgA)}
	snapshot := func() string {
		var parts []string
		for _, p := range []string{"/api/v1/assistants", "/api/v1/sip-trunks", "/api/v1/phone-numbers", "/api/v1/api-keys", "/api/v1/organization"} {
			raw := e.mustDo("GET", p, e.keyA, nil, 200).Raw
			parts = append(parts, stripVolatile(raw))
		}
		return strings.Join(parts, "\n")
	}
	before := snapshot()
	tested := 0
	for _, r := range e.web.Echo().Routes() {
		if !strings.Contains(r.Path, ":id") || !strings.HasPrefix(r.Path, "/api/v1/") {
			continue
		}
		res := strings.Split(strings.TrimPrefix(r.Path, "/api/v1/"), "/")[0]
		id, ok := ids[res]
		if !ok {
			t.Fatalf("no fixture for %s", r.Path)
		}
		path := strings.Replace(r.Path, ":id", id, 1)
		body := map[string]any{"name": "hijack", "friendly_name": "hijack", "priority": 9}
		if res == "byoc" {
			body = map[string]any{"friendlyName": "hijack"}
		}
		for _, body := range []any{nil, body} {
			got := e.do(r.Method, path, e.keyB, body)
			if got.Status != 404 || got.errCode() != "not_found" {
				t.Errorf("org B %s %s: %d %s, want 404", r.Method, path, got.Status, got.Raw)
			}
			missing := e.do(r.Method, strings.Replace(r.Path, ":id", "00000000-0000-0000-0000-000000000000", 1), e.keyA, body)
			if missing.Status != got.Status || missing.Body["error"].(map[string]any)["message"] != got.Body["error"].(map[string]any)["message"] {
				t.Errorf("%s %s: another org's answer %s differs from a missing one %s", r.Method, r.Path, got.Raw, missing.Raw)
			}
		}
		tested++
	}
	if tested < 10 {
		t.Fatalf("only %d id routes tested", tested)
	}
	// Referencing A's assistant or trunk from B's number is 404 too.
	for _, body := range []map[string]any{
		{"phone_number": "+16478491009", "provider": "twilio", "assistant_id": asst},
		{"phone_number": "+16478491009", "provider": "twilio", "sip_trunk_id": trunk},
	} {
		if r := e.do("POST", "/api/v1/phone-numbers", e.keyB, body); r.Status != 404 {
			t.Errorf("org B referencing org A: %d %s", r.Status, r.Raw)
		}
	}
	// B's lists never show A's records.
	for _, p := range []string{"/api/v1/assistants", "/api/v1/sip-trunks", "/api/v1/phone-numbers"} {
		if n := e.mustDo("GET", p, e.keyB, nil, 200).Total; n != 0 {
			t.Errorf("org B sees %v records at %s", n, p)
		}
	}
	if after := snapshot(); after != before {
		t.Fatalf("organization A changed:\nbefore %s\nafter  %s", before, after)
	}
}

// stripVolatile removes last_used_at values, which change on every request.
func stripVolatile(raw string) string {
	for {
		i := strings.Index(raw, `"last_used_at":"`)
		if i < 0 {
			return raw
		}
		j := strings.Index(raw[i+16:], `"`)
		raw = raw[:i] + raw[i+16+j+1:]
	}
}

func TestSecretsNeverInResponsesOrLogs(t *testing.T) {
	e := newEnv(t)
	secrets := []string{"Tw1lioT0kenSecret", "TelnyxKeySecret99", "VonageSecret77", "SipPassSecret55", "TrunkPassSecret33", "AsstTokenSecret11", "PlanPassSecret22", "SigSecret66"}
	e.mustDo("PUT", "/api/v1/organization", e.keyA, map[string]any{
		"twilio": map[string]any{"auth_token": secrets[0]}, "telnyx": map[string]any{"api_key": secrets[1]},
		"vonage":      map[string]any{"api_secret": secrets[2], "signature_secret": secrets[7]},
		"sip_gateway": "sip.example.com", "sip_password": secrets[3],
	}, 200)
	e.mustDo("PUT", "/api/v1/organization", e.keyA, map[string]any{"sip_trunk_config": map[string]any{"auth_plan": map[string]any{"password": secrets[6]}}}, 200)
	tr := regTrunk("T")
	tr["password"] = secrets[4]
	id := e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, tr, 201).Body["id"].(string)
	e.mustDo("PUT", "/api/v1/sip-trunks/"+id, e.keyA, map[string]any{"password": secrets[4] + "x"}, 200)
	e.do("PUT", "/api/v1/sip-trunks/"+id, e.keyA, map[string]any{"password": secrets[4] + " bad"}) // rejected
	e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "A", "twilio_config": map[string]any{"auth_token": secrets[5]}}, 201)
	for _, p := range []string{"/api/v1/organization", "/api/v1/sip-trunks", "/api/v1/sip-trunks/" + id, "/api/v1/assistants", "/openapi.json", "/metrics"} {
		e.do("GET", p, e.keyA, nil)
	}
	for _, s := range secrets {
		if strings.Contains(e.bodies.String(), s) {
			t.Errorf("a response body contains %q", s)
		}
		if strings.Contains(e.logs.String(), s) {
			t.Errorf("the log contains %q", s)
		}
	}
	// API keys are logged by neither value nor hash.
	if strings.Contains(e.logs.String(), e.keyA) || strings.Contains(e.logs.String(), e.keyA[3:]) {
		t.Error("the log contains an API key")
	}
	if !strings.Contains(e.logs.String(), `"route":"/api/v1/sip-trunks/:id"`) {
		t.Error("request log lines are missing")
	}
	// At rest, the values are sealed.
	var raw []string
	e.store.DB.Raw("SELECT secrets_enc FROM organizations UNION ALL SELECT password_enc FROM sip_trunks UNION ALL SELECT secrets_enc FROM assistants").Scan(&raw)
	for _, r := range raw {
		for _, s := range secrets {
			if strings.Contains(r, s) {
				t.Errorf("secret %q stored in clear", s)
			}
		}
	}
}

func TestOpenAPICoversEveryRoute(t *testing.T) {
	e := newEnv(t)
	doc := e.mustDo("GET", "/openapi.json", "", nil, 200)
	paths := doc.Body["paths"].(map[string]any)
	var missing []string
	n := 0
	for _, r := range e.web.Echo().Routes() {
		if r.Method == "echo_route_not_found" || strings.HasSuffix(r.Path, "/*") {
			continue
		}
		n++
		p := r.Path
		for _, seg := range strings.Split(p, "/") {
			if strings.HasPrefix(seg, ":") {
				// ":CallSid.json": echo's parameter runs to the next '/',
				// the document names it {CallSid}.json.
				name, _, _ := strings.Cut(seg[1:], ".")
				p = strings.Replace(p, ":"+name, "{"+name+"}", 1)
			}
		}
		item, ok := paths[p].(map[string]any)
		if !ok || item[strings.ToLower(r.Method)] == nil {
			missing = append(missing, r.Method+" "+p)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("routes missing from /openapi.json: %v", missing)
	}
	if n < 25 {
		t.Fatalf("only %d routes", n)
	}
	schemas := doc.Body["components"].(map[string]any)["schemas"].(map[string]any)
	trunk := schemas["Trunk"].(map[string]any)["properties"].(map[string]any)
	for _, f := range []string{"gateway_name", "password_set", "sync_status", "gateway_state", "allowed_addresses"} {
		if trunk[f] == nil {
			t.Errorf("Trunk schema lacks %s", f)
		}
	}
	if trunk["password"] != nil {
		t.Error("Trunk response schema exposes password")
	}
	post := paths["/api/v1/sip-trunks"].(map[string]any)["post"].(map[string]any)
	if post["requestBody"] == nil || post["responses"].(map[string]any)["201"] == nil || post["responses"].(map[string]any)["400"] == nil {
		t.Fatalf("POST /sip-trunks under-described: %v", post)
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	e := newEnv(t)
	e.mustDo("GET", "/healthz", "", nil, 200)
	r := e.mustDo("GET", "/readyz", "", nil, 200)
	if r.Body["checks"].(map[string]any)["database"] != "ok" {
		t.Fatalf("readyz: %s", r.Raw)
	}
	e.mustDo("GET", "/api/v1/sip-trunks", e.keyA, nil, 200)
	e.do("GET", "/api/v1/sip-trunks", "", nil)
	m := e.mustDo("GET", "/metrics", "", nil, 200).Raw
	for _, want := range []string{
		`sipbridge_http_requests_total{method="GET",route="/api/v1/sip-trunks",status="200"} 1`,
		`sipbridge_http_requests_total{method="GET",route="/api/v1/sip-trunks",status="401"} 1`,
		`sipbridge_http_request_duration_seconds_bucket{method="GET",route="/api/v1/sip-trunks"`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// A request to an unknown path answers the JSON error shape.
	nf := e.do("GET", "/nope", "", nil)
	if nf.Status != 404 || nf.errCode() != "not_found" {
		t.Fatalf("unknown path: %d %s", nf.Status, nf.Raw)
	}
	// Readiness fails when the database is gone.
	sqlDB, _ := e.store.DB.DB()
	sqlDB.Close()
	if r := e.do("GET", "/readyz", "", nil); r.Status != 503 {
		t.Fatalf("readyz with closed db: %d", r.Status)
	}
}

// A key that was just used (and so is cached) is refused by the next
// request once revoked, on both databases.
func TestRevokedKeyRefusedAtOnce(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		made := e.mustDo("POST", "/api/v1/api-keys", e.keyA, map[string]any{"name": "short-lived"}, 201)
		key := made.Body["key"].(string)
		for range 3 {
			e.mustDo("GET", "/api/v1/sip-trunks", key, nil, 200)
		}
		e.mustDo("DELETE", "/api/v1/api-keys/"+made.Body["id"].(string), e.keyA, nil, 204)
		if r := e.do("GET", "/api/v1/sip-trunks", key, nil); r.Status != http.StatusUnauthorized || r.errCode() != "unauthorized" {
			t.Fatalf("revoked key: %d %s", r.Status, r.Raw)
		}
		e.mustDo("GET", "/api/v1/sip-trunks", e.keyA, nil, 200)
	})
}
