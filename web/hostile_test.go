package web_test

import (
	"strings"
	"testing"
)

// "Safe for many tenants": a body that is not valid UTF-8 is refused before
// decoding (encoding/json would turn the bad bytes into U+FFFD and store
// them), naming the field when it can, and nothing is stored.
func TestInvalidUTF8BodyRefused(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, body, field string
	}{
		{"password", `{"name":"t1","gateway":"sip.zadarma.com","username":"u1","password":"pw-` + "\xff\xfe" + `"}`, "password"},
		{"name", `{"name":"t` + "\xc3" + `","gateway":"sip.zadarma.com","username":"u1","password":"pw"}`, "name"},
		{"codec in array", `{"name":"t2","gateway":"sip.zadarma.com","username":"u1","password":"pw","codecs":["PCMU","` + "\xed\xa0\x80" + `"]}`, "codecs"},
		{"top-level key", `{"na` + "\xff" + `me":"t3","gateway":"sip.zadarma.com"}`, ""},
		{"broken JSON", `{"name":` + "\xff", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/api/v1/sip-trunks", e.keyA, tc.body)
			if r.Status != 400 || r.errCode() != "validation_failed" || r.errField() != tc.field || !strings.Contains(r.Raw, "UTF-8") {
				t.Fatalf("status %d field %q: %s", r.Status, r.errField(), r.Raw)
			}
		})
	}
	// Nested: the path of keys.
	r := e.do("POST", "/api/v1/assistants", e.keyA, `{"name":"a","metadata":{"k":{"x":"`+"\xff"+`"}}}`)
	if r.Status != 400 || r.errField() != "metadata.k.x" {
		t.Fatalf("nested: %d %s", r.Status, r.Raw)
	}
	for _, p := range []string{"/api/v1/sip-trunks", "/api/v1/assistants"} {
		if l := e.mustDo("GET", p, e.keyA, nil, 200); l.Body["total"].(float64) != 0 {
			t.Fatalf("%s: something was stored: %s", p, l.Raw)
		}
	}
}
