package adopt

import (
	"testing"

	"github.com/sipbridge/sipbridge/db"
)

// The answers FreeSWITCH 1.11.1 gave (e2e restart_adopt's switch).
const (
	showNone = "{\"row_count\": 0}\n"
	showOne  = `{"row_count":1,"rows":[{"uuid":"e00eb118-e7e5-4ced-8654-4c32285889e9","direction":"inbound","created":"2026-12-03 13:01:37","created_epoch":"1796302897","name":"sofia/external/+14165559595@127.0.0.95:49346","state":"CS_EXECUTE","cid_name":"+14165559595","cid_num":"+14165559595","ip_addr":"127.0.0.95","dest":"+16478499595","application":"playback","application_data":"/tmp/x.PCMU","dialplan":"XML","context":"public","read_codec":"PCMU","read_rate":"8000","read_bit_rate":"64000","write_codec":"PCMU","write_rate":"8000","write_bit_rate":"64000","secure":"","hostname":"vm","presence_id":"","presence_data":"","accountcode":"","callstate":"ACTIVE","callee_name":"","callee_num":"","callee_direction":"","call_uuid":"","sent_callee_name":"","sent_callee_num":"","initial_cid_name":"+14165559595","initial_cid_num":"+14165559595","initial_ip_addr":"127.0.0.95","initial_dest":"+16478499595","initial_dialplan":"XML","initial_context":"public"}]}`
)

func TestParseChannels(t *testing.T) {
	if chans, err := ParseChannels(showNone); err != nil || len(chans) != 0 {
		t.Fatalf("none: %v %v", chans, err)
	}
	chans, err := ParseChannels(showOne)
	if err != nil || len(chans) != 1 {
		t.Fatalf("one: %v %v", chans, err)
	}
	if c := chans[0]; c.UUID != "e00eb118-e7e5-4ced-8654-4c32285889e9" || c.Direction != "inbound" || !c.Answered() || c.Application != "playback" {
		t.Fatalf("one: %+v", c)
	}
	for _, bad := range []string{"-ERR no reply\n", "{", `{"row_count":2,"rows":[]}`} {
		if _, err := ParseChannels(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// Each open record gets its fate from the channels of its call.
func TestDecide(t *testing.T) {
	in, out := db.DirectionInbound, db.DirectionOutbound
	rec := func(id, sid, dir, status string) db.Call {
		return db.Call{ID: id, CallSID: sid, Direction: dir, Status: status}
	}
	open := []db.Call{
		rec("live", "u-live", in, db.CallInProgress),
		rec("old", "u-old", in, db.CallInProgress), // routed before sipbridge_call_id was set
		rec("routing", "u-routing", in, db.CallRinging),
		rec("ringing", "u-leg1", out, db.CallRinging),
		rec("bridged", "u-bridged", in, db.CallInProgress),
		rec("xfer-ringing", "u-xr", in, db.CallInProgress),
		rec("gone", "u-gone", in, db.CallInProgress),
		rec("there", "u-there", in, db.CallInProgress),
		rec("answered-unrecorded", "u-au", in, db.CallRinging),
		rec("table-behind", "u-tb", in, db.CallInProgress),
		rec("briefing", "u-br", in, db.CallInProgress),
	}
	chans := []Channel{
		{UUID: "u-live", CallState: "ACTIVE", CallID: "live"},
		{UUID: "u-old", CallState: "ACTIVE"},
		{UUID: "u-routing", CallState: "RINGING", CallID: "routing"},
		{UUID: "u-leg2", CallState: "EARLY", CallID: "ringing"}, // failover leg
		{UUID: "u-bridged", CallState: "ACTIVE", CallID: "bridged"},
		{UUID: "u-b-leg", CallState: "ACTIVE", CallID: "bridged", Leg: "transfer"},
		{UUID: "u-xr", CallState: "ACTIVE", CallID: "xfer-ringing"},
		{UUID: "u-xr-leg", CallState: "RINGING", CallID: "xfer-ringing", Leg: "transfer"},
		{UUID: "u-au", CallState: "ACTIVE", CallID: "answered-unrecorded"},
		{UUID: "u-tb", CallState: "RINGING", CallID: "table-behind"}, // the answer not yet in the table
		{UUID: "u-stranger", CallState: "ACTIVE", CallID: "another-database"},
		// A warm transfer's target, answered and being briefed: the caller
		// holds, not bridged to it.
		{UUID: "u-br", CallState: "ACTIVE", CallID: "briefing"},
		{UUID: "u-br-leg", CallState: "ACTIVE", CallID: "briefing", Leg: "warm"},
	}
	want := map[string]struct {
		action Action
		legs   int
		reason string
	}{
		"live":                {Adopt, 0, ""},
		"old":                 {Adopt, 0, ""},
		"routing":             {HangUp, 0, ReasonUnanswered},
		"ringing":             {HangUp, 1, ReasonUnanswered},
		"bridged":             {Watch, 1, ""},
		"xfer-ringing":        {Adopt, 1, ""},
		"gone":                {Close, 0, ReasonGone},
		"there":               {Leave, 0, ""},
		"answered-unrecorded": {HangUp, 0, ReasonUnanswered},
		"table-behind":        {Adopt, 0, ""},
		"briefing":            {Adopt, 1, ""},
	}
	ds := Decide(open, chans, func(c db.Call) bool { return c.ID == "there" })
	if len(ds) != len(open) {
		t.Fatalf("%d decisions for %d records", len(ds), len(open))
	}
	for _, d := range ds {
		w := want[d.Call.ID]
		if d.Action != w.action || len(d.Legs) != w.legs || d.Reason != w.reason {
			t.Errorf("%s: %s with %d legs, reason %q; want %s with %d, %q", d.Call.ID, d.Action, len(d.Legs), d.Reason, w.action, w.legs, w.reason)
		}
		if (d.Action == Adopt || d.Action == Watch) && (d.Channel == nil || d.Channel.UUID != d.Call.CallSID) {
			t.Errorf("%s: caller's channel %+v", d.Call.ID, d.Channel)
		}
	}
}

// FuzzParseChannels: `show channels as json` as the switch answers it (or
// anything an Event Socket peer sends instead) never panics, and every
// channel it returns names its uuid.
func FuzzParseChannels(f *testing.F) {
	f.Add(`{"row_count": 0}`)
	f.Add(`{"row_count":2,"rows":[{"uuid":"u-x","callstate":"ACTIVE"},{"uuid":"u-y","callstate":"RINGING"}]}`)
	f.Add("-ERR no reply\n")
	f.Add(`{"rows":[{"uuid":""}]}`)
	f.Fuzz(func(t *testing.T, body string) {
		chans, err := ParseChannels(body)
		if err != nil {
			return
		}
		for _, c := range chans {
			if c.UUID == "" {
				t.Fatalf("a channel without a uuid accepted: %+v", c)
			}
		}
	})
}

func TestStreamGone(t *testing.T) {
	bug := func(fn string) string {
		return " <media-bug>\n  <function>" + fn + "</function>\n  <target>N/A</target>\n  <thread-locked>0</thread-locked>\n </media-bug>\n"
	}
	for in, want := range map[string]bool{
		"<media-bugs>\n</media-bugs>":                                  true,
		"<media-bugs>\n" + bug("session_record") + "</media-bugs>":     true,
		"<media-bugs>\n" + bug("audio_stream") + "</media-bugs>":       false,
		"<media-bugs>\n" + bug("session_record") + bug("audio_stream"): false,
		"-ERR no reply": false, // no such channel: the stop's answer decides
		"":              false,
	} {
		if got := StreamGone(in); got != want {
			t.Errorf("StreamGone(%q) = %v, want %v", in, got, want)
		}
	}
}
