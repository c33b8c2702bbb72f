package fstest

import (
	"maps"
	"net"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/sofia"
)

// Transfers: `uuid_deflect <uuid> <uri>` sends a REFER in the channel's
// dialog. As on a real switch (mod_commands.c uuid_deflect, mod_sofia.c
// sofia_receive_message SWITCH_MESSAGE_INDICATE_DEFLECT, sofia.c
// sofia_handle_sip_r_refer and sofia_handle_sip_i_notify, and the
// refer-deflect-*.jsonl recordings):
//
//   - a target without "sip:" becomes sip:<target>@<profile ip>; the REFER
//     carries Refer-To, Referred-By (the profile's contact) and every sip_h_*
//     channel variable as an extra header (see referHeaders);
//   - accepted (202, then NOTIFY "SIP/2.0 200 OK"): sofia::notify_refer,
//     sip_refer_status_code=202, sip_refer_target_status_code=200,
//     sip_refer_reply, the call hung up with BLIND_TRANSFER, and ~80 ms
//     later (the reply poll) the reply "+OK:SIP/2.0 200 OK\r\n\n"; the
//     channel's DESTROY follows the BACKGROUND_JOB (recorded);
//   - declined (603, no NOTIFY): sip_refer_status_code=603, the reply
//     "+OK:no reply\n" after the 10 s wait, and the call is hung up with
//     BLIND_TRANSFER anyway (recorded);
//   - with sip_refer_continue_after_reply=true set before, mod_sofia does
//     not wait and does not hang up: the reply comes at once with a NULL
//     string_reply, i.e. "+OK:\n" (the stream's switch_vmprintf,
//     switch_mprintf.c, prints a NULL %s as ""; read from the source, not
//     recorded), the 202/603 and the NOTIFY (event included) still arrive
//     later and the call stays up either way;
//   - an unknown uuid: "-ERR No such channel <uuid>!\n"; no uri:
//     "-USAGE: <uuid> <uri>\n". uuid_deflect does not look at the answer
//     state: on a channel that is not answered there is no dialog for the
//     REFER (not recorded), so here nothing is sent and it ends like a REFER
//     nobody answers: "+OK:no reply\n" after 10 s and BLIND_TRANSFER.
//
// Times: the 202/603 after 0.3 s, the NOTIFY after 0.32 s, the reply 0.08 s
// later; the declined wait is 10 s; all in switch seconds.

// ReferOutcome is how the far end answers the REFER.
type ReferOutcome int

const (
	ReferAccept  ReferOutcome = iota // 202 Accepted, then NOTIFY SIP/2.0 200 OK (refer-deflect-accepted.jsonl)
	ReferDecline                     // 603 Decline, no NOTIFY (refer-deflect-declined.jsonl)
)

// Refer is a REFER the switch sent.
type Refer struct {
	ReferTo    string            // e.g. sip:+15557654321@127.0.0.1:5099
	ReferredBy string            // e.g. <sip:127.0.0.1:5080>
	Headers    map[string]string // the extra headers: the sip_h_* variables (and sip_geolocation)
}

// SetReferOutcome sets how REFERs are answered: key is a channel uuid, a
// Refer-To uri as FreeSWITCH sends it, or "" for every other REFER. The
// default is ReferAccept.
func (s *Switch) SetReferOutcome(key string, o ReferOutcome) {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	if s.out.referOut == nil {
		s.out.referOut = map[string]ReferOutcome{}
	}
	s.out.referOut[key] = o
}

// Refers returns the REFERs sent in the dialog of channel uuid, in order.
func (s *Switch) Refers(uuid string) []Refer {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	out := make([]Refer, len(s.out.refers[uuid]))
	for i, r := range s.out.refers[uuid] {
		r.Headers = maps.Clone(r.Headers)
		out[i] = r
	}
	return out
}

func (s *Switch) referOutcome(id, referTo string) ReferOutcome {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	for _, k := range []string{id, referTo, ""} {
		if o, ok := s.out.referOut[k]; ok {
			return o
		}
	}
	return ReferAccept
}

// apiDeflect handles uuid_deflect; it blocks like mod_sofia does (use bgapi).
func (s *Switch) apiDeflect(b *batch, args string) string {
	id, target, _ := strings.Cut(args, " ")
	if id == "" || target == "" {
		return "-USAGE: <uuid> <uri>\n"
	}
	ch, ok := s.channel(id)
	if !ok {
		return "-ERR No such channel " + id + "!\n"
	}
	referTo := target
	if !strings.HasPrefix(strings.ToLower(target), "sip:") {
		host, _, err := net.SplitHostPort(s.o.SIPAddr)
		if err != nil {
			host = s.o.SIPAddr
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		referTo = "sip:" + target + "@" + host
	}
	s.chans.mu.Lock()
	answered := ch.answered
	cont := sofia.IsTrue(sofia.VarString(ch.vars["variable_sip_refer_continue_after_reply"]))
	headers := sofia.ExtraHeaders(ch.vars)
	s.chans.mu.Unlock()
	outcome := s.referOutcome(id, referTo)
	if answered {
		s.out.mu.Lock()
		if s.out.refers == nil {
			s.out.refers = map[string][]Refer{}
		}
		s.out.refers[id] = append(s.out.refers[id], Refer{ReferTo: referTo, ReferredBy: "<sip:" + s.o.SIPAddr + ">", Headers: headers})
		s.out.mu.Unlock()
	}
	s.mu.Lock()
	epoch := s.epoch
	s.mu.Unlock()

	if cont {
		if answered {
			s.goTimer(func() {
				if s.referWait(id, epoch, 0.3) {
					s.referReplies(ch, outcome, 0.02)
				}
			})
		}
		return "+OK:\n"
	}
	if !answered {
		if !s.referWait(id, epoch, 10) {
			return "+OK:no reply\n"
		}
		s.referHangup(b, id, "CHANNEL_HANGUP")
		return "+OK:no reply\n"
	}
	if !s.referWait(id, epoch, 0.3) {
		return "+OK:no reply\n"
	}
	if outcome == ReferDecline {
		s.referReplies(ch, outcome, 0)
		if !s.referWait(id, epoch, 9.7) {
			return "+OK:no reply\n"
		}
		s.referHangup(b, id, "CHANNEL_HANGUP")
		return "+OK:no reply\n"
	}
	if !s.referWait(id, epoch, 0.02) {
		return "+OK:no reply\n"
	}
	s.referReplies(ch, outcome, 0)
	s.referHangup(b, id, "CHANNEL_HANGUP_COMPLETE")
	s.referWait("", epoch, 0.08)
	return "+OK:SIP/2.0 200 OK\r\n\n"
}

// referReplies applies the far end's answers: the REFER's status and, when
// accepted, notifyAfter switch seconds later the NOTIFY (its event and the
// target's status).
func (s *Switch) referReplies(ch *channel, o ReferOutcome, notifyAfter float64) {
	s.chans.mu.Lock()
	if o == ReferDecline {
		ch.vars["variable_sip_refer_status_code"] = "603"
		s.chans.mu.Unlock()
		return
	}
	ch.vars["variable_sip_refer_status_code"] = "202"
	v := ch.vars
	inbound := sofia.VarString(v["Call-Direction"]) != "outbound"
	// The NOTIFY comes from the far end of the dialog.
	far := sofia.VarString(v["variable_sip_to_user"]) + "@" + hostOfAddr(sofia.VarString(v["variable_sip_to_host"]))
	near := sofia.VarString(v["variable_sip_from_user"]) + "@" + hostOfAddr(s.o.SIPAddr)
	fromTag, toTag := sofia.VarString(v["variable_sip_to_tag"]), sofia.VarString(v["variable_sip_from_tag"])
	if inbound {
		far = sofia.VarString(v["variable_sip_from_user"]) + "@" + sofia.VarString(v["variable_sip_network_ip"])
		near = sofia.VarString(v["variable_sip_to_user"]) + "@" + hostOfAddr(s.o.SIPAddr)
		fromTag, toTag = sofia.VarString(v["variable_sip_from_tag"]), sofia.VarString(v["variable_sip_to_tag"])
	}
	callID := sofia.VarString(v["variable_sip_call_id"])
	s.chans.mu.Unlock()
	if notifyAfter > 0 {
		s.referWait(ch.uuid, nil, notifyAfter)
	}
	const frag = "SIP/2.0 200 OK\r\n"
	e := s.newEvent("CUSTOM", "sofia::notify_refer",
		hdr{Name: "content-type", Value: "message/sipfrag"}, hdr{Name: "event-package", Value: "refer"}, hdr{Name: "contact", Value: far}, hdr{Name: "from", Value: far},
		hdr{Name: "from-tag", Value: fromTag}, hdr{Name: "to", Value: near}, hdr{Name: "to-tag", Value: toTag}, hdr{Name: "call-id", Value: callID},
		hdr{Name: "subscription-substate", Value: "terminated"}, hdr{Name: "subscription-reason", Value: "noresource"}, hdr{Name: "UniqueID", Value: ch.uuid})
	site := legSites["sofia::notify_refer"]
	for i := range e.Headers {
		switch e.Headers[i].Name {
		case "Event-Calling-File":
			e.Headers[i].Value = site[0]
		case "Event-Calling-Function":
			e.Headers[i].Value = site[1]
		case "Event-Calling-Line-Number":
			e.Headers[i].Value = site[2]
		}
	}
	e.Body = frag
	s.chans.mu.Lock()
	ch.vars["variable_sip_refer_target_status_code"] = "200"
	ch.vars["variable_sip_refer_reply"] = frag
	s.chans.mu.Unlock()
	s.publish(e)
}

// referHangup hangs the channel up with BLIND_TRANSFER: its events up to
// and including `through` at once, the rest after the reply (recorded).
func (s *Switch) referHangup(b *batch, id, through string) {
	tmp := &batch{}
	if !s.hangup(tmp, id, "BLIND_TRANSFER") {
		return
	}
	k := len(tmp.evs)
	for i, e := range tmp.evs {
		if e.Name() == through {
			k = i + 1
			break
		}
	}
	for _, e := range tmp.evs[:k] {
		s.publish(e)
	}
	rest, after := tmp.evs[k:], tmp.after
	afterJob(b, func() {
		for _, e := range rest {
			s.publish(e)
		}
		for _, f := range after {
			f()
		}
	})
}

// referWait sleeps sec switch seconds; false when the channel id ("" for
// none) went away, or on Close/Restart. Like sofia_wait_for_reply it
// checks every 0.1 s.
func (s *Switch) referWait(id string, epoch chan struct{}, sec float64) bool {
	deadline := time.Now().Add(s.d(sec))
	for {
		if id != "" {
			if _, ok := s.channel(id); !ok {
				return false
			}
		}
		left := time.Until(deadline)
		if left <= 0 {
			return true
		}
		t := time.NewTimer(min(left, s.d(0.1)))
		select {
		case <-t.C:
		case <-s.done:
			t.Stop()
			return false
		case <-epoch:
			t.Stop()
			return false
		}
	}
}

func hostOfAddr(hp string) string {
	if h, _, err := net.SplitHostPort(hp); err == nil {
		return h
	}
	return hp
}
