package web_test

import (
	"encoding/json"
	"fmt"
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
		{"lone high surrogate escape", `{"name":"t4","gateway":"sip.zadarma.com","username":"u1","password":"pw-\ud800x"}`, "password"},
		{"lone low surrogate escape", `{"name":"t5\udc00","gateway":"sip.zadarma.com","username":"u1","password":"pw"}`, "name"},
		{"reversed pair", `{"name":"t6","gateway":"sip.zadarma.com","username":"u1","password":"\udc00\ud800"}`, "password"},
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
		if l := e.mustDo("GET", p, e.keyA, nil, 200); l.Total != 0 {
			t.Fatalf("%s: something was stored: %s", p, l.Raw)
		}
	}
	// A surrogate pair, and an escaped backslash before "ud800", are fine.
	ok := e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, `{"name":"ok \ud83d\ude00","gateway":"sip.zadarma.com","username":"u1","password":"pw\\ud800"}`, 201)
	if ok.Body["name"] != "ok \U0001F600" {
		t.Fatalf("pair: %s", ok.Raw)
	}
}

// A trunk's codecs: at most 16, each a codec FreeSWITCH knows (any case,
// optional @params), none twice; on create and on update, and a refused
// update leaves the stored list alone.
func TestTrunkCodecsChecked(t *testing.T) {
	e := newEnv(t)
	withCodecs := func(name string, codecs []string) map[string]any {
		b := regTrunk(name)
		b["codecs"] = codecs
		return b
	}
	seventeen := make([]string, 17)
	for i := range seventeen {
		seventeen[i] = []string{"PCMU", "PCMA", "G722", "OPUS", "G729", "GSM", "iLBC", "SPEEX", "L16", "AMR", "AMR-WB", "G7221", "G723", "SILK", "BV16", "BV32", "CODEC2"}[i]
	}
	for _, tc := range []struct {
		name   string
		codecs []string
	}{
		{"unknown", []string{"PCMU", "FOO"}},
		{"too many", seventeen},
		{"duplicate", []string{"PCMU", "PCMA", "pcmu"}},
		{"duplicate with params", []string{"opus@48000h", "OPUS@48000H"}},
		{"bad param", []string{"PCMU@20x"}},
		{"empty param", []string{"PCMU@"}},
		{"comma", []string{"PCMU,PCMA"}},
		{"empty", []string{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/api/v1/sip-trunks", e.keyA, withCodecs("t "+tc.name, tc.codecs))
			if r.Status != 400 || r.errCode() != "validation_failed" || r.errField() != "codecs" {
				t.Fatalf("create: %d %s", r.Status, r.Raw)
			}
		})
	}
	if n := e.mustDo("GET", "/api/v1/sip-trunks", e.keyA, nil, 200).Total; n != 0 {
		t.Fatalf("refused creates stored %v trunks", n)
	}
	ok := []string{"pcmu", "PCMA", "G722@16000h", "opus@48000h@20i@2c", "G729", "AMR-WB", "iLBC@30i"}
	id := e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, withCodecs("good", ok), 201).Body["id"].(string)
	r := e.do("PUT", "/api/v1/sip-trunks/"+id, e.keyA, map[string]any{"codecs": []string{"PCMU", "NOPE"}})
	if r.Status != 400 || r.errField() != "codecs" {
		t.Fatalf("update: %d %s", r.Status, r.Raw)
	}
	got := e.mustDo("GET", "/api/v1/sip-trunks/"+id, e.keyA, nil, 200).Body["codecs"].([]any)
	if len(got) != len(ok) || got[0] != "pcmu" || got[3] != "opus@48000h@20i@2c" {
		t.Fatalf("stored codecs changed: %v", got)
	}
}

// An assistant's metadata is bounded: at most 8 levels deep and 16 KiB as
// JSON, on create and update; a refused update leaves it as it was.
func TestAssistantMetadataBounded(t *testing.T) {
	e := newEnv(t)
	nest := func(levels int) map[string]any {
		var v any = "leaf"
		for i := 1; i < levels; i++ {
			if i%2 == 0 {
				v = []any{v}
			} else {
				v = map[string]any{"k": v}
			}
		}
		return map[string]any{"k": v}
	}
	big := map[string]any{"blob": strings.Repeat("x", 16*1024)}
	wide := map[string]any{}
	for i := range 2000 {
		wide["key"+strings.Repeat("0", 4)+string(rune('a'+i%26))+strings.Repeat("z", i%7)+string(rune('A'+i/26%26))+string(rune('0'+i/676))] = i
	}
	for _, tc := range []struct {
		name string
		md   map[string]any
	}{
		{"9 levels", nest(9)},
		{"100 levels", nest(100)},
		{"over 16 KiB", big},
		{"many keys", wide},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "A " + tc.name, "metadata": tc.md})
			if r.Status != 400 || r.errCode() != "validation_failed" || r.errField() != "metadata" {
				t.Fatalf("create: %d %s", r.Status, r.Raw)
			}
		})
	}
	if n := e.mustDo("GET", "/api/v1/assistants", e.keyA, nil, 200).Total; n != 0 {
		t.Fatalf("refused creates stored %v assistants", n)
	}
	id := e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "ok", "metadata": nest(8)}, 201).Body["id"].(string)
	r := e.do("PUT", "/api/v1/assistants/"+id, e.keyA, map[string]any{"metadata": nest(9)})
	if r.Status != 400 || r.errField() != "metadata" {
		t.Fatalf("update: %d %s", r.Status, r.Raw)
	}
	r = e.do("PUT", "/api/v1/assistants/"+id, e.keyA, map[string]any{"name": "renamed", "metadata": big})
	if r.Status != 400 || r.errField() != "metadata" {
		t.Fatalf("update: %d %s", r.Status, r.Raw)
	}
	got := e.mustDo("GET", "/api/v1/assistants/"+id, e.keyA, nil, 200)
	want, _ := json.Marshal(nest(8))
	if got.Body["name"] != "ok" || !strings.Contains(got.Raw, `"metadata":`+string(want)) {
		t.Fatalf("refused updates changed the assistant: %s", got.Raw)
	}
}

// The organization's last active API key cannot be revoked (409 conflict,
// the key keeps working); with another key active a key may revoke itself.
func TestRevokeLastAPIKeyRefused(t *testing.T) {
	e := newEnv(t)
	keys := e.mustDo("GET", "/api/v1/api-keys", e.keyA, nil, 200).List
	if len(keys) != 1 {
		t.Fatalf("keys: %v", keys)
	}
	only := keys[0].(map[string]any)["id"].(string)
	r := e.do("DELETE", "/api/v1/api-keys/"+only, e.keyA, nil)
	if r.Status != 409 || r.errCode() != "conflict" || !strings.Contains(r.Raw, "last active API key") {
		t.Fatalf("last key: %d %s", r.Status, r.Raw)
	}
	after := e.mustDo("GET", "/api/v1/api-keys", e.keyA, nil, 200).List
	if len(after) != 1 || after[0].(map[string]any)["revoked_at"] != nil {
		t.Fatalf("refused revocation changed the keys: %v", after)
	}
	// With a second key, the first revokes itself, and then stops working.
	second := e.mustDo("POST", "/api/v1/api-keys", e.keyA, map[string]any{"name": "second"}, 201).Body["key"].(string)
	e.mustDo("DELETE", "/api/v1/api-keys/"+only, e.keyA, nil, 204)
	e.mustDo("GET", "/api/v1/api-keys", e.keyA, nil, 401)
	// The second is now the last one.
	keys = e.mustDo("GET", "/api/v1/api-keys", second, nil, 200).List
	for _, k := range keys {
		if m := k.(map[string]any); m["revoked_at"] == nil {
			e.mustDo("DELETE", "/api/v1/api-keys/"+m["id"].(string), second, nil, 409)
		}
	}
	e.mustDo("GET", "/api/v1/api-keys", second, nil, 200)
}

// Renaming an organization to another organization's name is a plain 409
// that does not say another organization has the name; nothing changes.
func TestOrgRenameToTakenName(t *testing.T) {
	e := newEnv(t)
	before := e.mustDo("GET", "/api/v1/organization", e.keyA, nil, 200)
	r := e.do("PUT", "/api/v1/organization", e.keyA, map[string]any{"name": "org-b"})
	if r.Status != 409 || r.errCode() != "conflict" || r.errField() != "name" {
		t.Fatalf("rename: %d %s", r.Status, r.Raw)
	}
	msg := r.Body["error"].(map[string]any)["message"].(string)
	if msg != "the name cannot be used" || strings.Contains(strings.ToLower(r.Raw), "organization") || strings.Contains(r.Raw, "exist") {
		t.Fatalf("the answer reveals the other organization: %s", r.Raw)
	}
	after := e.mustDo("GET", "/api/v1/organization", e.keyA, nil, 200)
	if after.Body["name"] != "org-a" || after.Body["updated_at"] != before.Body["updated_at"] {
		t.Fatalf("refused rename changed the organization: %s", after.Raw)
	}
	if b := e.mustDo("GET", "/api/v1/organization", e.keyB, nil, 200); b.Body["name"] != "org-b" {
		t.Fatalf("other organization changed: %s", b.Raw)
	}
	// Its own name, and a free one, are fine.
	e.mustDo("PUT", "/api/v1/organization", e.keyA, map[string]any{"name": "org-a"}, 200)
	e.mustDo("PUT", "/api/v1/organization", e.keyA, map[string]any{"name": "org-c"}, 200)
}

// An unknown outboundAgentId is reported as outboundAgentId (it was
// reported as inboundAgentId), on create and update; nothing is stored or
// changed.
func TestBYOCUnknownAgentNamesItsField(t *testing.T) {
	e := newEnv(t)
	in := e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "In"}, 201).Body["id"].(string)
	theirs := e.mustDo("POST", "/api/v1/assistants", e.keyB, map[string]any{"name": "B"}, 201).Body["id"].(string)
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"unknown outbound", map[string]any{"inboundAgentId": in, "outboundAgentId": "nope"}, "outboundAgentId"},
		{"other org's outbound", map[string]any{"outboundAgentId": theirs}, "outboundAgentId"},
		{"unknown inbound", map[string]any{"inboundAgentId": "nope", "outboundAgentId": in}, "inboundAgentId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := map[string]any{"phoneNumber": "+16478491000", "terminationUri": "sip:pbx.example.com"}
			for k, v := range tc.body {
				b[k] = v
			}
			r := e.do("POST", "/api/v1/byoc/phone-numbers", e.keyA, b)
			if r.Status != 404 || r.errCode() != "not_found" || r.errField() != tc.field {
				t.Fatalf("create: %d %s", r.Status, r.Raw)
			}
		})
	}
	if n := e.mustDo("GET", "/api/v1/phone-numbers", e.keyA, nil, 200).Total; n != 0 {
		t.Fatalf("refused creates stored %v numbers", n)
	}
	if n := e.mustDo("GET", "/api/v1/sip-trunks", e.keyA, nil, 200).Total; n != 0 {
		t.Fatalf("refused creates stored %v trunks", n)
	}
	e.mustDo("POST", "/api/v1/byoc/phone-numbers", e.keyA, map[string]any{"phoneNumber": "+16478491000", "terminationUri": "sip:pbx.example.com", "inboundAgentId": in, "outboundAgentId": in}, 201)
	r := e.do("PUT", "/api/v1/byoc/phone-numbers/+16478491000", e.keyA, map[string]any{"outboundAgentId": "nope", "friendlyName": "changed"})
	if r.Status != 404 || r.errField() != "outboundAgentId" {
		t.Fatalf("update: %d %s", r.Status, r.Raw)
	}
	// The number is still there, unchanged (the BYOC view through the numbers list).
	l := e.mustDo("GET", "/api/v1/phone-numbers", e.keyA, nil, 200)
	if l.Total != 1 || strings.Contains(l.Raw, "changed") || strings.Contains(l.Raw, "nope") {
		t.Fatalf("refused update changed the number: %s", l.Raw)
	}
}

// A BYOC number's trunk is neither deleted nor edited through
// /api/v1/sip-trunks/{id} (deleting it orphaned the number): 409 naming the
// BYOC route, and the number and its trunk stay as they were.
func TestBYOCTrunkOwnedByItsNumber(t *testing.T) {
	e := newEnv(t)
	r := e.mustDo("POST", "/api/v1/byoc/phone-numbers", e.keyA, map[string]any{
		"phoneNumber": "+16478491000", "terminationUri": "sip:pbx.example.com:5080", "sipUsername": "u", "sipPassword": "p"}, 201)
	trunk := r.Body["trunk"].(map[string]any)
	id := trunk["id"].(string)
	for _, tc := range []struct {
		method string
		body   any
		want   string
	}{
		{"DELETE", nil, "DELETE /api/v1/byoc/phone-numbers/+16478491000"},
		{"PUT", map[string]any{"gateway": "evil.example.com"}, "PUT /api/v1/byoc/phone-numbers/+16478491000"},
		{"PUT", map[string]any{"provider": "mine"}, "PUT /api/v1/byoc/phone-numbers/+16478491000"},
	} {
		r := e.do(tc.method, "/api/v1/sip-trunks/"+id, e.keyA, tc.body)
		if r.Status != 409 || r.errCode() != "conflict" || !strings.Contains(r.Raw, tc.want) {
			t.Fatalf("%s %v: %d %s", tc.method, tc.body, r.Status, r.Raw)
		}
	}
	// Another organization still gets 404, not the 409.
	e.mustDo("DELETE", "/api/v1/sip-trunks/"+id, e.keyB, nil, 404)
	got := e.mustDo("GET", "/api/v1/sip-trunks/"+id, e.keyA, nil, 200)
	if got.Body["gateway"] != "pbx.example.com:5080" || got.Body["provider"] != "byoc" {
		t.Fatalf("refused requests changed the trunk: %s", got.Raw)
	}
	nums := e.mustDo("GET", "/api/v1/phone-numbers", e.keyA, nil, 200)
	if items := nums.List; len(items) != 1 || items[0].(map[string]any)["sip_trunk_id"] != id {
		t.Fatalf("the number lost its trunk: %s", nums.Raw)
	}
	// An ordinary trunk that merely says "byoc" is the tenant's to delete.
	b := regTrunk("labelled")
	b["provider"] = "byoc"
	own := e.mustDo("POST", "/api/v1/sip-trunks", e.keyA, b, 201).Body["id"].(string)
	e.mustDo("PUT", "/api/v1/sip-trunks/"+own, e.keyA, map[string]any{"priority": 3}, 200)
	e.mustDo("DELETE", "/api/v1/sip-trunks/"+own, e.keyA, nil, 204)
	// The BYOC route deletes both.
	e.mustDo("DELETE", "/api/v1/byoc/phone-numbers/%2B16478491000", e.keyA, nil, 204)
	e.mustDo("GET", "/api/v1/sip-trunks/"+id, e.keyA, nil, 404)
}

// /metrics: the method label is one of a fixed set (anything else OTHER),
// so requests with made-up methods add no series.
func TestMetricsMethodLabelBounded(t *testing.T) {
	e := newEnv(t)
	series := func() (map[string]bool, int) {
		r := e.do("GET", "/metrics", "", nil)
		methods := map[string]bool{}
		n := 0
		for _, line := range strings.Split(r.Raw, "\n") {
			if !strings.HasPrefix(line, "sipbridge_http_requests_total{") && !strings.HasPrefix(line, "sipbridge_http_request_duration_seconds_count{") {
				continue
			}
			n++
			if i := strings.Index(line, `method="`); i >= 0 {
				rest := line[i+len(`method="`):]
				methods[rest[:strings.IndexByte(rest, '"')]] = true
			}
		}
		return methods, n
	}
	// The series a first round of odd methods makes (OTHER on the routes hit).
	send := func(from, to int) {
		for i := from; i < to; i++ {
			for _, p := range []string{"/api/v1/sip-trunks", "/nowhere", "/healthz"} {
				e.do(fmt.Sprintf("X-MADE-UP-%d", i), p, e.keyA, nil)
			}
		}
	}
	send(0, 5)
	series() // the scrape's own GET /metrics series
	_, before := series()
	send(5, 1000) // 2,985 requests, each with a new method
	methods, after := series()
	if after != before {
		t.Fatalf("series grew from %d to %d with made-up methods", before, after)
	}
	allowed := map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "HEAD": true, "OPTIONS": true, "OTHER": true}
	for m := range methods {
		if !allowed[m] {
			t.Fatalf("method label %q", m)
		}
	}
	if !methods["OTHER"] || !methods["GET"] {
		t.Fatalf("labels: %v", methods)
	}
}
