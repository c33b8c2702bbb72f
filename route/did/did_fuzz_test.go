package did_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/recording"
	"github.com/sipbridge/sipbridge/route/did"
)

// sipSeeds reads the recorded INVITEs (*.sip): for each, the Request-URI
// user and the values of the headers Resolve reads.
func sipSeeds(tb testing.TB) []map[string]string {
	dir, err := recording.RecordingsDir()
	if err != nil {
		tb.Logf("no recordings: %v", err)
		return nil
	}
	files, _ := filepath.Glob(filepath.Join(dir, "inbound-*.sip"))
	var out []map[string]string
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		head, _, _ := strings.Cut(string(b), "\r\n\r\n")
		lines := strings.Split(head, "\r\n")
		if !strings.HasPrefix(lines[0], "INVITE ") {
			continue
		}
		h := map[string]string{}
		if f := strings.Fields(lines[0]); len(f) > 1 {
			user, _, _ := strings.Cut(strings.TrimPrefix(f[1], "sip:"), "@")
			h["ruri"] = user
		}
		for _, l := range lines[1:] {
			if k, v, ok := strings.Cut(l, ":"); ok {
				k = strings.ToLower(strings.TrimSpace(k))
				if h[k] != "" {
					h[k] += ", "
				}
				h[k] += strings.TrimSpace(v)
			}
		}
		out = append(out, h)
	}
	return out
}

func FuzzResolve(f *testing.F) {
	for _, h := range sipSeeds(f) {
		f.Add(h["diversion"], h["history-info"], h["x-original-called"], h["p-called-party-id"], h["ruri"], h["to"], "CA", "+16478491000")
	}
	f.Add("<sip:+16478491001@pbx>;reason=unconditional, <sip:+16478491000@pbx>;reason=user-busy", "", "", "", "9228", "9228", "CA", "")
	f.Add("", `<sip:+16478491000@pbx.example.com>;index=1, <sip:9228@bridge.example.com?Reason=SIP%3Bcause%3D302>;index=1.1`, "", "", "9228", "9228", "US", "")
	f.Add(`"Doe, John" <tel:+1-647-849-1000;phone-context=+1>`, "", "sip:6478491000@h", "<tel:8491000;phone-context=+1-647>", "gw+org1_reg", "+16478491000", "", "")
	f.Add("", "", "", "", "9228", "9228", "DE", "+4930901820,+4930901821")
	f.Add("<sip:02079460018@h;user=phone>", "", "0049 30 901820", "", "%2B16478491000", "anonymous", "GB", "+442079460018")
	f.Fuzz(func(t *testing.T, div, hist, xoc, pcpi, ruri, to, cc, trunk string) {
		v := vars("variable_sip_i_diversion", div, "variable_sip_history_info", hist, "variable_sip_h_X-Original-Called", xoc,
			"variable_sip_i_p_called_party_id", pcpi, "variable_sip_req_user", ruri, "variable_sip_to_user", to)
		trunkNumbers := strings.Split(trunk, ",")
		// Known: numbers ending in an even digit are the platform's.
		known := func(n string) bool { return n != "" && (n[len(n)-1]-'0')%2 == 0 }
		for _, o := range []did.Options{
			{DefaultCountry: cc, TrunkNumbers: trunkNumbers},
			{DefaultCountry: cc, TrunkNumbers: trunkNumbers, Known: known},
		} {
			r, err := did.Resolve(v, o)
			for _, c := range r.Candidates {
				if c.E164 != "" && !did.IsE164(c.E164) {
					t.Fatalf("candidate %+v is not E.164", c)
				}
			}
			if err != nil {
				if !errors.Is(err, did.ErrNoCandidate) && !errors.Is(err, did.ErrAmbiguousExtension) {
					t.Fatalf("unexpected error %v", err)
				}
				if r.DID != "" {
					t.Fatalf("DID %q with error %v", r.DID, err)
				}
				continue
			}
			if !did.IsE164(r.DID) {
				t.Fatalf("resolved a non-E.164 DID %q", r.DID)
			}
			if r.Source == did.SourceExtension {
				if r.Extension == "" || !slices.ContainsFunc(trunkNumbers, func(n string) bool { return strings.TrimSpace(n) == r.DID }) {
					t.Fatalf("extension mapped to %q, trunk %q", r.DID, trunk)
				}
				continue
			}
			found := false
			for _, c := range r.Candidates {
				if c.E164 == r.DID && c.Source == r.Source && c.Raw == r.Raw {
					found = true
					break
				}
				// A known candidate earlier in the order would have won.
				if o.Known != nil && c.E164 != "" && known(c.E164) {
					t.Fatalf("%q from %q chosen over the known %+v", r.DID, r.Source, c)
				}
			}
			if !found {
				t.Fatalf("DID %q from %q is none of the candidates %+v", r.DID, r.Source, r.Candidates)
			}
		}
	})
}

func FuzzNormalizeE164(f *testing.F) {
	for _, h := range sipSeeds(f) {
		for _, k := range []string{"ruri", "from", "to", "diversion", "x-original-called"} {
			if v := h[k]; v != "" {
				f.Add(v, "CA")
			}
		}
	}
	for _, s := range [][2]string{
		{"+1 (647) 849-1000", "US"}, {"020 7946 0018", "GB"}, {"0049 (0)30 901820", "DE"}, {"011 44 20 7946 0018", "US"},
		{"tel:8491000;phone-context=+1-647", ""}, {"16478491000", "CA"}, {"9228", "DE"}, {"+44 (0)20 7946 0018", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, s, cc string) {
		n, err := did.NormalizeE164(s, cc)
		if err != nil {
			if !errors.Is(err, did.ErrNotE164) || n != "" {
				t.Fatalf("%q → %q, %v", s, n, err)
			}
			return
		}
		if !did.IsE164(n) {
			t.Fatalf("%q → %q: not E.164", s, n)
		}
		// The E.164 form reads back as itself, whatever the country.
		for _, c := range []string{"", cc} {
			if again, err := did.NormalizeE164(n, c); err != nil || again != n {
				t.Fatalf("%q → %q → %q, %v (country %q)", s, n, again, err, c)
			}
		}
	})
}
