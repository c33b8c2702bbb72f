package did_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/route/did"
)

// vars builds did.Vars from name, value pairs; a repeated name is a repeated
// header (a JSON array in event-json).
func vars(kv ...string) did.Vars {
	m := map[string][]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = append(m[kv[i]], kv[i+1])
	}
	return func(n string) []string { return m[n] }
}

const (
	ruser = "variable_sip_req_user"
	tuser = "variable_sip_to_user"
	divI  = "variable_sip_i_diversion"
	divH  = "variable_sip_h_Diversion"
	histI = "variable_sip_i_history_info"
	hist  = "variable_sip_history_info"
	xoc   = "variable_sip_h_X-Original-Called"
	pcpi  = "variable_sip_h_P-Called-Party-ID"
)

// pbxCall is a PBX's INVITE to extension 9228.
var pbxCall = []string{ruser, "9228", tuser, "9228"}

func TestResolveSelection(t *testing.T) {
	mobile := "<sip:+14165550199@pbx.example.com>;reason=unconditional"
	cases := []struct {
		name   string
		v      did.Vars
		o      did.Options
		did    string
		source string
		ext    string
		err    error
	}{
		{name: "extension, one trunk number: mapped", v: vars(pbxCall...),
			o: did.Options{DefaultCountry: "US", TrunkNumbers: []string{"+16478491000"}}, did: "+16478491000", source: "extension", ext: "9228"},
		{name: "extension, the same number twice: still one", v: vars(pbxCall...),
			o: did.Options{DefaultCountry: "US", TrunkNumbers: []string{"+16478491000", " +16478491000"}}, did: "+16478491000", source: "extension", ext: "9228"},
		{name: "extension, a malformed trunk entry is no number", v: vars(pbxCall...),
			o: did.Options{DefaultCountry: "US", TrunkNumbers: []string{"6478491001", "+16478491000", ""}}, did: "+16478491000", source: "extension", ext: "9228"},
		{name: "extension, two trunk numbers: ambiguous", v: vars(pbxCall...),
			o: did.Options{DefaultCountry: "US", TrunkNumbers: []string{"+16478491001", "+16478491000"}}, err: did.ErrAmbiguousExtension},
		{name: "extension, no trunk number", v: vars(pbxCall...), o: did.Options{DefaultCountry: "US"}, err: did.ErrNoCandidate},
		{name: "nothing at all", v: vars(), o: did.Options{DefaultCountry: "US", TrunkNumbers: []string{"+16478491000"}}, err: did.ErrNoCandidate},
		{name: "nil Vars", v: nil, o: did.Options{DefaultCountry: "US"}, err: did.ErrNoCandidate},
		{name: "a national To after an extension R-URI wins over the extension",
			v: vars(ruser, "9228", tuser, "6478491000"), o: did.Options{DefaultCountry: "CA", TrunkNumbers: []string{"+16478491001", "+16478491002"}},
			did: "+16478491000", source: "to"},
		{name: "Known nil: the first E.164 wins, even an outside number", v: vars(append([]string{divH, mobile}, pbxCall...)...),
			o: did.Options{DefaultCountry: "US", TrunkNumbers: []string{"+16478491000"}}, did: "+14165550199", source: "diversion"},
		{name: "Known says the Diversion is not ours: the trunk's single number", v: vars(append([]string{divH, mobile}, pbxCall...)...),
			o: did.Options{DefaultCountry: "US", TrunkNumbers: []string{"+16478491000"}, Known: knownSet("+16478491000")}, did: "+16478491000", source: "extension", ext: "9228"},
		{name: "Known says none is ours, two trunk numbers: the unknown E.164 for the caller to refuse", v: vars(append([]string{divH, mobile}, pbxCall...)...),
			o: did.Options{DefaultCountry: "US", TrunkNumbers: []string{"+16478491000", "+16478491001"}, Known: knownSet("+16478491000")}, did: "+14165550199", source: "diversion"},
		{name: "Known prefers a later candidate", v: vars(divH, "<sip:+442079460018@pbx.example.com>", ruser, "+16478491000"),
			o: did.Options{Known: knownSet("+16478491000")}, did: "+16478491000", source: "request-uri"},
		{name: "Known nil: order decides", v: vars(divH, "<sip:+442079460018@pbx.example.com>", ruser, "+16478491000"),
			did: "+442079460018", source: "diversion"},
		{name: "registration trunk: gw+ user skipped, To used", v: vars(ruser, "gw+o1_main", tuser, "+16478491000"),
			o: did.Options{TrunkNumbers: []string{"+16478491001"}}, did: "+16478491000", source: "to"},
		{name: "registration trunk: GW+ in any case", v: vars(ruser, "GW+12345", tuser, "6478491000"),
			o: did.Options{DefaultCountry: "CA"}, did: "+16478491000", source: "to"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := did.Resolve(c.v, c.o)
			if c.err != nil {
				if !errors.Is(err, c.err) || r.DID != "" {
					t.Fatalf("got %+v, %v; want error %v", r, err, c.err)
				}
				return
			}
			if err != nil || r.DID != c.did || r.Source != c.source || r.Extension != c.ext {
				t.Fatalf("got %q from %q ext %q (%v), want %q from %q ext %q; candidates %+v", r.DID, r.Source, r.Extension, err, c.did, c.source, c.ext, r.Candidates)
			}
		})
	}
}

func TestResolveAmbiguousNamesTheNumbers(t *testing.T) {
	r, err := did.Resolve(vars(pbxCall...), did.Options{DefaultCountry: "US", TrunkNumbers: []string{"+16478491001", "+16478491000"}})
	var amb *did.AmbiguousError
	if !errors.As(err, &amb) || amb.Extension != "9228" || strings.Join(amb.DIDs, ",") != "+16478491000,+16478491001" {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"9228", "+16478491000", "+16478491001", "ambiguous"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if len(r.Candidates) != 2 {
		t.Errorf("candidates for the log: %+v", r.Candidates)
	}
	_, err = did.Resolve(vars(pbxCall...), did.Options{DefaultCountry: "US"})
	if !errors.Is(err, did.ErrNoCandidate) || !strings.Contains(err.Error(), "9228") {
		t.Errorf("no trunk number: %v", err)
	}
}

func TestResolveAsksKnownOncePerNumber(t *testing.T) {
	asked := map[string]int{}
	known := func(n string) bool { asked[n]++; return false }
	v := vars(divI, "<sip:+16478491000@a>", divI, "<sip:+16478491000@b>", ruser, "+16478491000", tuser, "+16478491001")
	r, err := did.Resolve(v, did.Options{Known: known})
	if err != nil || r.DID != "+16478491000" || r.Source != "diversion" {
		t.Fatalf("got %+v %v", r, err)
	}
	if asked["+16478491000"] != 1 || asked["+16478491001"] != 1 || len(asked) != 2 {
		t.Fatalf("Known asked %v", asked)
	}
}

// TestResolveFormats: what carriers and PBXs put in each header.
func TestResolveFormats(t *testing.T) {
	cases := []struct {
		name    string
		kv      []string
		country string
		did     string // "" = ErrNoCandidate
		source  string
	}{
		{"Diversion list in one header, quoted comma in a display name",
			[]string{divI, `"Doe, John" <sip:+16478491001@pbx.example.com>;reason=unconditional, <sip:+16478491000@pbx.example.com>;reason=user-busy`}, "", "+16478491000", "diversion"},
		{"Diversion array and a list inside the last element",
			[]string{divI, "<sip:+16478491002@a>", divI, "<sip:+16478491001@b>, <sip:+16478491000@c>;counter=2"}, "", "+16478491000", "diversion"},
		{"Diversion national with user=phone", []string{divH, "<sip:6478491000@pbx.example.com;user=phone>;reason=unconditional;counter=1"}, "CA", "+16478491000", "diversion"},
		{"Diversion tel: with separators", []string{divH, `"Main" <tel:+1-647-849-1000>;reason=time-of-day`}, "", "+16478491000", "diversion"},
		{"Diversion sips:", []string{divH, "<sips:+16478491000@pbx.example.com:5061;transport=tls>;reason=deflection"}, "", "+16478491000", "diversion"},
		{"Diversion percent-encoded +", []string{divH, "<sip:%2B16478491000@pbx.example.com>"}, "", "+16478491000", "diversion"},
		{"Diversion GB national", []string{divH, "<sip:02079460018@pbx.example.co.uk>;reason=no-answer"}, "GB", "+442079460018", "diversion"},
		{"Diversion 011 prefix", []string{divH, "<sip:011442079460018@pbx.example.com>"}, "US", "+442079460018", "diversion"},
		{"user=phone number with a global phone-context", []string{divH, "<sip:6478491000;phone-context=+1@carrier.example.com;user=phone>"}, "", "+16478491000", "diversion"},
		{"tel: local number with an area phone-context", []string{pcpi, "<tel:849-1000;phone-context=+1-647>"}, "", "+16478491000", "p-called-party-id"},
		{"tel: local number with a domain phone-context needs the country", []string{pcpi, "<tel:6478491000;phone-context=example.com>"}, "CA", "+16478491000", "p-called-party-id"},
		{"tel: domain phone-context, no country", []string{pcpi, "<tel:6478491000;phone-context=example.com>"}, "", "", ""},
		{"History-Info out of order: lowest index", []string{hist, "<sip:+16478491009@b>;index=1.1, <sip:+16478491000@pbx>;index=1"}, "", "+16478491000", "history-info"},
		{"History-Info 1.2 before 2", []string{histI, "<sip:+16478491002@a>;index=2", histI, "<sip:+16478491001@b>;index=1.2", histI, "<sip:+16478491003@c>"},
			"", "+16478491001", "history-info"},
		{"History-Info escaped Reason and rc", []string{hist, "<sip:+16478491000@pbx.example.com?Reason=SIP%3Bcause%3D302%3Btext%3D%22Moved%2C%20Temporarily%22>;index=1;rc=1, <sip:9228@bridge>;index=1.1"},
			"", "+16478491000", "history-info"},
		{"History-Info entry that is no number is passed over", []string{hist, "<sip:alice@example.com>;index=1, <sip:+16478491000@pbx>;index=1.1"}, "", "+16478491000", "history-info"},
		{"X-Original-Called bare URI", []string{xoc, "sip:+16478491000@carrier.example.com"}, "", "+16478491000", "x-original-called"},
		{"X-Original-Called name-addr", []string{xoc, "<sip:6478491000@carrier.example.com>"}, "US", "+16478491000", "x-original-called"},
		{"X-Original-Called 11 digits", []string{xoc, "16478491000"}, "US", "+16478491000", "x-original-called"},
		{"X-Original-Called with separators", []string{xoc, "+1 (647) 849-1000"}, "", "+16478491000", "x-original-called"},
		{"X-Original-Called user@host", []string{xoc, "16478491000@carrier.example.com"}, "US", "+16478491000", "x-original-called"},
		{"X-Original-Called header in lower case", []string{"variable_sip_h_x-original-called", "+16478491000"}, "", "+16478491000", "x-original-called"},
		{"X-Original-To as a tel: URI", []string{"variable_sip_i_x_original_to", "tel:+16478491000;phone-context=+1"}, "", "+16478491000", "x-original-to"},
		{"P-Called-Party-ID with display name", []string{"variable_sip_i_p_called_party_id", `"Sales" <sip:+4930901820@carrier.de>`}, "", "+4930901820", "p-called-party-id"},
		{"DE national R-URI", []string{ruser, "030901820"}, "DE", "+4930901820", "request-uri"},
		{"DE 0049 R-URI", []string{ruser, "004930901820"}, "DE", "+4930901820", "request-uri"},
		{"R-URI from sip_req_uri", []string{"variable_sip_req_uri", "+16478491000@127.0.0.1:5080"}, "", "+16478491000", "request-uri"},
		// Not numbers.
		{"DE extension is no German number", []string{ruser, "9228"}, "DE", "", ""},
		{"US 7-digit local number", []string{ruser, "8491000"}, "US", "", ""},
		{"national form without a country", []string{ruser, "6478491000"}, "", "", ""},
		{"anonymous", []string{ruser, "anonymous", tuser, "anonymous"}, "US", "", ""},
		{"no user part", []string{divH, "<sip:pbx.example.com>;reason=unconditional"}, "US", "", ""},
		{"urn", []string{pcpi, "<urn:service:sos>"}, "US", "", ""},
		{"mailto", []string{xoc, "<mailto:calls@example.com>"}, "US", "", ""},
		{"unclosed bracket", []string{divH, "<sip:+16478491000@pbx.example.com;reason=x"}, "US", "", ""},
		{"zero country code", []string{ruser, "+0123456789"}, "", "", ""},
		{"too long", []string{ruser, "+1647849100012345"}, "", "", ""},
		{"unassigned country code", []string{ruser, "+999123456"}, "", "", ""},
		{"letters", []string{ruser, "+1647TOYOTA1"}, "", "", ""},
		{"Arabic-Indic digits", []string{ruser, "+١٦٤٧٨٤٩١٠٠٠"}, "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := did.Resolve(vars(c.kv...), did.Options{DefaultCountry: c.country})
			if c.did == "" {
				if !errors.Is(err, did.ErrNoCandidate) {
					t.Fatalf("got %q from %q (%v), want ErrNoCandidate; candidates %+v", r.DID, r.Source, err, r.Candidates)
				}
				return
			}
			if err != nil || r.DID != c.did || r.Source != c.source {
				t.Fatalf("got %q from %q (%v), want %q from %q; candidates %+v", r.DID, r.Source, err, c.did, c.source, r.Candidates)
			}
		})
	}
}

// TestResolveLongChain: a Diversion list of thousands of entries costs a
// bounded number of parses and still yields its oldest entry.
func TestResolveLongChain(t *testing.T) {
	var b strings.Builder
	for range 5000 {
		b.WriteString("<sip:+16478491009@pbx.example.com>;reason=deflection, ")
	}
	b.WriteString("<sip:+16478491000@pbx.example.com>;reason=unconditional")
	r, err := did.Resolve(vars(divI, b.String()), did.Options{})
	if err != nil || r.DID != "+16478491000" || len(r.Candidates) > 32 {
		t.Fatalf("got %q (%v) with %d candidates", r.DID, err, len(r.Candidates))
	}
}

// TestResolveGarbage: hostile values in every variable never panic and never
// yield anything but a strict E.164 DID.
func TestResolveGarbage(t *testing.T) {
	garbage := []string{
		"", " ", ",", ",,,", "<", ">", "<>", "<<<<", ">>>>", `"`, `"unterminated <sip:+16478491000@h>`, `\`, `"\`,
		";", ";;;", "=", ";index=", "sip:", "tel:", "sips:", "sip:@", "sip:@:", "<sip:@>", "<tel:>", "<tel:;phone-context=>",
		"tel:;phone-context=+", "<sip:[::1>", "<sip:[::1]:99999999999999999999>", "<sip:a@b:x>", "<sip:+1@h>;index=1.a.-1",
		"<sip:+16478491000@h>;index=" + strings.Repeat("9", 40), "%", "%zz", "%2", "\x00", "\xff\xfe", "+", "++", "+-",
		"gw+", "GW+", strings.Repeat("<", 10000), strings.Repeat("9", 10000), strings.Repeat(`"a,b", `, 3000),
		"<sip:" + strings.Repeat("1", 5000) + "@h>", "tel:+1;phone-context=+" + strings.Repeat("9", 100),
	}
	names := []string{divI, divH, histI, hist, xoc, "variable_sip_i_x_original_number", "variable_sip_h_X-Forwarded-To",
		"variable_sip_i_x_original_to", pcpi, ruser, "variable_sip_req_uri", tuser, "variable_sip_i_to"}
	for _, g := range garbage {
		for _, cc := range []string{"", "US", "GB", "DE", "xx", "ZZ", "001", "\x00"} {
			kv := []string{}
			for _, n := range names {
				kv = append(kv, n, g)
			}
			for _, trunk := range [][]string{nil, {"+16478491000"}, {g}, {"+16478491000", "+16478491001"}} {
				r, err := did.Resolve(vars(kv...), did.Options{DefaultCountry: cc, TrunkNumbers: trunk, Known: knownSet("+16478491000")})
				switch {
				case err == nil && !did.IsE164(r.DID):
					t.Fatalf("%q/%q: DID %q", g, cc, r.DID)
				case err != nil && !errors.Is(err, did.ErrNoCandidate) && !errors.Is(err, did.ErrAmbiguousExtension):
					t.Fatalf("%q/%q: error %v", g, cc, err)
				}
			}
		}
	}
}
