package fstest

import (
	"errors"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/esl"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/recording"
)

const referTarget = "sip:+15557654321@127.0.0.1:5099"

// setChanVar sets a channel variable as uuid_setvar would (uuid_setvar
// itself comes with the media emulation); false when there is no channel.
func setChanVar(s *Switch, id, name, value string) bool {
	ch, ok := s.channel(id)
	if !ok {
		return false
	}
	s.chans.mu.Lock()
	ch.vars["variable_"+name] = value
	s.chans.mu.Unlock()
	return true
}

// referCall is the answered inbound call of the refer-* recordings.
func referCall(t *testing.T, s *Switch, headers map[string][]string) string {
	t.Helper()
	id, err := s.Call(InboundCall{FromUser: "+14165550100", RequestUser: "9228", Headers: headers})
	if err != nil {
		t.Fatal(err)
	}
	if r := s.exec("uuid_answer " + id); r != "+OK\n" {
		t.Fatalf("uuid_answer: %q", r)
	}
	return id
}

var referHeadersA = map[string][]string{
	"Diversion":         {"<sip:+16478491000@pbx.example.com>;reason=unconditional"},
	"X-Custom-Tag":      {"abc123"},
	"X-Original-Called": {"+16478491000"},
}

// sipExtraHeaders reads the headers a recorded REFER carries after its
// Content-Length (the copied sip_h_* variables) and its Refer-To uri.
func sipExtraHeaders(t *testing.T, name string) (map[string]string, string) {
	t.Helper()
	p, err := recording.RecordingPath(name)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	out, referTo, after := map[string]string{}, "", false
	for _, l := range strings.Split(string(b), "\r\n") {
		k, v, ok := strings.Cut(l, ": ")
		switch {
		case !ok:
		case k == "Refer-To":
			referTo = strings.Trim(v, "<>")
		case k == "Content-Length":
			after = true
		case after:
			out[k] = v
		}
	}
	return out, referTo
}

// TestDeflectAcceptedAsRecorded: refer-deflect-accepted.jsonl and
// refer-received.sip.
func TestDeflectAcceptedAsRecorded(t *testing.T) {
	s := newSwitch(t, Options{Step: 10 * time.Millisecond, SIPAddr: "127.0.0.1:5082"})
	c := login(t, s, "json ALL CUSTOM sofia::notify_refer")
	cl := obClient(t, s)
	id := referCall(t, s, referHeadersA)
	c.drain()
	want, wantEvs := recordedCall(t, "refer-deflect-accepted.jsonl", "bgapi uuid_deflect")
	start := time.Now()
	r, err := obBGAPI(t, cl, "uuid_deflect "+id+" "+referTarget)
	if r != "+OK:SIP/2.0 200 OK\r\n\n" || err != nil {
		t.Fatalf("uuid_deflect: %q %v", r, err)
	}
	if el := time.Since(start); el < 8*time.Millisecond { // 0.4 s = 0.8 Step
		t.Errorf("reply after %v", el)
	}
	got, evs := c.callItems(len(want))
	obDiff(t, got, want)
	for i, e := range evs {
		switch e.kind() {
		case "sofia::notify_refer":
			if !slices.Equal(e.keys, wantEvs[i].keys) {
				t.Errorf("notify_refer keys\n got  %v\n want %v", e.keys, wantEvs[i].keys)
			}
			for _, k := range []string{"content-type", "event-package", "contact", "from", "to", "subscription-substate", "subscription-reason", "_body"} {
				if e.h[k] != wantEvs[i].h[k] {
					t.Errorf("notify_refer %s = %q, want %q", k, e.h[k], wantEvs[i].h[k])
				}
			}
			if e.h["UniqueID"] != id {
				t.Errorf("notify_refer UniqueID %q", e.h["UniqueID"])
			}
		case "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE":
			for _, k := range []string{"variable_sip_refer_status_code", "variable_sip_refer_target_status_code", "variable_sip_refer_reply"} {
				if e.h[k] != wantEvs[i].h[k] {
					t.Errorf("%s %s = %q, want %q", e.kind(), k, e.h[k], wantEvs[i].h[k])
				}
			}
		}
	}
	wantHeaders, wantTo := sipExtraHeaders(t, "refer-received.sip")
	refs := s.Refers(id)
	if len(refs) != 1 || refs[0].ReferTo != wantTo || refs[0].ReferredBy != "<sip:127.0.0.1:5082>" || !maps.Equal(refs[0].Headers, wantHeaders) {
		t.Errorf("REFER %+v, want Refer-To %s and headers %v", refs, wantTo, wantHeaders)
	}
	if len(s.Channels()) != 0 {
		t.Errorf("the transferred call is still up: %v", s.Channels())
	}
}

// TestDeflectDeclinedAsRecorded: refer-deflect-declined.jsonl: "+OK:no
// reply" after the 10 s wait, and the call is hung up anyway.
func TestDeflectDeclinedAsRecorded(t *testing.T) {
	s := newSwitch(t, Options{Step: 10 * time.Millisecond, SIPAddr: "127.0.0.1:5082"})
	s.SetReferOutcome("", ReferDecline)
	c := login(t, s, "json ALL CUSTOM sofia::notify_refer")
	cl := obClient(t, s)
	id := referCall(t, s, map[string][]string{"Diversion": referHeadersA["Diversion"], "X-Custom-Tag": {"abc123"}})
	c.drain()
	want, wantEvs := recordedCall(t, "refer-deflect-declined.jsonl", "bgapi uuid_deflect")
	start := time.Now()
	r, err := obBGAPI(t, cl, "uuid_deflect "+id+" "+referTarget)
	if r != "+OK:no reply\n" || err != nil {
		t.Fatalf("uuid_deflect: %q %v", r, err)
	}
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Errorf("reply after %v, want 10 s = 20 Steps", el)
	}
	got, evs := c.callItems(len(want))
	obDiff(t, got, want)
	for i, e := range evs {
		if e.kind() == "CHANNEL_HANGUP" && e.h["variable_sip_refer_status_code"] != wantEvs[i].h["variable_sip_refer_status_code"] {
			t.Errorf("sip_refer_status_code %q", e.h["variable_sip_refer_status_code"])
		}
	}
	wantHeaders, _ := sipExtraHeaders(t, "refer-declined-received.sip")
	if refs := s.Refers(id); len(refs) != 1 || !maps.Equal(refs[0].Headers, wantHeaders) {
		t.Errorf("REFER %+v, want headers %v", refs, wantHeaders)
	}
}

// TestDeflectContinueAfterReply: with sip_refer_continue_after_reply=true
// mod_sofia neither waits nor hangs up: "+OK:" at once, the call
// stays up whatever the answer; an accepted REFER still fires its NOTIFY.
func TestDeflectContinueAfterReply(t *testing.T) {
	for _, o := range []ReferOutcome{ReferDecline, ReferAccept} {
		s := newSwitch(t, Options{Step: 10 * time.Millisecond})
		c := login(t, s, "json ALL CUSTOM sofia::notify_refer")
		cl := obClient(t, s)
		id := referCall(t, s, referHeadersA)
		s.SetReferOutcome(id, o)
		if !setChanVar(s, id, "sip_refer_continue_after_reply", "true") {
			t.Fatal("setVar")
		}
		c.drain()
		start := time.Now()
		r, err := obBGAPI(t, cl, "uuid_deflect "+id+" "+referTarget)
		if r != "+OK:\n" || err != nil {
			t.Fatalf("outcome %d: %q %v", o, r, err)
		}
		if el := time.Since(start); el > 150*time.Millisecond {
			t.Errorf("outcome %d: reply after %v: nothing waits", o, el)
		}
		if o == ReferAccept {
			if e := c.event("sofia::notify_refer"); e.h["UniqueID"] != id || e.h["_body"] != "SIP/2.0 200 OK\r\n" {
				t.Errorf("notify_refer %v", e.h)
			}
		}
		time.Sleep(250 * time.Millisecond) // beyond the 10 s wait
		for _, e := range c.drain() {
			if strings.HasPrefix(e.kind(), "CHANNEL_HANGUP") {
				t.Errorf("outcome %d: %s", o, e.kind())
			}
		}
		ch, ok := s.channel(id)
		if !ok {
			t.Fatalf("outcome %d: the call was hung up", o)
		}
		s.chans.mu.Lock()
		code := ch.vars["variable_sip_refer_status_code"]
		s.chans.mu.Unlock()
		if want := map[ReferOutcome]string{ReferAccept: "202", ReferDecline: "603"}[o]; code != want {
			t.Errorf("outcome %d: sip_refer_status_code %v, want %s", o, code, want)
		}
		if len(s.Refers(id)) != 1 {
			t.Errorf("outcome %d: REFER not sent", o)
		}
	}
}

// TestDeflectExcludeHeaders: exclude_outgoing_extra_header is one regular
// expression over the variable names (sofia_glue_get_extra_headers).
func TestDeflectExcludeHeaders(t *testing.T) {
	all := []string{"Diversion", "X-Custom-Tag", "X-Original-Called"}
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{"", all},
		{"^sip_h_(X-|Diversion)", nil},
		{"X-Custom", []string{"Diversion", "X-Original-Called"}},
		{"^sip_h_x-", all}, // case matters
		{"/^sip_h_x-/i", []string{"Diversion"}},
		{"^X-", all},                                // the name with its sip_h_ prefix is matched
		{"(", all},                                  // does not compile: nothing excluded
		{"/^sip_h_X-", all},                         // missing ending '/': no match
		{"sip_h_X-Custom-Tag,sip_h_Diversion", all}, // not a list
	} {
		s := newSwitch(t, Options{Step: time.Millisecond})
		id := referCall(t, s, referHeadersA)
		if tc.expr != "" {
			setChanVar(s, id, "exclude_outgoing_extra_header", tc.expr)
		}
		if r := s.exec("uuid_deflect " + id + " " + referTarget); r != "+OK:SIP/2.0 200 OK\r\n\n" {
			t.Fatalf("%q: %q", tc.expr, r)
		}
		refs := s.Refers(id)
		if len(refs) != 1 {
			t.Fatalf("%q: refers %v", tc.expr, refs)
		}
		got := slices.Sorted(maps.Keys(refs[0].Headers))
		if !slices.Equal(got, tc.want) {
			t.Errorf("exclude %q: headers %v, want %v", tc.expr, got, tc.want)
		}
	}
}

func TestDeflectErrorsAndTargets(t *testing.T) {
	s := newSwitch(t, Options{Step: time.Millisecond})
	cl := obClient(t, s)
	r, err := obBGAPI(t, cl, "uuid_deflect 5f0e3e0a-0000-4000-8000-000000000000 "+referTarget)
	if r != "-ERR No such channel 5f0e3e0a-0000-4000-8000-000000000000!\n" || !errors.Is(err, esl.ErrCommand) {
		t.Errorf("unknown uuid: %q %v", r, err)
	}
	id := referCall(t, s, nil)
	for _, cmd := range []string{"uuid_deflect", "uuid_deflect " + id} {
		if r := s.exec(cmd); r != "-USAGE: <uuid> <uri>\n" {
			t.Errorf("%s: %q", cmd, r)
		}
	}
	if r := s.exec("uuid_deflect " + id + " +15557654321"); r != "+OK:SIP/2.0 200 OK\r\n\n" {
		t.Fatalf("deflect: %q", r)
	}
	if refs := s.Refers(id); len(refs) != 1 || refs[0].ReferTo != "sip:+15557654321@127.0.0.1" || len(refs[0].Headers) != 0 {
		t.Errorf("a bare target gets the profile's ip: %+v", refs)
	}
}

// TestDeflectUnanswered: uuid_deflect does not check the answer state; with
// no dialog nothing answers: "+OK:no reply" after 10 s, then BLIND_TRANSFER.
func TestDeflectUnanswered(t *testing.T) {
	s := newSwitch(t, Options{Step: 10 * time.Millisecond})
	c := login(t, s, "json ALL")
	id, err := s.Call(InboundCall{FromUser: "+14165550100", RequestUser: "9228"})
	if err != nil {
		t.Fatal(err)
	}
	c.drain()
	start := time.Now()
	if r := s.exec("uuid_deflect " + id + " " + referTarget); r != "+OK:no reply\n" {
		t.Fatalf("reply %q", r)
	}
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Errorf("reply after %v", el)
	}
	if e := c.event("CHANNEL_HANGUP"); e.h["Hangup-Cause"] != "BLIND_TRANSFER" {
		t.Errorf("cause %q", e.h["Hangup-Cause"])
	}
	if len(s.Refers(id)) != 0 {
		t.Errorf("a REFER went out without a dialog")
	}
}

// TestDeflectOutboundLeg: an originated leg is transferred the same way.
func TestDeflectOutboundLeg(t *testing.T) {
	s := outboundSwitch(t)
	c := login(t, s, "json ALL CUSTOM sofia::notify_refer")
	r := s.exec("originate {sip_h_X-Sipbridge-Call=c1}sofia/gateway/org1_uas/15551230000 &park()")
	id := strings.TrimSpace(strings.TrimPrefix(r, "+OK "))
	if r := s.exec("uuid_deflect " + id + " " + referTarget); r != "+OK:SIP/2.0 200 OK\r\n\n" {
		t.Fatalf("deflect: %q", r)
	}
	if e := c.event("sofia::notify_refer"); e.h["from"] != "15551230000@127.0.0.1" || e.h["UniqueID"] != id {
		t.Errorf("notify from the callee: %v", e.h)
	}
	if e := c.event("CHANNEL_HANGUP"); e.h["Hangup-Cause"] != "BLIND_TRANSFER" || e.h["Call-Direction"] != "outbound" {
		t.Errorf("hangup %v %v", e.h["Hangup-Cause"], e.h["Call-Direction"])
	}
	if refs := s.Refers(id); len(refs) != 1 || refs[0].Headers["X-Sipbridge-Call"] != "c1" {
		t.Errorf("refers %+v", refs)
	}
}
