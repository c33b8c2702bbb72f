package transfer

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ReferTimeout is how long a REFER may take to succeed (FreeSWITCH itself
// waits 10 s for the answer to a REFER).
const ReferTimeout = 10 * time.Second

// referPoll is how often the REFER's answer is read while it is pending.
const referPoll = 200 * time.Millisecond

// ReferVars are set on the caller's channel (uuid_setvar) before the REFER
// (uuid_deflect). uuid_deflect copies every sip_h_* variable into the
// REFER, so the inbound X-/Diversion headers are excluded first
// (exclude_outgoing_extra_header is a regex on the variable name, read in
// sofia_glue_get_extra_headers). sip_refer_continue_after_reply keeps the
// call up whatever the REFER's fate (a real switch hangs up even after a
// declined REFER otherwise, as recorded); mod_sofia then answers the bgapi
// at once ("+OK:(null)") and the outcome comes later: the NOTIFY
// (sofia::notify_refer, sipfrag "SIP/2.0 200 OK", read by Notified) or a
// final answer to the REFER in sip_refer_status_code (603 …), read by
// polling (Refer.Poll). Nothing blocks the session meanwhile.
var ReferVars = []string{"exclude_outgoing_extra_header ^sip_h_", "sip_refer_continue_after_reply true"}

// Outcome is what is known of a REFER: undecided, or accepted or not, with
// the reply that said so.
type Outcome struct {
	Decided  bool
	Accepted bool
	Detail   string
}

// Refer is a REFER sent and not yet decided.
type Refer struct {
	Plan     *Plan // its BridgeTo is tried when the REFER is declined
	deadline time.Time
	Next     time.Time // next poll of the REFER's answer codes
}

// NewRefer follows the REFER of p, sent at now.
func NewRefer(p *Plan, now time.Time) *Refer {
	return &Refer{Plan: p, deadline: now.Add(ReferTimeout), Next: now.Add(referPoll)}
}

// Deflected reads the reply to the uuid_deflect bgapi: an error, or a
// switch that waited for the NOTIFY, decides at once.
func Deflected(out string, err error) Outcome {
	out = strings.TrimSpace(out)
	switch {
	case err != nil || strings.HasPrefix(out, "-ERR"):
		return Outcome{Decided: true, Detail: fmt.Sprintf("uuid_deflect: %s %v", out, err)}
	case strings.HasPrefix(out, "+OK:SIP/2.0 2"):
		return Outcome{Decided: true, Accepted: true, Detail: out}
	}
	return Outcome{}
}

// Notified reads the sipfrag of a sofia::notify_refer: a final status
// decides.
func Notified(frag string) Outcome {
	code := SipfragStatus(frag)
	switch {
	case code >= 200 && code < 300:
		return Outcome{Decided: true, Accepted: true, Detail: frag}
	case code >= 300:
		return Outcome{Decided: true, Detail: frag}
	}
	return Outcome{}
}

// Poll reads the REFER's answer codes (getvar: a channel variable as a
// number, 0 when unknown) once Next has come; at the deadline it gives up.
func (r *Refer) Poll(now time.Time, getvar func(name string) int) Outcome {
	if now.Before(r.Next) {
		return Outcome{}
	}
	r.Next = now.Add(referPoll)
	if code := getvar("sip_refer_status_code"); code >= 300 {
		return Outcome{Decided: true, Detail: "REFER answered " + strconv.Itoa(code)}
	}
	if code := getvar("sip_refer_target_status_code"); code >= 200 {
		return Outcome{Decided: true, Accepted: code < 300, Detail: "transfer target answered " + strconv.Itoa(code)}
	}
	if !now.Before(r.deadline) {
		return Outcome{Decided: true, Detail: "no answer to the REFER within " + ReferTimeout.String()}
	}
	return Outcome{}
}

// SipfragStatus reads the status code of a message/sipfrag body
// ("SIP/2.0 200 OK"); 0 when it is not one.
func SipfragStatus(frag string) int {
	rest, ok := strings.CutPrefix(frag, "SIP/2.0 ")
	if !ok || len(rest) < 3 {
		return 0
	}
	n, err := strconv.Atoi(rest[:3])
	if err != nil {
		return 0
	}
	return n
}
