package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/controller/did"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
)

// ErrBadTransferTarget means a transfer destination is neither a sip: URI
// nor an E.164 number.
var ErrBadTransferTarget = errors.New("transfer target must be a sip: URI or an E.164 number")

// ErrNoEnabledTrunk means no enabled trunk can carry a bridged or outbound call.
var ErrNoEnabledTrunk = errors.New("no enabled SIP trunk to dial through")

type transferTarget struct {
	sipURI string // sip:user@host
	e164   string
}

// parseTransferTarget accepts sip:/sips: URIs (no spaces, no line breaks:
// they go into an api command) and E.164 numbers.
func parseTransferTarget(to string) (transferTarget, error) {
	to = strings.TrimSpace(to)
	low := strings.ToLower(to)
	if strings.HasPrefix(low, "sip:") || strings.HasPrefix(low, "sips:") {
		if strings.ContainsAny(to, " \t\r\n'\"{}|,") || !strings.Contains(to, "@") || len(to) > 256 {
			return transferTarget{}, fmt.Errorf("%w: %q", ErrBadTransferTarget, to)
		}
		return transferTarget{sipURI: to}, nil
	}
	if did.IsE164(to) {
		return transferTarget{e164: to}, nil
	}
	return transferTarget{}, fmt.Errorf("%w: %q", ErrBadTransferTarget, to)
}

// transfer moves the call off the assistant. A sip: URI gets a SIP REFER
// (uuid_deflect); an E.164 number is sent a REFER when the call's trunk is
// set to transfer by REFER (Refer-To from its template), else it is bridged
// out through the organization's trunks. A declined REFER to a phone number
// falls back to bridging; the outcome is always in the call's events.
func (s *callSession) transfer(to string) error {
	t, err := parseTransferTarget(to)
	if err != nil {
		s.event("transfer_failed", db.JSONMap{"to": to, "error": err.Error()})
		return err
	}
	if s.rec == nil || s.ending {
		return errors.New("call not transferable")
	}
	// The assistant's part is over: stop its audio and the stream.
	s.closeAssistant(true)
	s.transferred = true
	_, _ = s.api("uuid_audio_stream " + s.uuid + " stop")
	_, _ = s.api("uuid_break " + s.uuid + " all")
	if s.fs != nil {
		_ = s.fs.Close()
		s.fs = nil
	}
	if t.sipURI != "" {
		// A declined REFER to a phone number falls back to bridging it.
		return s.refer(t.sipURI, e164User(t.sipURI))
	}
	if tr := s.trunk(); tr != nil && tr.TransferMode == "refer" && tr.ReferToTemplate != "" {
		return s.refer(ApplyReferTemplate(tr.ReferToTemplate, t.e164), t.e164)
	}
	return s.bridgeOut(t.e164)
}

func (s *callSession) trunk() *db.SIPTrunk {
	if s.route == nil {
		return nil
	}
	return s.route.Trunk
}

// e164User returns the user part of a sip: URI when it is an E.164 number.
func e164User(uri string) string {
	_, rest, _ := strings.Cut(uri, ":")
	user, _, _ := strings.Cut(rest, "@")
	if did.IsE164(user) {
		return user
	}
	return ""
}

// CheckReferTemplate validates a trunk's Refer-To template: tel:{e164} or a
// sip:/sips: URI holding {e164}, nothing that could break an api command.
func CheckReferTemplate(t string) error {
	low := strings.ToLower(t)
	if !strings.Contains(t, "{e164}") || !(strings.HasPrefix(low, "tel:") || strings.HasPrefix(low, "sip:") || strings.HasPrefix(low, "sips:")) {
		return errors.New("refer_to_template must be tel:{e164} or sip:{e164}@host")
	}
	if strings.ContainsAny(t, " \t\r\n'\"|,") || len(t) > 200 {
		return errors.New("refer_to_template must not contain spaces, quotes, '|' or ','")
	}
	return nil
}

// ApplyReferTemplate puts the number into a Refer-To template.
func ApplyReferTemplate(t, e164 string) string { return strings.ReplaceAll(t, "{e164}", e164) }

// referTimeout is how long a REFER may take to succeed (FreeSWITCH itself
// waits 10 s for the answer to a REFER).
const referTimeout = 10 * time.Second

// referPoll is how often the REFER's answer is read while it is pending.
const referPoll = 200 * time.Millisecond

// pendingRefer is a REFER sent and not yet decided.
type pendingRefer struct {
	uri      string
	fallback string // the E.164 number to bridge to when it is declined ("" : hang up)
	deadline time.Time
	next     time.Time // next poll of sip_refer_status_code
}

// refer sends a SIP REFER (uuid_deflect). uuid_deflect copies every sip_h_*
// variable into the REFER, so the inbound X-/Diversion headers are excluded
// first (exclude_outgoing_extra_header is a regex on the variable name,
// read in sofia_glue_get_extra_headers). sip_refer_continue_after_reply
// keeps the call up whatever the REFER's fate (a real switch hangs up even
// after a declined REFER otherwise, as recorded); mod_sofia then answers
// the bgapi at once ("+OK:(null)") and the outcome comes later: the NOTIFY
// (sofia::notify_refer, sipfrag "SIP/2.0 200 OK") or a final answer to the
// REFER in sip_refer_status_code (603 …), read by polling. The session
// decides in onReferEvent/pollRefer; nothing blocks it meanwhile.
func (s *callSession) refer(uri, fallback string) error {
	for _, v := range []string{"exclude_outgoing_extra_header ^sip_h_", "sip_refer_continue_after_reply true"} {
		if out, err := s.api("uuid_setvar " + s.uuid + " " + v); err != nil {
			s.log.Warn("uuid_setvar failed", "var", v, "err", err, "reply", out)
		}
	}
	s.event("refer_sent", db.JSONMap{"refer_to": uri})
	ctx, cancel := context.WithTimeout(s.c.ctx, referTimeout+5*time.Second)
	out, err := s.c.sw.BGAPI(ctx, "uuid_deflect "+s.uuid+" "+uri)
	cancel()
	out = strings.TrimSpace(out)
	now := s.c.opts.Now()
	s.refering = &pendingRefer{uri: uri, fallback: fallback, deadline: now.Add(referTimeout), next: now.Add(referPoll)}
	switch {
	case err != nil || strings.HasPrefix(out, "-ERR"):
		s.referDone(false, fmt.Sprintf("uuid_deflect: %s %v", out, err))
	case strings.HasPrefix(out, "+OK:SIP/2.0 2"): // a switch that waited for the NOTIFY
		s.referDone(true, out)
	}
	return nil
}

// onReferNotify reads the sipfrag of a sofia::notify_refer.
func (s *callSession) onReferNotify(body string) {
	frag := strings.TrimSpace(body)
	s.event("refer_notify", db.JSONMap{"sipfrag": frag})
	if s.refering == nil {
		return
	}
	code := sipfragStatus(frag)
	switch {
	case code >= 200 && code < 300:
		s.referDone(true, frag)
	case code >= 300:
		s.referDone(false, frag)
	}
}

// pollRefer reads the REFER's answer codes; at the deadline it gives up.
func (s *callSession) pollRefer() {
	r := s.refering
	now := s.c.opts.Now()
	if now.Before(r.next) {
		return
	}
	r.next = now.Add(referPoll)
	if code := s.getvarInt("sip_refer_status_code"); code >= 300 {
		s.referDone(false, "REFER answered "+strconv.Itoa(code))
		return
	}
	if code := s.getvarInt("sip_refer_target_status_code"); code >= 200 {
		s.referDone(code < 300, "transfer target answered "+strconv.Itoa(code))
		return
	}
	if !now.Before(r.deadline) {
		s.referDone(false, "no answer to the REFER within "+referTimeout.String())
	}
}

// referDone ends a pending REFER: accepted → the call has moved, hang up our
// leg; declined → bridge to the fallback number or hang up.
func (s *callSession) referDone(accepted bool, detail string) {
	r := s.refering
	if r == nil {
		return
	}
	s.refering = nil
	if accepted {
		s.event("refer_accepted", db.JSONMap{"refer_to": r.uri, "reply": detail})
		s.kill("BLIND_TRANSFER", "transferred by REFER to "+r.uri)
		return
	}
	s.log.Warn("REFER not accepted", "refer_to", r.uri, "detail", detail)
	s.event("refer_failed", db.JSONMap{"refer_to": r.uri, "reply": detail})
	if r.fallback == "" {
		s.kill(causeNormal, "REFER to "+r.uri+" not accepted: "+detail)
		return
	}
	s.event("transfer_fallback", db.JSONMap{"to": r.fallback, "mode": "bridge", "after": "refer declined"})
	_ = s.bridgeOut(r.fallback)
}

func (s *callSession) getvarInt(name string) int {
	out, err := s.api("uuid_getvar " + s.uuid + " " + name)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(out))
	return n
}

// sipfragStatus reads the status code of a message/sipfrag body
// ("SIP/2.0 200 OK"); 0 when it is not one.
func sipfragStatus(frag string) int {
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

// bridgeOut originates a leg to the number through the organization's
// enabled trunks (the number's own trunk first, then by priority; one
// originate fails over from leg to leg) and bridges the caller to it.
func (s *callSession) bridgeOut(number string) error {
	ctx, cancel := context.WithTimeout(s.c.ctx, 10*time.Second)
	trunks, err := s.c.store.EnabledTrunksOfOrg(ctx, s.rec.OrgID)
	org, oerr := s.c.store.GetOrg(ctx, s.rec.OrgID)
	cancel()
	if err == nil {
		err = oerr
	}
	if err == nil {
		err = checkCountry(org, number)
	}
	var own string
	if s.route != nil && s.route.Number != nil && s.route.Number.SIPTrunkID != nil {
		own = *s.route.Number.SIPTrunkID
	}
	var dial string
	if err == nil {
		dial, err = BridgeDialString(trunks, own, number, DialOptions{
			LeadingPlus: org.Settings.SIPTrunkConfig.OutboundLeadingPlusEnabled,
			CallerID:    s.rec.FromNumber, LegTimeout: s.c.opts.LegTimeout,
			Vars: map[string]string{"sipbridge_call_id": s.id, "sipbridge_leg": "transfer"},
		})
	}
	if err != nil {
		s.event("transfer_failed", db.JSONMap{"to": number, "error": err.Error()})
		s.kill(causeNormal, "transfer to "+number+" failed: "+err.Error())
		return err
	}
	s.event("bridge_dialing", db.JSONMap{"to": number, "dial_string": dial})
	octx, ocancel := context.WithTimeout(s.c.ctx, time.Duration(len(trunks)+1)*s.c.opts.LegTimeout+10*time.Second)
	out, err := s.c.sw.BGAPI(octx, "originate "+dial+" &park()")
	ocancel()
	out = strings.TrimSpace(out)
	leg, ok := strings.CutPrefix(out, "+OK ")
	if err != nil || !ok || leg == "" {
		cause := strings.TrimSpace(strings.TrimPrefix(out, "-ERR"))
		s.event("transfer_failed", db.JSONMap{"to": number, "cause": cause, "error": fmt.Sprint(err)})
		s.kill(causeNormal, "transfer to "+number+" failed: "+cause)
		return fmt.Errorf("originate: %s", out)
	}
	s.c.addLeg(leg, s)
	if r, err := s.api("uuid_bridge " + s.uuid + " " + leg); err != nil {
		s.event("transfer_failed", db.JSONMap{"to": number, "error": strings.TrimSpace(r)})
		_, _ = s.api("uuid_kill " + leg)
		s.kill(causeNormal, "bridge failed")
		return fmt.Errorf("uuid_bridge: %s", r)
	}
	s.endReason = "transferred to " + number
	s.event("transferred", db.JSONMap{"to": number, "leg": leg})
	return nil
}

// handleLegEvent follows a bridged leg; its end does not end the session
// (the caller's channel does), so this only reports.
func (s *callSession) handleLegEvent(e *esl.Event) bool {
	if e.Name() == "CHANNEL_HANGUP_COMPLETE" {
		s.event("leg_hangup", db.JSONMap{"leg": e.UUID(), "cause": e.Get("Hangup-Cause")})
	}
	return false
}

// DialOptions shape a bridge or outbound dial string.
type DialOptions struct {
	LeadingPlus bool          // keep the + of E.164 numbers (the organization's trunk setting)
	CallerID    string        // origination_caller_id_number
	LegTimeout  time.Duration // per trunk
	Vars        map[string]string
}

// BridgeDialString builds one originate dial string over the trunks: the
// trunk with id first (if given and enabled), then by priority and name,
// legs joined by `|` with originate_continue_on_timeout=true so a leg that
// rings out fails over to the next.
func BridgeDialString(trunks []db.SIPTrunk, first, number string, o DialOptions) (string, error) {
	if !did.IsE164(number) {
		return "", fmt.Errorf("%w: %q", ErrBadTransferTarget, number)
	}
	ordered := orderTrunks(trunks, first)
	if len(ordered) == 0 {
		return "", ErrNoEnabledTrunk
	}
	dialled := number
	if !o.LeadingPlus {
		dialled = strings.TrimPrefix(number, "+")
	}
	global := []string{"originate_continue_on_timeout=true", "ignore_early_media=true"}
	if o.CallerID != "" && safeDialValue(o.CallerID) {
		global = append(global, "origination_caller_id_number="+o.CallerID)
	}
	for _, k := range sortedKeys(o.Vars) {
		if safeDialValue(k) && safeDialValue(o.Vars[k]) {
			global = append(global, k+"="+o.Vars[k])
		}
	}
	secs := int(o.LegTimeout / time.Second)
	if secs <= 0 {
		secs = 30
	}
	legs := make([]string, 0, len(ordered))
	for _, t := range ordered {
		legs = append(legs, fmt.Sprintf("[leg_timeout=%d,sipbridge_trunk_id=%s]sofia/gateway/%s/%s", secs, t.ID, t.GatewayName, dialled))
	}
	return "{" + strings.Join(global, ",") + "}" + strings.Join(legs, "|"), nil
}

// orderTrunks returns the enabled trunks, first's trunk at the head, then by
// priority (1 first) and name.
func orderTrunks(trunks []db.SIPTrunk, first string) []db.SIPTrunk {
	var head, rest []db.SIPTrunk
	for _, t := range trunks {
		if !t.Enabled {
			continue
		}
		if t.ID == first {
			head = append(head, t)
		} else {
			rest = append(rest, t)
		}
	}
	sortTrunks(rest)
	return append(head, rest...)
}

// safeDialValue keeps values that cannot break a dial string.
func safeDialValue(v string) bool {
	return v != "" && !strings.ContainsAny(v, ",|{}[] \t\r\n'\"^")
}

func sortTrunks(ts []db.SIPTrunk) {
	slices.SortStableFunc(ts, func(a, b db.SIPTrunk) int {
		if a.Priority != b.Priority {
			return a.Priority - b.Priority
		}
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
