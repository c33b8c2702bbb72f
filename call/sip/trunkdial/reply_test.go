package trunkdial

import (
	"errors"
	"testing"

	"github.com/sipbridge/sipbridge/db"
)

// An originate's reply names the leg that answered, or why nobody did.
func TestReply(t *testing.T) {
	for _, c := range []struct {
		out               string
		err               error
		leg, final, cause string
		answered          bool
	}{
		{"+OK 5b1c-leg", nil, "5b1c-leg", "+OK 5b1c-leg", "+OK 5b1c-leg", true},
		{"-ERR NO_ANSWER", nil, "-ERR NO_ANSWER", "NO_ANSWER", "NO_ANSWER", false},
		{"", errors.New("timeout"), "", "", "timeout", false},
		{"-ERR USER_BUSY", errors.New("job failed"), "-ERR USER_BUSY", "USER_BUSY", "USER_BUSY", false},
		{"+OK 5b1c-leg", errors.New("late"), "5b1c-leg", "+OK 5b1c-leg", "+OK 5b1c-leg", false},
		{"+OK ", nil, "", "+OK", "+OK", false},
	} {
		leg, final, cause, answered := Reply(c.out, c.err)
		if leg != c.leg || final != c.final || cause != c.cause || answered != c.answered {
			t.Errorf("%q %v: %q %q %q %v", c.out, c.err, leg, final, cause, answered)
		}
	}
}

func TestDetail(t *testing.T) {
	d := Detail(db.JSONMap{"leg": "l"}, &db.SIPTrunk{ID: "t1", Name: "main", GatewayName: "gw1"})
	if d["leg"] != "l" || d["trunk_id"] != "t1" || d["trunk"] != "main" || d["gateway"] != "gw1" {
		t.Fatalf("%v", d)
	}
	if d := Detail(db.JSONMap{"leg": "l"}, nil); len(d) != 1 {
		t.Fatalf("no trunk: %v", d)
	}
}
