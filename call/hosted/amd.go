package hosted

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/provider"
)

// Answering machine detection on calls from Twilio and Telnyx numbers: the
// call's audio never reaches the switch, so the provider detects (Twilio's
// asynchronous AMD posting what answered to /twiml/amd, Telnyx's
// call.machine.* webhooks) while the assistant is already connected;
// sipbridge tells the assistant and the timeline as the SIP path does
// (call/sip/amdwatch) and applies amd_action.

// twilioMachineDetection is Twilio's MachineDetection for an amd_action:
// wait_beep needs the end of the greeting (DetectMessageEnd: the result
// comes once the message has ended, and says how), the others the answer
// as soon as Twilio knows it (Enable).
func twilioMachineDetection(action string) string {
	if action == call.AMDWaitBeep {
		return "DetectMessageEnd"
	}
	return "Enable"
}

// telnyxAMDMode is Telnyx's answering_machine_detection for an
// amd_action: wait_beep needs the greeting's end (greeting_end: a second
// webhook once it ends, on a beep or in silence), the others the decision
// only (detect).
func telnyxAMDMode(action string) string {
	if action == call.AMDWaitBeep {
		return "greeting_end"
	}
	return "detect"
}

// telnyxAMD reports a call.machine.* webhook: detection.ended's result
// (human, machine, not_sure → unknown) is the decision, ms the time since
// the answer (Telnyx gives none); greeting.ended after a machine is
// wait_beep's beep report (beep_detected, else no beep).
func (c *hostedCall) telnyxAMD(ctx context.Context, eventType, result string) {
	ms := c.msSinceAnswer()
	if eventType == "call.machine.greeting.ended" {
		c.amdBeep(ms, result == "beep_detected")
		return
	}
	mapped := map[string]string{"human": "human", "machine": "machine"}[result]
	c.amdDecided(ctx, cmp.Or(mapped, "unknown"), ms, db.JSONMap{"telnyx_result": result})
}

// twilioAnsweredBy maps Twilio's AnsweredBy onto the detector's results
// (a fax is a machine).
var twilioAnsweredBy = map[string]string{
	"human": "human", "unknown": "unknown", "fax": "machine", "machine_start": "machine",
	"machine_end_beep": "machine", "machine_end_silence": "machine", "machine_end_other": "machine",
}

// TwilioAMD handles Twilio's asynchronous AMD callback of an outbound call
// placed with amd (POST /twiml/amd, signed as /twiml/status): CallSid,
// AnsweredBy and MachineDetectionDuration (ms). The assistant gets
// {"event":"amd","amd":{"result":…,"ms":…}} (human, machine or unknown),
// the timeline an amd entry; with amd_action hangup a machine is hung up
// through Twilio's API, with wait_beep a machine_end_* result is followed
// by the second message (beep true after machine_end_beep, else false).
// A repeated callback, or one for a call that is not live here or did not
// ask, changes nothing; a malformed one wraps ErrBadWebhook.
func (h *Path) TwilioAMD(ctx context.Context, requestURI string, form url.Values, signature string) error {
	if h.opts.PublicBaseURL == "" {
		return numbers.ErrNoPublicURL
	}
	sid, by, result, ms, err := parseTwilioAMD(form)
	if err != nil {
		return err
	}
	c := h.callBySID(provider.NameTwilio, sid)
	if c == nil || !c.outbound {
		return nil
	}
	if err := h.verifyTwilioCall(ctx, c, requestURI, form, signature); err != nil {
		return err
	}
	c.twilioAMD(context.WithoutCancel(ctx), by, result, ms)
	return nil
}

// parseTwilioAMD reads Twilio's AMD callback form: the call's sid, its
// AnsweredBy and the result it maps to, and MachineDetectionDuration (ms,
// 0 when absent); a malformed one wraps ErrBadWebhook naming the field.
func parseTwilioAMD(form url.Values) (sid, answeredBy, result string, ms int, err error) {
	sid, answeredBy = form.Get("CallSid"), form.Get("AnsweredBy")
	if !twilioSID(sid, "CA") {
		return "", "", "", 0, fmt.Errorf("%w: CallSid %q", ErrBadWebhook, clip(sid))
	}
	result, ok := twilioAnsweredBy[answeredBy]
	if !ok {
		return "", "", "", 0, fmt.Errorf("%w: AnsweredBy %q", ErrBadWebhook, clip(answeredBy))
	}
	if v := form.Get("MachineDetectionDuration"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 3_600_000 {
			return "", "", "", 0, fmt.Errorf("%w: MachineDetectionDuration %q", ErrBadWebhook, clip(v))
		}
		ms = n
	}
	return sid, answeredBy, result, ms, nil
}

// twilioAMD reports Twilio's detection: the decision, then for wait_beep
// and a greeting that has ended (machine_end_*) whether it ended on a beep.
func (c *hostedCall) twilioAMD(ctx context.Context, answeredBy, result string, ms int) {
	if c.amdDecided(ctx, result, ms, db.JSONMap{"answered_by": answeredBy}) == call.AMDWaitBeep &&
		strings.HasPrefix(answeredBy, "machine_end_") {
		c.amdBeep(ms, answeredBy == "machine_end_beep")
	}
}

// amdDecided reports the detection's decision once, for a call that asked
// for it (detail: the provider's own words for the timeline), and hangs a
// machine up under amd_action hangup. It returns the call's amd_action,
// "" when nothing was reported (not asked, or already reported).
func (c *hostedCall) amdDecided(ctx context.Context, result string, ms int, detail db.JSONMap) string {
	c.mu.Lock()
	action, first := c.amdAction, c.amdOn && c.amdResult == ""
	if first {
		c.amdResult = result
	}
	c.mu.Unlock()
	if !first {
		return ""
	}
	hangup := result == "machine" && action == call.AMDHangup
	c.log.Info("answering machine detection", "result", result, "amd_ms", ms)
	detail["result"], detail["ms"] = result, ms
	if hangup {
		detail["action"] = call.AMDHangup
	}
	c.event(call.EventAMD, detail)
	c.tellAMD(assistant.AMDPayload{Result: result, MS: ms})
	if hangup {
		c.event(call.EventHangupRequested, db.JSONMap{"by": "amd"})
		c.setReason(call.AMDHangupReason)
		_ = c.providerHangup(ctx) // a failure is logged there
	}
	return cmp.Or(action, call.AMDNone)
}

// amdBeep sends wait_beep's second report, once, after a machine: whether
// its greeting ended on a beep.
func (c *hostedCall) amdBeep(ms int, beep bool) {
	c.mu.Lock()
	first := c.amdResult == "machine" && c.amdAction == call.AMDWaitBeep && !c.amdBeepDone
	c.amdBeepDone = true
	c.mu.Unlock()
	if !first {
		return
	}
	c.event(call.EventAMD, db.JSONMap{"result": "machine", "ms": ms, "beep": beep})
	c.tellAMD(assistant.AMDPayload{Result: "machine", MS: ms, Beep: &beep})
}

// msSinceAnswer is how long the call has been answered, in ms (0 before).
func (c *hostedCall) msSinceAnswer() int {
	c.mu.Lock()
	at := c.answeredAt
	c.mu.Unlock()
	if at.IsZero() {
		return 0
	}
	return int(c.h.opts.Now().Sub(at) / time.Millisecond)
}

// tellAMD hands an amd message to the call's relay, which sends it to the
// assistant (kept until the stream starts).
func (c *hostedCall) tellAMD(p assistant.AMDPayload) {
	select {
	case c.amdOut <- p:
	default:
		c.log.Warn("amd message dropped: the relay's queue is full")
	}
}

// sendAMD tells the assistant what answered.
func (r *hostedRelay) sendAMD(p assistant.AMDPayload) {
	if r.st == nil {
		return
	}
	if err := r.st.SendAMD(p); err != nil {
		r.c.log.Debug("amd not sent to the assistant", "err", err)
	}
}
