package trunkdial

import (
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
)

func legEvent(name, uuid, trunk, cause string) *esl.Event {
	return &esl.Event{Headers: map[string]string{"Event-Name": name, "Unique-ID": uuid, "variable_sipbridge_trunk_id": trunk, "Hangup-Cause": cause}}
}

// Each trunk's attempt comes from its leg's events; the originate's own
// cause only names a last trunk no leg was made for.
func TestAttempts(t *testing.T) {
	trunks := []db.SIPTrunk{{ID: "t1", Name: "One", GatewayName: "g1"}, {ID: "t2", Name: "Two", GatewayName: "g2"}, {ID: "t3", Name: "Three", GatewayName: "g3"}}
	t0 := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name     string
		events   []*esl.Event
		answered string
		final    string
		want     []string // causes in dial order
		trunk    string
	}{
		{"second answers", []*esl.Event{legEvent("CHANNEL_CREATE", "a", "t1", ""), legEvent("CHANNEL_HANGUP_COMPLETE", "a", "t1", "ALLOTTED_TIMEOUT"),
			legEvent("CHANNEL_CREATE", "b", "t2", ""), legEvent("CHANNEL_ANSWER", "b", "t2", "")}, "b", "", []string{"ALLOTTED_TIMEOUT", "ANSWER"}, "t2"},
		{"every trunk refuses", []*esl.Event{legEvent("CHANNEL_CREATE", "a", "t1", ""), legEvent("CHANNEL_HANGUP", "a", "t1", "USER_BUSY"),
			legEvent("CHANNEL_CREATE", "b", "t2", ""), legEvent("CHANNEL_HANGUP", "b", "t2", "NORMAL_TEMPORARY_FAILURE"),
			legEvent("CHANNEL_CREATE", "c", "t3", ""), legEvent("CHANNEL_HANGUP", "c", "t3", "CALL_REJECTED")}, "", "CALL_REJECTED",
			[]string{"USER_BUSY", "NORMAL_TEMPORARY_FAILURE", "CALL_REJECTED"}, ""},
		{"cancelled on the first", []*esl.Event{legEvent("CHANNEL_CREATE", "a", "t1", ""), legEvent("CHANNEL_HANGUP", "a", "t1", "ORIGINATOR_CANCEL")},
			"", "ORIGINATOR_CANCEL", []string{"ORIGINATOR_CANCEL", "NOT_TRIED", "NOT_TRIED"}, ""},
		{"last gateway down", []*esl.Event{legEvent("CHANNEL_CREATE", "a", "t1", ""), legEvent("CHANNEL_HANGUP", "a", "t1", "USER_BUSY")},
			"", "GATEWAY_DOWN", []string{"USER_BUSY", "NOT_TRIED", "GATEWAY_DOWN"}, ""},
		{"no leg at all", nil, "", "INVALID_GATEWAY", []string{"NOT_TRIED", "NOT_TRIED", "INVALID_GATEWAY"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTrack("d", trunks)
			for i, e := range tc.events {
				tr.Observe(e, t0.Add(time.Duration(i)*time.Second))
			}
			att, trunk := tr.Attempts(tc.answered, tc.final)
			var got []string
			for _, a := range att {
				got = append(got, a.Cause)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("causes %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("causes %v, want %v", got, tc.want)
				}
			}
			if (trunk == nil) != (tc.trunk == "") || (trunk != nil && trunk.ID != tc.trunk) {
				t.Fatalf("answering trunk %v, want %q", trunk, tc.trunk)
			}
			if len(tc.events) > 0 {
				select {
				case <-tr.Created:
				default:
					t.Fatal("created not signalled at the first leg")
				}
				if att[0].RingSeconds != 1 || att[0].Leg != "a" {
					t.Fatalf("first attempt %+v: rang 1 s on leg a", att[0])
				}
			}
		})
	}
}
