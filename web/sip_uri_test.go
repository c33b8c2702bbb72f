package web_test

import "testing"

// TestSIPURIFieldsRefused: fallback_transfer_number and refer_to_template
// refuse sip: URIs with characters RFC 3261 does not allow in the user or
// host part (or that FreeSWITCH would expand), and hosts the address
// policy refuses; 400 validation_failed naming the field.
func TestSIPURIFieldsRefused(t *testing.T) {
	e := newEnv(t)
	expect400 := func(method, path, field string, body map[string]any) {
		t.Helper()
		r := e.do(method, path, e.keyA, body)
		if r.Status != 400 || r.errCode() != "validation_failed" || r.errField() != field {
			t.Errorf("%s %s %v: %d %s, want 400 naming %s", method, path, body, r.Status, r.Raw, field)
		}
	}
	for _, to := range []string{"sip:a@b>;foo", "sip:$${x}@y", "sip:${x}@pbx.example.com", "sip:<a>@pbx.example.com",
		"sip:a@pbx.example.com?Replaces=x", "sip:a@pbx.example.com;x=$${y}", "sip:{a}@pbx.example.com", "sip:a@[::1]"} {
		expect400("POST", "/api/v1/assistants", "fallback_transfer_number", map[string]any{"name": "A", "fallback_transfer_number": to})
	}
	a := e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "A", "fallback_transfer_number": "sip:+14165550100@pbx.example.com:5060;transport=tcp"}, 201)
	expect400("PUT", "/api/v1/assistants/"+a.Body["id"].(string), "fallback_transfer_number", map[string]any{"fallback_transfer_number": "sip:a@b>;foo"})

	tr := e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, regTrunk("T"), 201).Body["id"].(string)
	for _, tmpl := range []string{"sip:{e164}@$${x}", "sip:{e164}@h>", "sip:{e164}$${x}@h", "tel:{e164}$${x}", "sip:{e164}@h?X=1",
		"sip:{e164}@127.0.0.1", "sip:{e164}@169.254.169.254:5060", "sips:{e164}@localhost"} {
		expect400("PUT", "/api/v1/sip-trunks/"+tr, "refer_to_template", map[string]any{"transfer_mode": "refer", "refer_to_template": tmpl})
	}
	for _, tmpl := range []string{"tel:{e164}", "sip:{e164}@pbx.example.com;user=phone", "sip:{e164}@10.0.0.7:5060"} {
		e.mustDo("PUT", "/api/v1/sip-trunks/"+tr, e.keyA, map[string]any{"transfer_mode": "refer", "refer_to_template": tmpl}, 200)
	}
}
