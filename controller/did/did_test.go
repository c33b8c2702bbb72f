package did_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/controller/did"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
)

// recordedVars returns the channel variables of a recording's CHANNEL_CREATE event.
func recordedVars(t testing.TB, rec string) did.Vars {
	frames, err := fstest.LoadRecording(rec)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if f.Dir != "s2c" || !strings.Contains(f.Raw, `"Event-Name":"CHANNEL_CREATE"`) {
			continue
		}
		_, body, _ := strings.Cut(f.Raw, "\n\n")
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatal(err)
		}
		return mapVars(m)
	}
	t.Fatalf("%s: no CHANNEL_CREATE", rec)
	return nil
}

func mapVars(m map[string]any) did.Vars {
	return func(name string) []string {
		switch v := m[name].(type) {
		case string:
			return []string{v}
		case []any:
			var out []string
			for _, x := range v {
				if s, ok := x.(string); ok {
					out = append(out, s)
				}
			}
			return out
		}
		return nil
	}
}

func TestRecordedInvites(t *testing.T) {
	cases := []struct {
		rec, did, source string
	}{
		{"inbound-headers-a.jsonl", "+16478491000", "diversion"},
		{"inbound-headers-b.jsonl", "+16478491000", "diversion"}, // two Diversions: the oldest (bottom) one
		{"inbound-headers-c.jsonl", "+16478491000", "history-info"},
		{"inbound-headers-d.jsonl", "+16478491000", "x-original-called"},
		{"inbound-headers-e.jsonl", "+16478491000", "p-called-party-id"},
		{"inbound-headers-f.jsonl", "+16478491000", "request-uri"},
		{"inbound-headers-g.jsonl", "+16478491000", "request-uri"},
		{"inbound-gw-registered.jsonl", "+16478491000", "diversion"},
		{"inbound-gw-registered-noext.jsonl", "+16478491000", "diversion"},
	}
	for _, c := range cases {
		t.Run(c.rec, func(t *testing.T) {
			r, err := did.Resolve(recordedVars(t, c.rec), did.Options{DefaultCountry: "CA"})
			if err != nil || r.DID != c.did || r.Source != c.source {
				t.Fatalf("got %q from %q (%v), want %q from %q; candidates %+v", r.DID, r.Source, err, c.did, c.source, r.Candidates)
			}
		})
	}
}

func vars(kv ...string) did.Vars {
	m := map[string][]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = append(m[kv[i]], kv[i+1])
	}
	return func(n string) []string { return m[n] }
}

func TestSelectionRules(t *testing.T) {
	// A registered gateway's R-URI user gw+name is no number; the To user is.
	r, err := did.Resolve(vars("variable_sip_req_user", "gw+o1_main", "variable_sip_to_user", "+16478491000"), did.Options{})
	if err != nil || r.DID != "+16478491000" || r.Source != "to" {
		t.Fatalf("gw+: %+v %v", r, err)
	}
	// Extension with exactly one number on the trunk: mapped.
	ext := vars("variable_sip_req_user", "9228", "variable_sip_to_user", "9228")
	r, err = did.Resolve(ext, did.Options{DefaultCountry: "US", TrunkNumbers: []string{"+16478491000"}})
	if err != nil || r.DID != "+16478491000" || r.Source != "extension" || r.Extension != "9228" {
		t.Fatalf("one number: %+v %v", r, err)
	}
	// Several: refused, naming them.
	_, err = did.Resolve(ext, did.Options{DefaultCountry: "US", TrunkNumbers: []string{"+16478491001", "+16478491000"}})
	var amb *did.AmbiguousError
	if !errors.Is(err, did.ErrAmbiguousExtension) || !errors.As(err, &amb) || amb.Extension != "9228" ||
		strings.Join(amb.DIDs, ",") != "+16478491000,+16478491001" || !strings.Contains(err.Error(), "+16478491001") {
		t.Fatalf("ambiguous: %v", err)
	}
	// None: no candidate.
	if _, err := did.Resolve(ext, did.Options{DefaultCountry: "US"}); !errors.Is(err, did.ErrNoCandidate) {
		t.Fatalf("no numbers: %v", err)
	}
	// A known number wins over an earlier unknown one.
	both := vars("variable_sip_h_Diversion", "<sip:+442079460018@pbx.example.com>", "variable_sip_req_user", "+16478491000")
	r, _ = did.Resolve(both, did.Options{Known: func(n string) bool { return n == "+16478491000" }})
	if r.DID != "+16478491000" || r.Source != "request-uri" {
		t.Fatalf("known preference: %+v", r)
	}
	r, _ = did.Resolve(both, did.Options{})
	if r.DID != "+442079460018" || r.Source != "diversion" {
		t.Fatalf("order without Known: %+v", r)
	}
	// A phone number later in the order beats an earlier extension.
	r, _ = did.Resolve(vars("variable_sip_req_user", "9228", "variable_sip_to_user", "6478491000"), did.Options{DefaultCountry: "CA", TrunkNumbers: []string{"+1", "+2"}})
	if r.DID != "+16478491000" || r.Source != "to" {
		t.Fatalf("number after extension: %+v", r)
	}
}

func TestNormalizeE164(t *testing.T) {
	for in, want := range map[string]string{
		"+1 (647) 849-1000": "+16478491000", "6478491000": "+16478491000", "16478491000": "+16478491000",
		"011 44 20 7946 0018": "+442079460018",
	} {
		if got, err := did.NormalizeE164(in, "US"); got != want || err != nil {
			t.Errorf("%q (US) = %q %v, want %q", in, got, err, want)
		}
	}
	if got, _ := did.NormalizeE164("020 7946 0018", "GB"); got != "+442079460018" {
		t.Errorf("GB national: %q", got)
	}
	if got, _ := did.NormalizeE164("0049 30 901820", "GB"); got != "+4930901820" {
		t.Errorf("00 prefix: %q", got)
	}
	for _, bad := range []string{"9228", "", "abc", "+", "+0123", "1+2", strings.Repeat("9", 25)} {
		if got, err := did.NormalizeE164(bad, "US"); err == nil {
			t.Errorf("%q accepted as %q", bad, got)
		}
	}
}

func FuzzResolve(f *testing.F) {
	for _, name := range []string{"inbound-headers-a.sip", "inbound-headers-b.sip", "inbound-headers-c.sip", "inbound-headers-d.sip", "inbound-headers-g.sip"} {
		if dir, err := fstest.RecordingsDir(); err == nil {
			if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
				for _, line := range strings.Split(string(b), "\r\n") {
					if k, v, ok := strings.Cut(line, ": "); ok && (k == "Diversion" || k == "History-Info" || k == "To") {
						f.Add(v, v, "9228", "US")
					}
				}
			}
		}
	}
	f.Add("<sip:+16478491000@h>;reason=x, <sip:1@h>", "<tel:+1;phone-context=x>", "gw+o1", "GB")
	f.Fuzz(func(t *testing.T, div, hist, user, cc string) {
		v := vars("variable_sip_i_diversion", div, "variable_sip_history_info", hist, "variable_sip_req_user", user, "variable_sip_to_user", user)
		r, err := did.Resolve(v, did.Options{DefaultCountry: cc, TrunkNumbers: []string{"+16478491000"}})
		if err == nil && !did.IsE164(r.DID) {
			t.Fatalf("resolved a non-E.164 DID %q", r.DID)
		}
	})
}

func FuzzNormalizeE164(f *testing.F) {
	f.Add("+1 (647) 849-1000", "US")
	f.Add("020 7946 0018", "GB")
	f.Fuzz(func(t *testing.T, s, cc string) {
		if n, err := did.NormalizeE164(s, cc); err == nil && !did.IsE164(n) {
			t.Fatalf("%q → %q", s, n)
		}
	})
}

func BenchmarkResolve(b *testing.B) {
	v := recordedVars(b, "inbound-headers-b.jsonl")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := did.Resolve(v, did.Options{DefaultCountry: "CA"}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestResolveFromSimulatedCall: a call offered by the simulator, received
// through our ESL client, resolves like the recorded one.
func TestResolveFromSimulatedCall(t *testing.T) {
	sw := fstest.New(fstest.Options{GenDir: t.TempDir()})
	if err := sw.Start(); err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	parks := make(chan *esl.Event, 4)
	cli := esl.New(sw.Addr(), "ClueCon", esl.WithEvents("CHANNEL_PARK"))
	cli.OnEvent(func(e *esl.Event) {
		if e.Name() == "CHANNEL_PARK" {
			parks <- e
		}
	})
	ctx := context.Background()
	cli.Start(ctx)
	defer cli.Close()
	if err := cli.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := sw.Call(fstest.InboundCall{FromUser: "+14165550100", RequestUser: "9228", Headers: map[string][]string{
		"Diversion":         {"<sip:+16478491001@pbx.example.com>;reason=unconditional", "<sip:+16478491000@pbx.example.com>;reason=user-busy"},
		"X-Original-Called": {"+15550000000"},
	}}); err != nil {
		t.Fatal(err)
	}
	var ev *esl.Event
	select {
	case ev = <-parks:
	case <-time.After(5 * time.Second):
		t.Fatal("no CHANNEL_PARK")
	}
	r, err := did.Resolve(ev.Values, did.Options{DefaultCountry: "CA"})
	if err != nil || r.DID != "+16478491000" || r.Source != "diversion" {
		t.Fatalf("resolved %+v, %v", r, err)
	}
}
