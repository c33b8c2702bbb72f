package trunkdial

import (
	"errors"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
)

// Current follows only the originate started last: events of another
// dial are not its legs; an answered leg whose events never came is
// asked of its channel.
func TestCurrent(t *testing.T) {
	var c Current
	now := func() time.Time { return time.Unix(1_800_000_000, 0) }
	noAsk := func(string) (string, error) { return "", errors.New("not asked") }
	if att, tr := c.Attempts("", "X", now, noAsk); att != nil || tr != nil {
		t.Fatalf("nothing followed: %v %v", att, tr)
	}
	trunks := []db.SIPTrunk{{ID: "t1", Name: "One"}, {ID: "t2", Name: "Two"}}
	c.Start("old", trunks)
	c.Start("d1", trunks)
	for _, e := range []struct{ dial, uuid, trunk string }{{"old", "x", "t1"}, {"d1", "a", "t1"}, {"", "b", "t1"}} {
		ev := legEvent("CHANNEL_CREATE", e.uuid, e.trunk, "")
		ev.Headers["variable_sipbridge_dial"] = e.dial
		c.Observe(ev, now())
		ev = legEvent("CHANNEL_HANGUP", e.uuid, e.trunk, "USER_BUSY")
		ev.Headers["variable_sipbridge_dial"] = e.dial
		c.Observe(ev, now())
	}
	asked := ""
	att, tr := c.Attempts("z", "", now, func(leg string) (string, error) { asked = leg; return "t2\n", nil })
	if asked != "z" || tr == nil || tr.ID != "t2" || len(att) != 2 || att[0].Leg != "a" || att[0].Cause != "USER_BUSY" || att[1].Cause != "ANSWER" {
		t.Fatalf("asked %q, attempts %+v, trunk %+v", asked, att, tr)
	}
}
