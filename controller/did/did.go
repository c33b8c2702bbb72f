// Package did resolves the real called number (DID) of an inbound call from
// the channel variables FreeSWITCH reports. Pure: no I/O.
//
// Candidates are read in this order (the recordings in
// ../shared/fixtures/freeswitch show the variables):
//
//  1. Diversion — every header (variable_sip_i_diversion, a JSON array when
//     repeated, else variable_sip_h_Diversion). The topmost Diversion is the
//     most recent redirection (RFC 5806), so the ORIGINAL called number is
//     the last one in wire order.
//  2. History-Info — the first entry (lowest index), from
//     variable_sip_i_history_info or variable_sip_history_info.
//  3. X-Original-Called, X-Original-Number, X-Forwarded-To, X-Original-To.
//  4. P-Called-Party-ID.
//  5. The Request-URI user (variable_sip_req_user; gw+<gateway> is skipped).
//  6. The To user (variable_sip_to_user).
//
// Selection: the first candidate in that order whose E.164 form is one of the
// platform's numbers (Options.Known) wins; else the first candidate that is
// a valid E.164 number. Only when no candidate is a phone number does a short
// PBX extension count: it maps to the trunk's number when the trunk has
// exactly one; with several the call is refused as ambiguous
// (ErrAmbiguousExtension names them) — never a guess.
//
// Example: an INVITE to sip:9228@bridge with
// "Diversion: <sip:+16478491000@pbx.example.com>;reason=unconditional"
// resolves to +16478491000 from "diversion"; without the Diversion, and with
// one number on the trunk, 9228 maps to that number ("extension").
package did

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
	"github.com/nyaruka/phonenumbers"
)

var (
	// ErrNoCandidate: no header holds a usable number.
	ErrNoCandidate = errors.New("did: no called number in the SIP headers")
	// ErrAmbiguousExtension: an extension and several numbers on the trunk.
	ErrAmbiguousExtension = errors.New("did: extension is ambiguous")
	// ErrNotE164: the value is not a phone number.
	ErrNotE164 = errors.New("did: not an E.164 number")
)

// AmbiguousError names the extension and the numbers it could mean.
type AmbiguousError struct {
	Extension string
	DIDs      []string
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("did: extension %s is ambiguous: the trunk has %s", e.Extension, strings.Join(e.DIDs, ", "))
}

// Unwrap makes errors.Is(err, ErrAmbiguousExtension) true.
func (e *AmbiguousError) Unwrap() error { return ErrAmbiguousExtension }

// Vars returns every value of a channel variable (several when FreeSWITCH
// reported a JSON array).
type Vars func(name string) []string

// Options of a resolution.
type Options struct {
	DefaultCountry string                 // ISO-2 of the trunk or organization, for national formats
	TrunkNumbers   []string               // active E.164 numbers on the trunk the call came in on
	Known          func(e164 string) bool // the platform's active numbers; may be nil
}

// Candidate is one value seen.
type Candidate struct {
	Source    string // diversion, history-info, x-original-called, …, request-uri, to
	Raw       string // the header value
	E164      string // its E.164 form, if a phone number
	Extension string // its digits, if a short extension
}

// Result of a resolution.
type Result struct {
	DID        string
	Source     string
	Raw        string
	Extension  string // set when mapped from an extension
	Candidates []Candidate
}

var (
	e164RE   = regexp.MustCompile(`^\+[1-9]\d{1,14}$`)
	digitsRE = regexp.MustCompile(`^\d{1,8}$`)
)

// IsE164 reports the strict E.164 form ^\+[1-9]\d{1,14}$.
func IsE164(s string) bool { return e164RE.MatchString(s) }

// NormalizeE164 turns a number written as people and carriers do (+1 647-849-1000,
// (647) 849 1000, 0049…, 011…) into E.164 using defaultCountry for national forms.
func NormalizeE164(s, defaultCountry string) (string, error) {
	clean := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '(', ')', '\t':
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if clean == "" || len(clean) > 20 || strings.Trim(clean, "+0123456789") != "" || strings.LastIndexByte(clean, '+') > 0 {
		return "", ErrNotE164
	}
	region := strings.ToUpper(defaultCountry)
	if region == "" {
		region = "US"
	}
	pn, err := phonenumbers.Parse(clean, region)
	if err != nil || !phonenumbers.IsValidNumber(pn) {
		return "", ErrNotE164
	}
	out := phonenumbers.Format(pn, phonenumbers.E164)
	if !IsE164(out) {
		return "", ErrNotE164
	}
	return out, nil
}

// userOf extracts the user part of a header value: a name-addr, a bare
// URI or a bare number.
func userOf(v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	if strings.ContainsAny(v, "<:") {
		var u sip.Uri
		hp := sip.NewParams()
		if _, err := sip.ParseAddressValue(v, &u, &hp); err != nil {
			return ""
		}
		user := u.User
		if strings.EqualFold(u.Scheme, "tel") {
			user = u.Raw()
		}
		user, _, _ = strings.Cut(user, ";") // ;phone-context=…, ;isub=…
		return user
	}
	return v
}

// splitEntries splits a header value holding several comma-separated entries,
// ignoring commas inside <…> and quotes.
func splitEntries(v string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			quoted = !quoted
		case '<':
			if !quoted {
				depth++
			}
		case '>':
			if !quoted && depth > 0 {
				depth--
			}
		case ',':
			if depth == 0 && !quoted {
				out = append(out, strings.TrimSpace(v[start:i]))
				start = i + 1
			}
		}
	}
	if rest := strings.TrimSpace(v[start:]); rest != "" {
		out = append(out, rest)
	}
	return out
}

func values(vars Vars, names ...string) []string {
	for _, n := range names {
		var out []string
		for _, v := range vars(n) {
			out = append(out, splitEntries(v)...)
		}
		if len(out) > 0 {
			return out
		}
	}
	return nil
}

// historyIndex orders History-Info entries by their index parameter (1 < 1.1 < 2).
func historyIndex(entry string) []int {
	_, params, _ := strings.Cut(entry[strings.LastIndexByte(entry, '>')+1:], "index=")
	params, _, _ = strings.Cut(params, ";")
	var idx []int
	for _, p := range strings.Split(strings.TrimSpace(params), ".") {
		n, err := strconv.Atoi(p)
		if err != nil {
			return []int{1 << 30}
		}
		idx = append(idx, n)
	}
	return idx
}

func lessIndex(a, b []int) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

// candidates lists what the headers say, in the documented order.
func candidates(vars Vars, o Options) []Candidate {
	var out []Candidate
	add := func(source, raw string) {
		user := userOf(raw)
		if user == "" || strings.HasPrefix(strings.ToLower(user), "gw+") {
			return
		}
		c := Candidate{Source: source, Raw: raw}
		if n, err := NormalizeE164(user, o.DefaultCountry); err == nil {
			c.E164 = n
		} else if digitsRE.MatchString(user) {
			c.Extension = user
		}
		out = append(out, c)
	}
	if div := values(vars, "variable_sip_i_diversion", "variable_sip_h_Diversion"); len(div) > 0 {
		add("diversion", div[len(div)-1]) // oldest redirection = original called number
	}
	if hist := values(vars, "variable_sip_i_history_info", "variable_sip_history_info"); len(hist) > 0 {
		sort.SliceStable(hist, func(i, j int) bool { return lessIndex(historyIndex(hist[i]), historyIndex(hist[j])) })
		add("history-info", hist[0])
	}
	for _, h := range []struct{ source, header, lower string }{
		{"x-original-called", "X-Original-Called", "x_original_called"},
		{"x-original-number", "X-Original-Number", "x_original_number"},
		{"x-forwarded-to", "X-Forwarded-To", "x_forwarded_to"},
		{"x-original-to", "X-Original-To", "x_original_to"},
		{"p-called-party-id", "P-Called-Party-ID", "p_called_party_id"},
	} {
		if v := values(vars, "variable_sip_h_"+h.header, "variable_sip_i_"+h.lower); len(v) > 0 {
			add(h.source, v[0])
		}
	}
	for _, v := range vars("variable_sip_req_user") {
		add("request-uri", v)
		break
	}
	for _, v := range vars("variable_sip_to_user") {
		add("to", v)
		break
	}
	return out
}

// Resolve finds the called DID (see the package documentation for the order).
func Resolve(vars Vars, o Options) (Result, error) {
	cands := candidates(vars, o)
	res := Result{Candidates: cands}
	pick := func(c Candidate) (Result, error) {
		res.DID, res.Source, res.Raw = c.E164, c.Source, c.Raw
		return res, nil
	}
	if o.Known != nil {
		for _, c := range cands {
			if c.E164 != "" && o.Known(c.E164) {
				return pick(c)
			}
		}
	}
	for _, c := range cands {
		if c.E164 != "" {
			return pick(c)
		}
	}
	for _, c := range cands {
		if c.Extension == "" {
			continue
		}
		switch len(o.TrunkNumbers) {
		case 0:
			continue
		case 1:
			res.DID, res.Source, res.Raw, res.Extension = o.TrunkNumbers[0], "extension", c.Raw, c.Extension
			return res, nil
		default:
			dids := append([]string(nil), o.TrunkNumbers...)
			sort.Strings(dids)
			return res, &AmbiguousError{Extension: c.Extension, DIDs: dids}
		}
	}
	return res, ErrNoCandidate
}
