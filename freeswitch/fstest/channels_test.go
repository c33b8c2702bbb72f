package fstest

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/recording"
)

// channelEventNames lists a recording's channel event names in order
// (HEARTBEAT, RE_SCHEDULE and API left out).
func channelEventNames(t *testing.T, rec string) []string {
	frames, err := recording.LoadRecording(rec)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range frames {
		if f.Dir != "s2c" || !strings.Contains(f.Raw, "text/event-json") {
			continue
		}
		_, body, _ := strings.Cut(f.Raw, "\n\n")
		var m map[string]any
		json.Unmarshal([]byte(body), &m)
		switch n, _ := m["Event-Name"].(string); n {
		case "HEARTBEAT", "RE_SCHEDULE", "API", "CUSTOM", "":
		default:
			out = append(out, n+"/"+m["Channel-State"].(string))
		}
	}
	return out
}

func TestInboundCallEventsAsRecorded(t *testing.T) {
	s := New(asRecorded(Options{GenDir: t.TempDir()}))
	s.Start()
	defer s.Close()
	c := dial(t, s)
	c.send("auth ClueCon\n\n")
	c.reply()
	c.send("event json ALL\n\n")
	c.reply()
	id, err := s.Call(InboundCall{FromUser: "+14165550100", RequestUser: "9228",
		Headers: map[string][]string{"Diversion": {"<sip:+16478491001@pbx.example.com>;reason=unconditional;counter=1", "<sip:+16478491000@pbx.example.com>;reason=user-busy;counter=1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if r := s.exec("uuid_answer " + id); r != "+OK\n" {
		t.Fatalf("uuid_answer %q", r)
	}
	if r := s.exec("uuid_kill " + id); r != "+OK\n" {
		t.Fatalf("uuid_kill %q", r)
	}
	if r := s.exec("uuid_kill " + id); !strings.HasPrefix(r, "-ERR") {
		t.Fatalf("second kill %q", r)
	}
	var got []string
	var create map[string]any
	for len(got) < len(channelEventNames(t, "inbound-answer-hangup.jsonl")) {
		_, body, _ := strings.Cut(c.frame(), "\n\n")
		var m map[string]any
		json.Unmarshal([]byte(body), &m)
		got = append(got, m["Event-Name"].(string)+"/"+m["Channel-State"].(string))
		if m["Event-Name"] == "CHANNEL_CREATE" {
			create = m
		}
	}
	if want := channelEventNames(t, "inbound-answer-hangup.jsonl"); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("events\n got  %v\n want %v", got, want)
	}
	// The repeated header is an array, top first; sip_h_ keeps the bottom one (inbound-headers-b).
	arr, ok := create["variable_sip_i_diversion"].([]any)
	if !ok || len(arr) != 2 || !strings.Contains(arr[0].(string), "491001") ||
		!strings.Contains(create["variable_sip_h_Diversion"].(string), "491000") || create["Caller-Destination-Number"] != "9228" {
		t.Fatalf("CHANNEL_CREATE variables: %v %v", create["variable_sip_i_diversion"], create["variable_sip_h_Diversion"])
	}
}

// TestDefaultDialplanIsShipped: the simulator's default dialplan is the
// public context of freeswitch/conf, action for action.
func TestDefaultDialplanIsShipped(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "conf", "dialplan", "public.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range regexp.MustCompile(`<action application="([^"]*)"(?: data="([^"]*)")?\s*/>`).FindAllStringSubmatch(string(b), -1) {
		got = append(got, strings.TrimSpace(m[1]+" "+m[2]))
	}
	if want := DefaultDialplan(); !slices.Equal(got, want) {
		t.Fatalf("freeswitch/conf/dialplan/public.xml runs %q, DefaultDialplan() is %q", got, want)
	}
}

// TestInboundCallShippedProfile: with freeswitch/conf's profile and
// dialplan (the defaults), as e2e TestConformance saw on a real switch:
// CHANNEL_EXECUTE and _COMPLETE (_none_) of each set before park, their
// variables on the channel; the profile negotiates late, so uuid_answer
// fires CODEC ×2, PROGRESS_MEDIA and CALLSTATE EARLY before ANSWER; at the
// hangup park's EXECUTE_COMPLETE carries
// the last application response.
func TestInboundCallShippedProfile(t *testing.T) {
	s := newSwitch(t, Options{})
	l := newESLLog(t, s)
	id, err := s.Call(InboundCall{FromUser: "+14165550100", RequestUser: "9228"})
	if err != nil {
		t.Fatal(err)
	}
	if r := body(l.api("uuid_getvar " + id + " sipbridge_inbound")); r != "true" {
		t.Errorf("sipbridge_inbound %q", r)
	}
	l.api("uuid_answer " + id)
	l.wait("CHANNEL_ANSWER", 5*time.Second)
	l.api("uuid_broadcast " + id + " " + filepath.Join(t.TempDir(), "none.wav") + " aleg")
	l.wait("PRIVATE_COMMAND", 5*time.Second)
	l.api("uuid_kill " + id)
	l.wait("CHANNEL_DESTROY", 5*time.Second)
	var got []string
	for _, e := range l.seen {
		if e.h["Unique-ID"] != id {
			continue
		}
		item := e.kind() + "/" + e.h["Channel-Call-State"]
		if a := e.h["Application"]; a != "" {
			item += " " + strings.Join(strings.Fields(a+" "+e.h["Application-Data"]+" "+e.h["Application-Response"]), " ")
		}
		got = append(got, item)
	}
	want := []string{"CHANNEL_STATE/DOWN", "CHANNEL_STATE/DOWN", "CHANNEL_CREATE/DOWN", "CHANNEL_CALLSTATE/RINGING",
		"CHANNEL_STATE/RINGING", "CHANNEL_STATE/RINGING",
		"CHANNEL_EXECUTE/RINGING set sipbridge_inbound=true", "CHANNEL_EXECUTE_COMPLETE/RINGING set sipbridge_inbound=true _none_",
		"CHANNEL_EXECUTE/RINGING set hangup_after_bridge=true", "CHANNEL_EXECUTE_COMPLETE/RINGING set hangup_after_bridge=true _none_",
		"CHANNEL_EXECUTE/RINGING set continue_on_fail=true", "CHANNEL_EXECUTE_COMPLETE/RINGING set continue_on_fail=true _none_",
		"CHANNEL_EXECUTE/RINGING park", "CHANNEL_PARK/RINGING", "CODEC/RINGING", "CODEC/RINGING", "CHANNEL_PROGRESS_MEDIA/RINGING",
		"CHANNEL_CALLSTATE/EARLY", "CHANNEL_ANSWER/EARLY", "CHANNEL_CALLSTATE/ACTIVE"}
	if len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
		t.Fatalf("events\n got  %q\n want %q…", got, want)
	}
	if !slices.Contains(got, "CHANNEL_EXECUTE_COMPLETE/ACTIVE park FILE NOT FOUND") {
		t.Errorf("no EXECUTE_COMPLETE of park with the broadcast's response at the hangup: %q", got[len(want):])
	}
	// The offer is negotiated at the answer: codecs from the first CODEC
	// event on, none before; no caller profile at CS_NEW; the state
	// headers of a real switch.
	negotiated := false
	for _, e := range l.seen {
		if e.h["Unique-ID"] != id {
			continue
		}
		state, name := e.h["Channel-State"], e.kind()
		negotiated = negotiated || name == "CODEC"
		_, codec := e.h["Channel-Read-Codec-Name"]
		_, caller := e.h["Caller-Unique-ID"]
		first := name == "CHANNEL_STATE" && state == "CS_NEW"
		if codec != negotiated || caller == first || e.h["Channel-HIT-Dialplan"] != "true" {
			t.Errorf("%s/%s: codec headers %v, caller profile %v, HIT-Dialplan %q", name, state, codec, caller, e.h["Channel-HIT-Dialplan"])
		}
		if name == "CHANNEL_CREATE" && e.h["Channel-State-Number"] != "2" || name == "CHANNEL_HANGUP" && e.h["Channel-State-Number"] != "10" {
			t.Errorf("%s Channel-State-Number %q", name, e.h["Channel-State-Number"])
		}
	}
}

// channelHeaderNames lists, per channel event, its kind,
// Channel-State and the names of its headers without the channel
// variables and the standard ones.
func channelHeaderNames(evs []ev, id string) []string {
	std := map[string]bool{}
	for _, k := range standardHeaders {
		std[k] = true
	}
	var out []string
	for _, e := range evs {
		if e.h["Unique-ID"] != id {
			continue
		}
		var names []string
		for _, k := range e.keys {
			if !std[k] && !strings.HasPrefix(k, "variable_") {
				names = append(names, k)
			}
		}
		slices.Sort(names)
		out = append(out, e.kind()+"/"+e.h["Channel-State"]+" "+e.h["Channel-State-Number"]+" "+strings.Join(names, ","))
	}
	return out
}

// TestInboundCallHeaderNamesAsRecorded: every channel event of an
// answered and killed call has the recorded header names (the channel
// variables aside) and Channel-State-Number (inbound-answer-hangup).
func TestInboundCallHeaderNamesAsRecorded(t *testing.T) {
	frames, err := recording.LoadRecording("inbound-answer-hangup.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var rec []ev
	for _, f := range frames {
		if f.Dir == "s2c" && isEventFrame(f.Raw) {
			e, err := parseEvent(f.Raw)
			if err != nil {
				t.Fatal(err)
			}
			rec = append(rec, e)
		}
	}
	recID := ""
	for _, e := range rec {
		if e.h["Event-Name"] == "CHANNEL_CREATE" {
			recID = e.h["Unique-ID"]
			break
		}
	}
	want := channelHeaderNames(rec, recID)

	s := newSwitch(t, asRecorded(Options{}))
	l := newESLLog(t, s)
	id := answeredCall(t, s, l, InboundCall{})
	l.api("uuid_kill " + id)
	l.wait("CHANNEL_DESTROY", 5*time.Second)
	l.none("", 100*time.Millisecond)
	got := channelHeaderNames(l.seen, id)
	if len(got) != len(want) {
		t.Fatalf("%d channel events, want %d:\n got  %q\n want %q", len(got), len(want), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d:\n got  %s\n want %s", i, got[i], want[i])
		}
	}
}

// TestInviteACL: Invite lets in a source allowed by one of the profile's
// inbound lists (sip_acl_authed_by names it) and refuses any other with
// the recorded sequence and header names (inbound-acl-denied).
func TestInviteACL(t *testing.T) {
	s := newSwitch(t, Options{})
	gen := s.Options().GenDir
	writeFile(t, gen, "acl/t1.xml", aclFile("t1", "127.0.0.1/32"))
	writeFile(t, gen, "profile/inbound.xml", profileFile("t1"))
	s.exec("reloadacl")
	s.exec("sofia profile external rescan")
	l := newESLLog(t, s)
	id, err := s.Invite(InboundCall{FromUser: "+14165550100", RequestUser: "9228"})
	if err != nil {
		t.Fatal(err)
	}
	if r := body(l.api("uuid_getvar " + id + " sip_acl_authed_by")); r != "t1" {
		t.Errorf("sip_acl_authed_by %q", r)
	}
	l.api("uuid_kill " + id)
	l.wait("CHANNEL_DESTROY", 5*time.Second)

	denied, err := s.Invite(InboundCall{FromUser: "+14165550100", RequestUser: "9228", NetworkIP: "127.0.0.2"})
	if !errors.Is(err, ErrCallRejected) {
		t.Fatalf("Invite from 127.0.0.2: %v", err)
	}
	l.wait("CHANNEL_DESTROY", 5*time.Second)
	l.none("", 100*time.Millisecond)
	frames, err := recording.LoadRecording("inbound-acl-denied.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var rec []ev
	recID := ""
	for _, f := range frames {
		if f.Dir == "s2c" && isEventFrame(f.Raw) {
			e, err := parseEvent(f.Raw)
			if err != nil {
				t.Fatal(err)
			}
			if recID == "" && e.h["Unique-ID"] != "" {
				recID = e.h["Unique-ID"]
			}
			rec = append(rec, e)
		}
	}
	got, want := channelHeaderNames(l.seen, denied), channelHeaderNames(rec, recID)
	if !slices.Equal(got, want) {
		t.Errorf("refused INVITE:\n got  %q\n want %q", got, want)
	}
}
