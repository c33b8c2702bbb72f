package web_test

import "testing"

// TestTrunkSRTP: srtp is kept and answered on each database (off when
// not sent), changed alone by a PUT, and refused with 400 naming it.
func TestTrunkSRTP(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		body := regTrunk("Secure Carrier")
		body["transport"], body["srtp"] = "tls", "Mandatory"
		c := e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, body, 201)
		id := c.Body["id"].(string)
		if c.Body["srtp"] != "mandatory" || c.Body["transport"] != "tls" {
			t.Fatalf("created: %s", c.Raw)
		}
		if g := e.mustDo("GET", "/api/v1/sip-trunks/"+id, e.keyA, nil, 200); g.Body["srtp"] != "mandatory" {
			t.Fatalf("read back: %s", g.Raw)
		}
		if u := e.mustDo("PUT", "/api/v1/sip-trunks/"+id, e.keyA, map[string]any{"srtp": "optional"}, 200); u.Body["srtp"] != "optional" || u.Body["transport"] != "tls" {
			t.Fatalf("updated: %s", u.Raw)
		}
		if r := e.do("PUT", "/api/v1/sip-trunks/"+id, e.keyA, map[string]any{"srtp": "sdes"}); r.Status != 400 || r.errField() != "srtp" {
			t.Fatalf("srtp sdes: %d %s, want 400 naming srtp", r.Status, r.Raw)
		}
		if g := e.mustDo("GET", "/api/v1/sip-trunks/"+id, e.keyA, nil, 200); g.Body["srtp"] != "optional" {
			t.Fatalf("after the refused change: %s", g.Raw)
		}
		if p := e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, regTrunk("Plain Carrier"), 201); p.Body["srtp"] != "off" {
			t.Fatalf("default: %s", p.Raw)
		}
	})
}
