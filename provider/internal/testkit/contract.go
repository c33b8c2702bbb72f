package testkit

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The contract tests walk every request a client makes and check it against
// the provider's specification as written down here (method, path, where
// the credentials go, the required fields and their formats), then every
// webhook sipbridge parses, one case per documented shape. The specs read:
//   - Telnyx: team-telnyx/openapi openapi/spec3.yml (stored version
//     0015e7fa, read 2026-12) and its media streaming AsyncAPI.
//   - Vonage: Nexmo/api-specification at ad042003 (numbers.yml 1.0.20,
//     sms.yml 1.0.10, voice.yml), the Messages API v1, the Node SDK's
//     numbers package (QUERY_KEY_SECRET) and Vonage's signed-webhook article.

// Value formats of the specs.
var (
	ReE164        = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	ReMsisdn      = regexp.MustCompile(`^[1-9][0-9]{6,14}$`) // E.164 without '+' (Vonage)
	ReDigits3     = regexp.MustCompile(`^[0-9]{3,15}$`)
	ReCountry     = regexp.MustCompile(`^[A-Z]{2}$`)
	ReWS          = regexp.MustCompile(`^wss?://`)
	ReHTTP        = regexp.MustCompile(`^https?://`)
	ReBase64      = regexp.MustCompile(`^[A-Za-z0-9+/]+={0,2}$`)
	ReNonEmpty    = regexp.MustCompile(`.`)
	ReAlnumSender = regexp.MustCompile(`^[A-Za-z0-9 ]{1,11}$`)
)

// Spec is one request as the spec documents it.
type Spec struct {
	Method string
	Path   *regexp.Regexp
	Query  map[string]*regexp.Regexp // required query parameters
	Form   map[string]*regexp.Regexp // required form fields
	JSON   map[string]*regexp.Regexp // required JSON fields (dotted paths; arrays by index)
	Exact  map[string]string         // JSON fields with one allowed value
	Absent []string                  // form or JSON fields that must not be sent
}

// JSONAt walks a dotted path ("to.0.number") through decoded JSON.
func JSONAt(v any, path string) (any, bool) {
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[k]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// Check reports how r breaks the spec row, "" when it does not.
func (s Spec) Check(r Recorded) string {
	var errs []string
	if r.Method != s.Method || !s.Path.MatchString(r.Path) {
		return fmt.Sprintf("%s %s, want %s %s", r.Method, r.Path, s.Method, s.Path)
	}
	for k, re := range s.Query {
		if vs, ok := r.Query[k]; !ok || !re.MatchString(vs[0]) {
			errs = append(errs, fmt.Sprintf("query %s=%q, want %s", k, r.Query.Get(k), re))
		}
	}
	for k, re := range s.Form {
		if vs, ok := r.Form[k]; !ok || !re.MatchString(vs[0]) {
			errs = append(errs, fmt.Sprintf("form %s=%q, want %s", k, r.Form.Get(k), re))
		}
	}
	var body any
	if len(s.JSON)+len(s.Exact) > 0 {
		if err := json.Unmarshal(r.Body, &body); err != nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			return fmt.Sprintf("body not JSON (%s): %s", r.Header.Get("Content-Type"), r.Body)
		}
	}
	for k, re := range s.JSON {
		v, ok := JSONAt(body, k)
		if s, isStr := v.(string); !ok || !isStr || !re.MatchString(s) {
			errs = append(errs, fmt.Sprintf("json %s=%v, want a string %s", k, v, re))
		}
	}
	for k, want := range s.Exact {
		if v, ok := JSONAt(body, k); !ok || v != want {
			errs = append(errs, fmt.Sprintf("json %s=%v, want %q", k, v, want))
		}
	}
	for _, k := range s.Absent {
		_, inJSON := JSONAt(body, k)
		if r.Form.Has(k) || inJSON {
			errs = append(errs, "sends "+k)
		}
	}
	return strings.Join(errs, "; ")
}

// CheckRequests matches the requests made since mark against the rows, in
// order, and checks each with auth (where the credentials must be).
func CheckRequests(t *testing.T, rec *Recorder, mark int, rows []Spec, auth func(Recorded) string) {
	t.Helper()
	got := rec.All()[mark:]
	if len(got) != len(rows) {
		var seen []string
		for _, r := range got {
			seen = append(seen, r.Method+" "+r.Path)
		}
		t.Fatalf("%d requests %v, want %d", len(got), seen, len(rows))
	}
	for i, row := range rows {
		if msg := row.Check(got[i]); msg != "" {
			t.Errorf("request %d: %s", i+1, msg)
		}
		if msg := auth(got[i]); msg != "" {
			t.Errorf("request %d (%s %s): %s", i+1, got[i].Method, got[i].Path, msg)
		}
	}
}

// Path is a regexp matching the whole of p.
func Path(p string) *regexp.Regexp { return regexp.MustCompile("^" + p + "$") }
