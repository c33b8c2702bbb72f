package did_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/esl"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/recording"
	"github.com/sipbridge/sipbridge/route/did"
)

// recordedVars returns the channel variables of a recording's CHANNEL_CREATE
// event (text/event-json: a repeated header is a JSON array).
func recordedVars(t testing.TB, rec string) did.Vars {
	t.Helper()
	frames, err := recording.LoadRecording(rec)
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
			t.Fatalf("%s: %v", rec, err)
		}
		return jsonVars(m)
	}
	t.Fatalf("%s: no CHANNEL_CREATE", rec)
	return nil
}

// jsonVars adapts an event-json object to did.Vars.
func jsonVars(m map[string]any) did.Vars {
	return func(name string) []string {
		switch v := m[name].(type) {
		case string:
			return []string{v}
		case []any:
			out := make([]string, 0, len(v))
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

// without hides variables, as if FreeSWITCH had not set them.
func without(v did.Vars, names ...string) did.Vars {
	return func(n string) []string {
		if slices.Contains(names, n) {
			return nil
		}
		return v(n)
	}
}

func knownSet(nums ...string) func(string) bool {
	return func(n string) bool { return slices.Contains(nums, n) }
}

func TestResolveRecorded(t *testing.T) {
	allDiversion := []string{"variable_sip_i_diversion", "variable_sip_h_Diversion"}
	cases := []struct {
		name, rec string
		hide      []string
		opts      did.Options
		did       string
		source    string
		raw       string // "" = not checked
	}{
		{name: "a single Diversion", rec: "inbound-headers-a.jsonl", did: "+16478491000", source: "diversion",
			raw: "<sip:+16478491000@pbx.example.com>;reason=unconditional"},
		{name: "b two Diversions: the oldest (bottom) one", rec: "inbound-headers-b.jsonl", did: "+16478491000", source: "diversion",
			raw: "<sip:+16478491000@pbx.example.com>;reason=user-busy;counter=1"},
		{name: "b only sip_h_Diversion (the last header)", rec: "inbound-headers-b.jsonl", hide: []string{"variable_sip_i_diversion"},
			did: "+16478491000", source: "diversion"},
		{name: "b the oldest is not ours, the newer is", rec: "inbound-headers-b.jsonl", opts: did.Options{Known: knownSet("+16478491001")},
			did: "+16478491001", source: "diversion", raw: "<sip:+16478491001@pbx.example.com>;reason=unconditional;counter=1"},
		{name: "c History-Info first entry", rec: "inbound-headers-c.jsonl", did: "+16478491000", source: "history-info",
			raw: "<sip:+16478491000@pbx.example.com>;index=1"},
		{name: "c History-Info from the joined string only", rec: "inbound-headers-c.jsonl", hide: []string{"variable_sip_i_history_info"},
			did: "+16478491000", source: "history-info", raw: "<sip:+16478491000@pbx.example.com>;index=1"},
		{name: "d X-Original-Called first", rec: "inbound-headers-d.jsonl", did: "+16478491000", source: "x-original-called", raw: "+16478491000"},
		{name: "d sip_h_ names only", rec: "inbound-headers-d.jsonl",
			hide: []string{"variable_sip_i_x_original_called", "variable_sip_i_x_original_number", "variable_sip_i_x_forwarded_to", "variable_sip_i_x_original_to"},
			did:  "+16478491000", source: "x-original-called"},
		{name: "d Known picks X-Forwarded-To", rec: "inbound-headers-d.jsonl", opts: did.Options{Known: knownSet("+16478491003")},
			did: "+16478491003", source: "x-forwarded-to"},
		{name: "d without X-Original-Called", rec: "inbound-headers-d.jsonl", hide: []string{"variable_sip_i_x_original_called", "variable_sip_h_X-Original-Called"},
			did: "+16478491002", source: "x-original-number"},
		{name: "e P-Called-Party-ID", rec: "inbound-headers-e.jsonl", did: "+16478491000", source: "p-called-party-id",
			raw: "<sip:+16478491000@pbx.example.com>"},
		{name: "f Request-URI", rec: "inbound-headers-f.jsonl", did: "+16478491000", source: "request-uri"},
		{name: "g Request-URI with user=phone", rec: "inbound-headers-g.jsonl", did: "+16478491000", source: "request-uri"},
		{name: "g tel: To", rec: "inbound-headers-g.jsonl", hide: []string{"variable_sip_req_user", "variable_sip_req_uri"}, did: "+16478491000", source: "to"},
		{name: "g tel: To from sip_i_to", rec: "inbound-headers-g.jsonl", hide: []string{"variable_sip_req_user", "variable_sip_req_uri", "variable_sip_to_user"},
			did: "+16478491000", source: "to", raw: "<tel:+16478491000>"},
		// The recorded carrier INVITE also carries a Diversion naming the same number.
		{name: "registered gateway", rec: "inbound-gw-registered.jsonl", did: "+16478491000", source: "diversion"},
		{name: "registered gateway: To user, not gw+org1_reg", rec: "inbound-gw-registered.jsonl", hide: allDiversion,
			did: "+16478491000", source: "to", raw: "+16478491000"},
		{name: "registered gateway noext: To user", rec: "inbound-gw-registered-noext.jsonl", hide: allDiversion,
			did: "+16478491000", source: "to"},
		{name: "a extension 9228 with one trunk number", rec: "inbound-headers-a.jsonl", hide: allDiversion,
			opts: did.Options{TrunkNumbers: []string{"+16478491007"}}, did: "+16478491007", source: "extension", raw: "9228"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// National forms play no part here: the result is the same with
			// or without a default country.
			for _, cc := range []string{"CA", ""} {
				o := c.opts
				o.DefaultCountry = cc
				r, err := did.Resolve(without(recordedVars(t, c.rec), c.hide...), o)
				if err != nil || r.DID != c.did || r.Source != c.source || (c.raw != "" && r.Raw != c.raw) {
					t.Fatalf("country %q: got %q from %q raw %q (%v), want %q from %q raw %q; candidates %+v",
						cc, r.DID, r.Source, r.Raw, err, c.did, c.source, c.raw, r.Candidates)
				}
				for _, cand := range r.Candidates {
					if strings.HasPrefix(cand.User, "gw+") {
						t.Errorf("gateway user offered as a candidate: %+v", cand)
					}
				}
			}
		})
	}
}

// TestRecordedCandidateOrder: the log shows every value, in the order tried.
func TestRecordedCandidateOrder(t *testing.T) {
	r, err := did.Resolve(recordedVars(t, "inbound-headers-b.jsonl"), did.Options{DefaultCountry: "CA"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range r.Candidates {
		got = append(got, c.Source+"="+c.E164+c.Extension)
	}
	want := []string{"diversion=+16478491000", "diversion=+16478491001", "request-uri=9228", "to=9228"}
	if !slices.Equal(got, want) {
		t.Fatalf("candidates %v, want %v", got, want)
	}
}

func BenchmarkResolve(b *testing.B) {
	v := recordedVars(b, "inbound-headers-b.jsonl")
	o := did.Options{DefaultCountry: "CA", Known: knownSet("+16478491000")}
	b.ReportAllocs()
	for b.Loop() {
		if r, err := did.Resolve(v, o); err != nil || r.DID != "+16478491000" {
			b.Fatal(r, err)
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
