package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	number := t.e164
	if t.sipURI != "" {
		if s.refer(t.sipURI) {
			return nil
		}
		number = e164User(t.sipURI)
		if number == "" {
			s.kill(causeNormal, "REFER to "+t.sipURI+" not accepted")
			return errors.New("REFER not accepted")
		}
		s.event("transfer_fallback", db.JSONMap{"to": number, "mode": "bridge", "after": "refer declined"})
	} else if tr := s.trunk(); tr != nil && tr.TransferMode == "refer" && tr.ReferToTemplate != "" {
		if s.refer(ApplyReferTemplate(tr.ReferToTemplate, number)) {
			return nil
		}
		s.event("transfer_fallback", db.JSONMap{"to": number, "mode": "bridge", "after": "refer declined"})
	}
	return s.bridgeOut(number)
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

// refer sends a SIP REFER and reports whether it was accepted. uuid_deflect
// copies every sip_h_* variable into the REFER, so the inbound X-/Diversion
// headers are excluded first (exclude_outgoing_extra_header is a regex on
// the variable name, read in sofia_glue_get_extra_headers);
// sip_refer_continue_after_reply keeps the call up when the REFER is
// declined (a real switch hangs up otherwise, as recorded).
func (s *callSession) refer(uri string) bool {
	for _, v := range []string{"exclude_outgoing_extra_header ^sip_h_", "sip_refer_continue_after_reply true"} {
		if out, err := s.api("uuid_setvar " + s.uuid + " " + v); err != nil {
			s.log.Warn("uuid_setvar failed", "var", v, "err", err, "reply", out)
		}
	}
	s.event("refer_sent", db.JSONMap{"refer_to": uri})
	ctx, cancel := context.WithTimeout(s.c.ctx, 15*time.Second)
	defer cancel()
	out, err := s.c.sw.BGAPI(ctx, "uuid_deflect "+s.uuid+" "+uri)
	out = strings.TrimSpace(out)
	if err == nil && strings.HasPrefix(out, "+OK:SIP/2.0 2") {
		s.event("refer_accepted", db.JSONMap{"refer_to": uri, "reply": out})
		s.endReason = "transferred by REFER to " + uri
		return true
	}
	s.log.Warn("REFER not accepted", "refer_to", uri, "reply", out, "err", err)
	s.event("refer_failed", db.JSONMap{"refer_to": uri, "reply": out, "error": fmt.Sprint(err)})
	return false
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
