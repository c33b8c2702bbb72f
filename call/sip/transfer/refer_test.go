package transfer

import (
	"errors"
	"testing"
	"time"
)

// A REFER is decided by the first of: the uuid_deflect reply (an error, or
// a switch that waited for the NOTIFY), the NOTIFY's final status, the
// polled answer codes, or the deadline; until then it stays undecided.
func TestReferOutcome(t *testing.T) {
	for _, c := range []struct {
		name string
		got  Outcome
		want Outcome
	}{
		{"deflect queued", Deflected(" +OK:(null)\n", nil), Outcome{}},
		{"deflect refused", Deflected("-ERR no such channel\n", nil), Outcome{Decided: true, Detail: "uuid_deflect: -ERR no such channel <nil>"}},
		{"deflect not sent", Deflected("", errors.New("closed")), Outcome{Decided: true, Detail: "uuid_deflect:  closed"}},
		{"deflect waited", Deflected("+OK:SIP/2.0 202 Accepted\n", nil), Outcome{Decided: true, Accepted: true, Detail: "+OK:SIP/2.0 202 Accepted"}},
		{"notify trying", Notified("SIP/2.0 100 Trying"), Outcome{}},
		{"notify ok", Notified("SIP/2.0 200 OK"), Outcome{Decided: true, Accepted: true, Detail: "SIP/2.0 200 OK"}},
		{"notify busy", Notified("SIP/2.0 486 Busy Here"), Outcome{Decided: true, Detail: "SIP/2.0 486 Busy Here"}},
		{"notify garbage", Notified("HTTP/1.1 200 OK"), Outcome{}},
	} {
		if c.got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, c.got, c.want)
		}
	}
}

func TestReferPoll(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	vars := map[string]int{}
	asked := 0
	getvar := func(name string) int { asked++; return vars[name] }
	r := NewRefer(&Plan{To: "sip:bob@10.0.0.5"}, t0)
	if o := r.Poll(t0.Add(100*time.Millisecond), getvar); o.Decided || asked != 0 {
		t.Fatalf("polled before its time: %+v, %d reads", o, asked)
	}
	if o := r.Poll(t0.Add(200*time.Millisecond), getvar); o.Decided || asked != 2 {
		t.Fatalf("nothing answered yet: %+v, %d reads", o, asked)
	}
	if want := t0.Add(400 * time.Millisecond); !r.Next.Equal(want) {
		t.Fatalf("next poll %v, want %v", r.Next, want)
	}
	vars["sip_refer_target_status_code"] = 486
	if o := r.Poll(r.Next, getvar); o != (Outcome{Decided: true, Detail: "transfer target answered 486"}) {
		t.Fatalf("target busy: %+v", o)
	}
	vars["sip_refer_target_status_code"] = 200
	if o := r.Poll(r.Next, getvar); o != (Outcome{Decided: true, Accepted: true, Detail: "transfer target answered 200"}) {
		t.Fatalf("target answered: %+v", o)
	}
	vars["sip_refer_status_code"] = 603
	if o := r.Poll(r.Next, getvar); o != (Outcome{Decided: true, Detail: "REFER answered 603"}) {
		t.Fatalf("REFER declined: %+v", o)
	}
	r = NewRefer(&Plan{}, t0)
	clear(vars)
	if o := r.Poll(t0.Add(ReferTimeout-time.Millisecond), getvar); o.Decided {
		t.Fatalf("decided before the deadline: %+v", o)
	}
	if o := r.Poll(r.Next, getvar); o != (Outcome{Decided: true, Detail: "no answer to the REFER within 10s"}) {
		t.Fatalf("past the deadline: %+v", o)
	}
}
