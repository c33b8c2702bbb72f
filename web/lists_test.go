package web_test

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var linkPart = regexp.MustCompile(`<([^>]*)>; rel="([a-z]+)"`)

// links parses a Link header into rel → URL, failing on anything else in it.
func links(t *testing.T, h string) map[string]*url.URL {
	t.Helper()
	out := map[string]*url.URL{}
	if h == "" {
		return out
	}
	for _, part := range strings.Split(h, ", ") {
		m := linkPart.FindStringSubmatch(part)
		if m == nil || m[0] != part {
			t.Fatalf("Link part %q is not <url>; rel=\"x\" (header %q)", part, h)
		}
		u, err := url.Parse(m[1])
		if err != nil || !u.IsAbs() {
			t.Fatalf("Link URL %q is not absolute: %v", m[1], err)
		}
		if _, dup := out[m[2]]; dup {
			t.Fatalf("rel %q twice in %q", m[2], h)
		}
		out[m[2]] = u
	}
	return out
}

func skipOf(t *testing.T, u *url.URL) int {
	t.Helper()
	n, err := strconv.Atoi(u.Query().Get("skip"))
	if err != nil {
		t.Fatalf("link %s has no skip", u)
	}
	return n
}

// Every collection route answers a bare JSON array, [] when empty, with the
// total in X-Total-Count.
func TestListRoutesAnswerArrays(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/api/v1/assistants", "/api/v1/sip-trunks", "/api/v1/phone-numbers", "/api/v1/calls",
		"/api/v1/sms/conversations", "/api/v1/phone-numbers?provider=twilio&limit=3"} {
		r := e.mustDo("GET", p, e.keyB, nil, 200)
		if r.Raw != "[]\n" && r.Raw != "[]" {
			t.Errorf("%s: empty list answered %q, want []", p, r.Raw)
		}
		if r.Total != 0 || r.Header.Get("Link") != "" {
			t.Errorf("%s: X-Total-Count %d, Link %q for an empty list", p, r.Total, r.Header.Get("Link"))
		}
	}
	keys := e.mustDo("GET", "/api/v1/api-keys", e.keyB, nil, 200)
	if len(keys.List) != 1 || keys.Total != 1 || keys.List[0].(map[string]any)["prefix"] == nil {
		t.Fatalf("api keys: %d %s", keys.Total, keys.Raw)
	}
	// Skip/limit keep their bounds and errors.
	for q, field := range map[string]string{"?limit=0": "limit", "?limit=501": "limit", "?limit=x": "limit", "?skip=-1": "skip"} {
		if r := e.do("GET", "/api/v1/assistants"+q, e.keyA, nil); r.Status != 400 || r.errField() != field {
			t.Errorf("%s: %d %s, want 400 naming %s", q, r.Status, r.Raw, field)
		}
	}
}

// Paging is in the Link header, as GitHub does it: neighbours of the page,
// each the request's URL with its other query parameters kept; following
// rel="next" from the first page visits every item once.
func TestListPagingLinks(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 5; i++ {
		e.mustDo("POST", "/api/v1/phone-numbers", e.keyA, map[string]any{"phone_number": "+1647849100" + strconv.Itoa(i), "provider": "twilio"}, 201)
	}
	e.mustDo("POST", "/api/v1/phone-numbers", e.keyA, map[string]any{"phone_number": "+16478491009", "provider": "telnyx"}, 201)

	first := e.mustDo("GET", "/api/v1/phone-numbers?provider=twilio&limit=2", e.keyA, nil, 200)
	if len(first.List) != 2 || first.Total != 5 {
		t.Fatalf("first page: total %d, %s", first.Total, first.Raw)
	}
	l := links(t, first.Header.Get("Link"))
	if l["prev"] != nil || l["first"] != nil || l["next"] == nil || l["last"] == nil {
		t.Fatalf("first page links: %q", first.Header.Get("Link"))
	}
	if skipOf(t, l["next"]) != 2 || skipOf(t, l["last"]) != 4 || l["next"].Query().Get("limit") != "2" ||
		l["next"].Query().Get("provider") != "twilio" || l["next"].Path != "/api/v1/phone-numbers" || !strings.HasPrefix(e.srv.URL, l["next"].Scheme+"://"+l["next"].Host) {
		t.Fatalf("next/last: %q", first.Header.Get("Link"))
	}

	mid := e.mustDo("GET", "/api/v1/phone-numbers?limit=2&skip=2&provider=twilio", e.keyA, nil, 200)
	l = links(t, mid.Header.Get("Link"))
	if len(l) != 4 || skipOf(t, l["prev"]) != 0 || skipOf(t, l["first"]) != 0 || skipOf(t, l["next"]) != 4 || skipOf(t, l["last"]) != 4 {
		t.Fatalf("middle page links: %q", mid.Header.Get("Link"))
	}
	last := e.mustDo("GET", "/api/v1/phone-numbers?limit=2&skip=4&provider=twilio", e.keyA, nil, 200)
	l = links(t, last.Header.Get("Link"))
	if len(last.List) != 1 || len(l) != 2 || skipOf(t, l["prev"]) != 2 || skipOf(t, l["first"]) != 0 {
		t.Fatalf("last page: %s, links %q", last.Raw, last.Header.Get("Link"))
	}
	// An unaligned start: next and last stay on its sequence.
	odd := e.mustDo("GET", "/api/v1/phone-numbers?limit=2&skip=1&provider=twilio", e.keyA, nil, 200)
	l = links(t, odd.Header.Get("Link"))
	if skipOf(t, l["prev"]) != 0 || skipOf(t, l["next"]) != 3 || skipOf(t, l["last"]) != 3 {
		t.Fatalf("unaligned page links: %q", odd.Header.Get("Link"))
	}

	// Follow next: every twilio number once, the telnyx one never.
	seen := map[string]bool{}
	next := "/api/v1/phone-numbers?provider=twilio&limit=2"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("next links do not end")
		}
		r := e.mustDo("GET", next, e.keyA, nil, 200)
		for _, it := range r.List {
			n := it.(map[string]any)["phone_number"].(string)
			if seen[n] || n == "+16478491009" {
				t.Fatalf("%s seen twice or outside the filter", n)
			}
			seen[n] = true
		}
		next = ""
		if u := links(t, r.Header.Get("Link"))["next"]; u != nil {
			next = u.RequestURI()
		}
	}
	if len(seen) != 5 {
		t.Fatalf("followed next to %d numbers, want 5", len(seen))
	}
	// Past the end: an empty page that still links back.
	past := e.mustDo("GET", "/api/v1/phone-numbers?provider=twilio&skip=10", e.keyA, nil, 200)
	if len(past.List) != 0 || past.Total != 5 || links(t, past.Header.Get("Link"))["next"] != nil || links(t, past.Header.Get("Link"))["first"] == nil {
		t.Fatalf("past the end: %s %q", past.Raw, past.Header.Get("Link"))
	}
}

// The documented bulk migration iterates the decoded list body directly and
// updates each assistant by its id.
func TestAssistantListIterationAsDocumented(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"Sales", "Support", "VIP"} {
		e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": n,
			"twilio_config": map[string]any{"account_sid": "AC" + strings.Repeat("1", 32), "auth_token": "tok"}}, 201)
	}
	for _, a := range e.mustDo("GET", "/api/v1/assistants", e.keyA, nil, 200).List {
		id := a.(map[string]any)["id"].(string)
		e.mustDo("PUT", "/api/v1/assistants/"+id, e.keyA, map[string]any{
			"telnyx_config": map[string]any{"api_key": "KEYxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "connection_id": "1234567890"},
			"twilio_config": map[string]any{"account_sid": nil, "auth_token": nil},
		}, 200)
	}
	after := e.mustDo("GET", "/api/v1/assistants", e.keyA, nil, 200)
	if len(after.List) != 3 {
		t.Fatalf("after: %s", after.Raw)
	}
	for _, a := range after.List {
		v := a.(map[string]any)
		tn, _ := v["telnyx_config"].(map[string]any)
		tw, _ := v["twilio_config"].(map[string]any)
		if tn == nil || tn["connection_id"] != "1234567890" || (tw != nil && tw["auth_token_set"] == true) {
			t.Fatalf("%s not migrated: %v", v["name"], v)
		}
	}
}

// The OpenAPI document describes lists as arrays with their headers.
func TestOpenAPIListsAreArrays(t *testing.T) {
	e := newEnv(t)
	paths := e.mustDo("GET", "/openapi.json", "", nil, 200).Body["paths"].(map[string]any)
	for _, c := range []struct {
		path  string
		paged bool
	}{{"/api/v1/assistants", true}, {"/api/v1/sip-trunks", true}, {"/api/v1/phone-numbers", true}, {"/api/v1/calls", true},
		{"/api/v1/sms/conversations", true}, {"/api/v1/sms/conversations/{id}/messages", true},
		{"/api/v1/api-keys", false}, {"/api/v1/calls/{id}/events", false}} {
		get := paths[c.path].(map[string]any)["get"].(map[string]any)
		ok := get["responses"].(map[string]any)["200"].(map[string]any)
		schema := ok["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)
		if schema["type"] != "array" || schema["items"] == nil {
			t.Errorf("%s: schema %v, want an array", c.path, schema)
		}
		h, _ := ok["headers"].(map[string]any)
		if h["X-Total-Count"] == nil || (h["Link"] != nil) != c.paged {
			t.Errorf("%s: headers %v", c.path, h)
		}
	}
	search := paths["/api/v1/phone-numbers/search"].(map[string]any)["post"].(map[string]any)["responses"].(map[string]any)["200"].(map[string]any)
	if s := search["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any); s["type"] != "array" {
		t.Errorf("search: %v", s)
	}
}
