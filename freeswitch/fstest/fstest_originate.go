package fstest

import (
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/dialstring"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/sofia"
)

// Outbound calls: `originate <dial string> &park() [dp] [context] [cid_name]
// [cid_num] [timeout]` over api or bgapi (bgapi: the BACKGROUND_JOB carries
// the reply). Only `sofia/gateway/<gateway>/<number>` endpoints, `|`
// failover and the park application are simulated; `,` (simultaneous legs),
// other endpoints, applications and the extension form answer
// "-ERR fstest: not simulated: …".
//
// As on a real switch (switch_ivr_originate.c, mod_sofia.c
// sofia_outgoing_channel, and the originate*.jsonl recordings):
//   - a gateway that is not loaded fails the leg with INVALID_GATEWAY, one
//     whose status is DOWN with GATEWAY_DOWN: only CHANNEL_DESTROY and
//     CHANNEL_STATE CS_DESTROY are fired (the session dies unborn);
//   - otherwise calls-out counts the leg and the far end does what
//     SetDialOutcome says (default: answer at once, as `sipp -sn uas`);
//     an unanswered leg counts in failed-calls-out;
//   - leg_timeout (a leg's, or a global one) hangs a ringing leg up with
//     ALLOTTED_TIMEOUT and the next `|` group is tried; originate_timeout
//     (global; default the 7th argument, else 60) ends a group with
//     NO_ANSWER and, unless originate_continue_on_timeout=true, the whole
//     originate (check_per_channel_timeouts sets no timeout flag, only the
//     group timer does: leg_timeout fails over without the variable);
//   - when every group failed the reply is "-ERR <cause of the last leg>\n";
//     on success "+OK <uuid>\n", then CS_EXECUTE, CHANNEL_EXECUTE and
//     CHANNEL_PARK follow the BACKGROUND_JOB as recorded.
//
// A real switch checks the timers once a second against whole epoch
// seconds (the 3 s leg_timeout of originate-failover.jsonl fired after
// 3.86 s); here they fire at exactly leg_timeout / originate_timeout
// switch seconds.

// DialResult is what the far end of a gateway does with an INVITE.
type DialResult int

const (
	// DialAnswer: 180 Ringing, then 200 OK after DialOutcome.Ring
	// (originate.jsonl).
	DialAnswer DialResult = iota
	// DialBusy: 486 Busy Here → USER_BUSY (originate-busy.jsonl).
	DialBusy
	// DialNoAnswer: 180 Ringing and nothing more, until leg_timeout
	// (ALLOTTED_TIMEOUT) or originate_timeout (NO_ANSWER) cancels it
	// (originate-failover.jsonl).
	DialNoAnswer
	// DialReject: a final error response whose cause is DialOutcome.Cause
	// (default CALL_REJECTED, i.e. 603 Decline).
	DialReject
)

// DialOutcome is the far end's behaviour for one gateway (SetDialOutcome).
type DialOutcome struct {
	Result DialResult
	// Ring is how long (switch seconds) the far end rings before it
	// answers or rejects. DialAnswer always rings (180, then 200); DialBusy
	// and DialReject with Ring 0 reject the INVITE at once, without 180,
	// as the recorded 486 peer did.
	Ring  float64
	Cause string // DialReject: the hangup cause (default CALL_REJECTED)
}

// DialAttempt is one leg an originate tried, in order.
type DialAttempt struct {
	Gateway  string
	Number   string
	Vars     map[string]string // the leg's dial-string variables ({} merged with [])
	UUID     string
	Cause    string // the leg's hangup cause; "" for the answered leg
	Answered bool
}

const originateSyntax = "<call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]"

// outbound is the state of outbound calls and transfers.
type outbound struct {
	mu       sync.Mutex
	dial     map[string]DialOutcome // by gateway or gateway/number
	attempts []DialAttempt
	ringing  map[string]*ringingLeg // legs not answered yet, by uuid
	referOut map[string]ReferOutcome
	refers   map[string][]Refer
	tmpl     *legTemplates
}

type ringingLeg struct {
	ch   *channel
	kill chan string // uuid_kill while ringing: the cause
}

// legTemplates are the outbound leg's headers recorded in originate.jsonl
// at CHANNEL_CREATE, CHANNEL_PROGRESS and CHANNEL_PARK, with the recorded
// values that vary per call.
type legTemplates struct {
	create, progress, answered map[string]any
	uuid, gateway, number      string
	callID, hostPort, host     string
	port, profileAddr, profile string
}

// legParams are what differs between legs in their headers.
type legParams struct {
	id, gw, number, hostPort, username string
	sipAddr, profile                   string // the profile's address and name
	user                               map[string]string
}

// outboundAPI adds originate and uuid_deflect, and lets uuid_kill cancel a
// leg that is still ringing.
func (s *Switch) outboundAPI(m map[string]apiFunc) {
	m["originate"] = s.apiOriginate
	m["uuid_deflect"] = s.apiDeflect
	kill := m["uuid_kill"]
	m["uuid_kill"] = func(b *batch, args string) string {
		f := strings.Fields(args)
		if len(f) > 0 {
			s.out.mu.Lock()
			leg := s.out.ringing[f[0]]
			s.out.mu.Unlock()
			if leg != nil {
				cause := "NORMAL_CLEARING"
				if len(f) > 1 {
					cause = f[1]
				}
				select {
				case leg.kill <- cause:
				default:
				}
				return "+OK\n"
			}
		}
		return kill(b, args)
	}
}

// SetDialOutcome sets what the far end does with the INVITEs sent through
// gateway: by gateway name, or "gateway/number" for one number (checked
// first). The default is DialAnswer at once.
func (s *Switch) SetDialOutcome(gateway string, o DialOutcome) {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	if s.out.dial == nil {
		s.out.dial = map[string]DialOutcome{}
	}
	s.out.dial[gateway] = o
}

// DialAttempts returns every originate leg tried so far, in order.
func (s *Switch) DialAttempts() []DialAttempt {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	out := make([]DialAttempt, len(s.out.attempts))
	for i, a := range s.out.attempts {
		a.Vars = maps.Clone(a.Vars)
		out[i] = a
	}
	return out
}

func (s *Switch) dialOutcome(gw, number string) DialOutcome {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	if o, ok := s.out.dial[gw+"/"+number]; ok {
		return o
	}
	return s.out.dial[gw]
}

func (s *Switch) attempt(a DialAttempt) int {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	s.out.attempts = append(s.out.attempts, a)
	return len(s.out.attempts) - 1
}

func (s *Switch) attemptDone(i int, cause string, answered bool) {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	s.out.attempts[i].Cause, s.out.attempts[i].Answered = cause, answered
}

// blocksJob reports whether a bgapi command waits for the far end (an
// originate, a REFER) and must not hold the connection up.
func blocksJob(line string) bool {
	name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
	return name == "originate" || name == "uuid_deflect"
}

// afterJob runs f once the command's reply is out: after BACKGROUND_JOB for
// bgapi, after the api/response (and the API event) for api.
func afterJob(b *batch, f func()) {
	if b == nil {
		f()
		return
	}
	b.afterJob = append(b.afterJob, f)
}

// runAfterJob runs what afterJob deferred.
func runAfterJob(b *batch) {
	fs := b.afterJob
	b.afterJob = nil
	for _, f := range fs {
		f()
	}
}

// apiOriginate handles `originate`; it blocks until the outcome, firing the
// legs' events as they happen.
func (s *Switch) apiOriginate(b *batch, args string) string {
	argv := dialstring.SeparateBlank(args, 10)
	for i, a := range argv {
		if strings.EqualFold(a, "undef") {
			argv[i] = ""
		}
	}
	if len(argv) < 2 || len(argv) > 7 || argv[0] == "" || argv[1] == "" {
		return "-USAGE: " + originateSyntax + "\n"
	}
	// A real switch dials first and looks at the application after the
	// answer; here an application that is not simulated is refused before
	// anything is dialled, but after the dial string is parsed.
	d, err := dialstring.Parse(argv[0])
	if err != nil {
		return "-ERR DESTINATION_OUT_OF_ORDER\n"
	}
	app, ok := strings.CutPrefix(argv[1], "&")
	if !ok {
		return s.unsupported("originate to an extension (" + argv[1] + ")")
	}
	app, _, _ = strings.Cut(app, ")")
	name, _, _ := strings.Cut(app, "(")
	if name != "park" {
		return s.unsupported("originate application " + name)
	}
	timeout := 60
	if len(argv) > 6 {
		if n, err := strconv.Atoi(argv[6]); err == nil && n > 0 {
			timeout = n
		}
	}
	var cidName, cidNum string
	if len(argv) > 4 {
		cidName = argv[4]
	}
	if len(argv) > 5 {
		cidNum = argv[5]
	}
	for _, g := range d.Groups {
		if len(g) > 1 {
			return s.unsupported("originate with simultaneous legs (',')")
		}
		if !strings.HasPrefix(g[0].Endpoint, "sofia/gateway/") {
			return s.unsupported("originate endpoint " + g[0].Endpoint)
		}
	}
	tmpl, err := s.legTemplates()
	if err != nil {
		return "-ERR " + err.Error() + "\n"
	}
	globals := d.Vars(dialstring.Leg{})
	if n, err := strconv.Atoi(globals["originate_timeout"]); err == nil && n > 0 {
		timeout = n
	}
	continueOnTimeout := sofia.IsTrue(globals["originate_continue_on_timeout"])
	s.mu.Lock()
	epoch := s.epoch
	s.mu.Unlock()
	return s.dialGroups(b, tmpl, epoch, d, timeout, cidName, cidNum, continueOnTimeout)
}

// dialGroups dials the '|'-separated groups of d one after the other until
// one answers; the answered leg is parked after the reply.
func (s *Switch) dialGroups(b *batch, tmpl *legTemplates, epoch chan struct{}, d dialstring.Parsed, timeout int, cidName, cidNum string, continueOnTimeout bool) string {
	cause := "DESTINATION_OUT_OF_ORDER"
	var destroy func()
	for _, g := range d.Groups {
		if destroy != nil {
			destroy() // the failed leg is gone before the next one starts
			destroy = nil
		}
		r := s.dialLeg(tmpl, epoch, g[0].Endpoint, d.Vars(g[0]), timeout, cidName, cidNum)
		if r.aborted {
			return "-ERR SYSTEM_SHUTDOWN\n"
		}
		if r.ch != nil {
			ch := r.ch
			afterJob(b, func() { s.park(ch) })
			return "+OK " + ch.uuid + "\n"
		}
		cause, destroy = r.cause, r.destroy
		if r.timeout && !continueOnTimeout {
			break
		}
	}
	if destroy != nil {
		afterJob(b, destroy) // the last leg is destroyed after the reply (originate-busy.jsonl)
	}
	return "-ERR " + cause + "\n"
}

type legResult struct {
	ch      *channel // the answered leg
	cause   string
	timeout bool   // originate_timeout ended the group
	destroy func() // fires CHANNEL_DESTROY and CS_DESTROY of a failed leg
	aborted bool   // Close or Restart
}

// dialLeg runs one leg: sofia_outgoing_channel's checks, then the far end's
// outcome with the leg and originate timers.
func (s *Switch) dialLeg(t *legTemplates, epoch chan struct{}, endpoint string, vars map[string]string, timeout int, cidName, cidNum string) legResult {
	p, idx, cause := s.legGateway(endpoint, vars)
	if cause != "" {
		s.unborn(p.id)
		s.attemptDone(idx, cause, false)
		return legResult{cause: cause}
	}
	ch := s.newLeg(t, p, vars, cidName, cidNum)
	leg := &ringingLeg{ch: ch, kill: make(chan string, 1)}
	s.out.mu.Lock()
	if s.out.ringing == nil {
		s.out.ringing = map[string]*ringingLeg{}
	}
	s.out.ringing[p.id] = leg
	s.out.mu.Unlock()
	defer func() {
		s.out.mu.Lock()
		delete(s.out.ringing, p.id)
		s.out.mu.Unlock()
	}()

	o := s.dialOutcome(p.gw, p.number)
	callState := s.ringLeg(t, ch, p, o, vars)
	wait, final, isTimeout := legTimer(o, vars, timeout)
	timer := time.NewTimer(s.d(wait))
	defer timer.Stop()
	select {
	case <-timer.C:
	case c := <-leg.kill:
		final, isTimeout = c, false
	case <-s.done:
		return legResult{aborted: true}
	case <-epoch:
		return legResult{aborted: true}
	}

	if final == "" { // answered
		s.answerLeg(t, ch, p)
		s.attemptDone(idx, "", true)
		return legResult{ch: ch}
	}
	r := s.failLeg(ch, p, o, final, callState)
	r.timeout = isTimeout
	s.attemptDone(idx, final, false)
	return r
}

// legGateway records the attempt and applies sofia_outgoing_channel's
// checks of the endpoint and its gateway; cause is set when the leg is
// refused before it exists.
func (s *Switch) legGateway(endpoint string, vars map[string]string) (p legParams, idx int, cause string) {
	rest := strings.TrimPrefix(endpoint, "sofia/gateway/")
	gwName, number, ok := strings.Cut(rest, "/")
	id := vars["origination_uuid"]
	if id == "" {
		id = uuid.NewString()
	}
	idx = s.attempt(DialAttempt{Gateway: gwName, Number: number, Vars: maps.Clone(vars), UUID: id})
	// GATEWAY_DOWN counts as a failed call (sofia_outgoing_channel).
	username, hostPort, exists, up := s.sofia.Outbound(gwName, ok && number != "")
	p = legParams{id: id, gw: gwName, number: number, sipAddr: s.o.SIPAddr, profile: s.o.Profile, user: vars,
		username: username, hostPort: hostPort}
	switch {
	case !ok || number == "" || gwName == "":
		cause = "INVALID_URL"
	case !exists:
		cause = "INVALID_GATEWAY"
	case !up:
		cause = "GATEWAY_DOWN"
	}
	return p, idx, cause
}

// newLeg returns the outbound leg's channel, its variables from the
// recorded template, the dial string and the caller ID arguments.
func (s *Switch) newLeg(t *legTemplates, p legParams, vars map[string]string, cidName, cidNum string) *channel {
	ch := &channel{uuid: p.id, vars: t.sub(t.create, p)}
	ch.vars["Channel-HIT-Dialplan"] = "false" // true once answered (CALL_UPDATE on), as recorded
	for _, k := range []string{"Caller-Profile-Created-Time", "Caller-Channel-Created-Time"} {
		ch.vars[k] = microsText(s.now())
	}
	for k, v := range vars {
		ch.vars["variable_"+k] = v
	}
	if n := firstNonEmpty(vars["origination_caller_id_number"], cidNum); n != "" {
		ch.vars["Caller-Caller-ID-Number"], ch.vars["Caller-Orig-Caller-ID-Number"] = n, n
	}
	if n := firstNonEmpty(vars["origination_caller_id_name"], cidName); n != "" {
		ch.vars["Caller-Caller-ID-Name"] = n
	}
	return ch
}

// ringLeg fires the new leg's events up to early media (when the far end
// rings) and returns the leg's call state.
func (s *Switch) ringLeg(t *legTemplates, ch *channel, p legParams, o DialOutcome, vars map[string]string) string {
	s.legEvent(ch, "CHANNEL_OUTGOING", "CS_NONE", "DOWN", "ringing", "", false, nil)
	s.legEvent(ch, "CHANNEL_STATE", "CS_INIT", "DOWN", "ringing", "", false, nil)
	s.legEvent(ch, "CHANNEL_CREATE", "CS_INIT", "DOWN", "ringing", "", true, nil)
	s.legEvent(ch, "CHANNEL_ORIGINATE", "CS_INIT", "DOWN", "ringing", "", true, nil)
	s.legEvent(ch, "CHANNEL_STATE", "CS_ROUTING", "DOWN", "ringing", "", false, nil)
	s.legEvent(ch, "CHANNEL_STATE", "CS_CONSUME_MEDIA", "DOWN", "ringing", "", false, nil)
	if o.Result != DialAnswer && o.Result != DialNoAnswer && o.Ring <= 0 {
		return "DOWN"
	}
	s.chans.mu.Lock()
	mergeLegTemplate(ch.vars, t.sub(t.progress, p), vars)
	ch.vars["Caller-Channel-Progress-Time"] = microsText(s.now())
	s.chans.mu.Unlock()
	s.legEvent(ch, "CHANNEL_PROGRESS", "CS_CONSUME_MEDIA", "DOWN", "ringing", "", true, nil)
	s.legEvent(ch, "CHANNEL_CALLSTATE", "CS_CONSUME_MEDIA", "RINGING", "ringing", "", false, nil)
	return "RINGING"
}

// legTimer picks the first timer to fire: the far end, leg_timeout,
// originate_timeout. final is the hangup cause when it fires ("" = answer);
// isTimeout is set when originate_timeout ends the group.
func legTimer(o DialOutcome, vars map[string]string, timeout int) (wait float64, final string, isTimeout bool) {
	wait = o.Ring
	switch o.Result {
	case DialBusy:
		final = "USER_BUSY"
	case DialReject:
		final = firstNonEmpty(o.Cause, "CALL_REJECTED")
	case DialNoAnswer:
		wait = -1
	}
	legTimeout, _ := strconv.Atoi(vars["leg_timeout"])
	limit, limitCause := float64(timeout), "NO_ANSWER"
	isTimeout = true
	if legTimeout > 0 && legTimeout < timeout {
		limit, limitCause, isTimeout = float64(legTimeout), "ALLOTTED_TIMEOUT", false
	}
	if wait < 0 || wait >= limit {
		wait, final = limit, limitCause
	} else {
		isTimeout = false
	}
	return wait, final, isTimeout
}

// failLeg hangs up a leg that was not answered with cause final; the
// result's destroy fires its last events.
func (s *Switch) failLeg(ch *channel, p legParams, o DialOutcome, final, callState string) legResult {
	s.sofia.FailedOut(p.gw)
	s.chans.mu.Lock()
	refused := o.Result == DialBusy || o.Result == DialReject
	maps.Copy(ch.vars, failureVars(final, refused))
	if _, set := ch.vars["Caller-Network-Addr"]; refused && !set {
		// The far end answered (with an error): its address is known.
		ch.vars["Caller-Network-Addr"], _, _ = strings.Cut(p.hostPort, ":")
	}
	s.chans.mu.Unlock()
	s.legEvent(ch, "CHANNEL_HANGUP", "CS_CONSUME_MEDIA", callState, "hangup", final, true, nil)
	s.legEvent(ch, "CHANNEL_STATE", "CS_HANGUP", callState, "hangup", final, false, nil)
	s.legEvent(ch, "CHANNEL_CALLSTATE", "CS_HANGUP", "HANGUP", "hangup", final, false, nil)
	s.legEvent(ch, "CHANNEL_STATE", "CS_REPORTING", "HANGUP", "hangup", final, false, nil)
	s.chans.mu.Lock()
	ch.vars["variable_hangup_cause"] = final
	ch.vars["variable_hangup_cause_q850"] = strconv.Itoa(causeQ850(final))
	s.chans.mu.Unlock()
	s.legEvent(ch, "CHANNEL_HANGUP_COMPLETE", "CS_REPORTING", "HANGUP", "hangup", final, true, nil)
	return legResult{cause: final, destroy: func() {
		s.legEvent(ch, "CHANNEL_DESTROY", "CS_REPORTING", "HANGUP", "hangup", final, true, nil)
		s.legEvent(ch, "CHANNEL_STATE", "CS_DESTROY", "HANGUP", "hangup", final, false, nil)
	}}
}

// unborn fires what a leg refused by sofia_outgoing_channel shows: the
// destroyed session only (originate-gateway-down.jsonl).
func (s *Switch) unborn(id string) {
	ch := &channel{uuid: id, vars: map[string]any{
		"Channel-Name": "N/A", "Call-Direction": "outbound", "Presence-Call-Direction": "outbound",
		"variable_direction": "outbound", "variable_is_outbound": "true", "variable_uuid": id, "variable_call_uuid": id,
		"variable_session_id": "1", "Channel-HIT-Dialplan": "false",
	}}
	s.legEvent(ch, "CHANNEL_DESTROY", "CS_NONE", "DOWN", "ringing", "", true, nil)
	s.legEvent(ch, "CHANNEL_STATE", "CS_DESTROY", "DOWN", "ringing", "", false, nil)
}

// answerLeg is the 200 OK: CODEC ×2, ANSWER, CALLSTATE ACTIVE, then the
// caller id flip (CALL_UPDATE); the leg becomes a normal channel.
func (s *Switch) answerLeg(t *legTemplates, ch *channel, p legParams) {
	s.chans.mu.Lock()
	_, named := ch.vars["Caller-Caller-ID-Name"]
	mergeLegTemplate(ch.vars, t.sub(t.answered, p), p.user)
	if !named {
		// The recorded PARK's caller id name is the callee's, after the
		// flip below; until then the leg has none (originate.jsonl).
		delete(ch.vars, "Caller-Caller-ID-Name")
	}
	delete(ch.vars, "variable_current_application")
	ch.vars["Caller-Channel-Answered-Time"] = microsText(s.now())
	ch.vars["variable_endpoint_disposition"] = "ANSWER"
	ch.answered = true
	s.chans.mu.Unlock()
	read := map[string]any{"channel-read-codec-name": "PCMU", "channel-read-codec-rate": "8000", "channel-read-codec-bit-rate": "64000"}
	s.legEvent(ch, "CODEC", "CS_CONSUME_MEDIA", "RINGING", "ringing", "", false, read)
	s.legEvent(ch, "CODEC", "CS_CONSUME_MEDIA", "RINGING", "ringing", "", false,
		map[string]any{"Channel-Write-codec-bit-rate": "64000", "Event-Calling-Function": "switch_core_session_set_write_codec", "Event-Calling-Line-Number": "471"})
	s.legEvent(ch, "CHANNEL_ANSWER", "CS_CONSUME_MEDIA", "RINGING", "answered", "", true, nil)
	s.legEvent(ch, "CHANNEL_CALLSTATE", "CS_CONSUME_MEDIA", "ACTIVE", "answered", "", false, nil)
	s.flipCID(ch)
	s.chans.mu.Lock()
	ch.vars["Channel-HIT-Dialplan"] = "true"
	s.chans.mu.Unlock()
	s.legEvent(ch, "CALL_UPDATE", "CS_CONSUME_MEDIA", "ACTIVE", "answered", "", true, map[string]any{"Direction": "RECV"})
	s.chans.mu.Lock()
	if s.chans.byID == nil {
		s.chans.byID = map[string]*channel{}
	}
	s.chans.byID[ch.uuid] = ch
	s.chans.mu.Unlock()
}

// flipCID swaps caller and callee ids as switch_channel_flip_cid does on an
// originated leg: the callee (the dialled number, "Outbound Call") becomes
// the caller id.
func (s *Switch) flipCID(ch *channel) {
	s.chans.mu.Lock()
	defer s.chans.mu.Unlock()
	v := ch.vars
	name, hasName := v["Caller-Caller-ID-Name"]
	num := v["Caller-Caller-ID-Number"]
	v["Caller-Caller-ID-Name"], v["Caller-Caller-ID-Number"] = v["Caller-Callee-ID-Name"], v["Caller-Callee-ID-Number"]
	v["Caller-Callee-ID-Number"] = num
	delete(v, "Caller-Callee-ID-Name")
	if hasName {
		v["Caller-Callee-ID-Name"] = name
	}
	v["variable_pre_transfer_caller_id_number"] = num
	v["variable_channel_cid_flipped"] = "yes"
}

// park is the &park() application after the reply (originate.jsonl).
func (s *Switch) park(ch *channel) {
	if _, live := s.channel(ch.uuid); !live {
		return // hung up before the application started
	}
	s.legEvent(ch, "CHANNEL_STATE", "CS_EXECUTE", "ACTIVE", "answered", "", false, nil)
	app := uuid.NewString()
	s.chans.mu.Lock()
	ch.vars["variable_current_application"] = "park"
	ch.parkApp = app
	s.chans.mu.Unlock()
	s.legEvent(ch, "CHANNEL_EXECUTE", "CS_EXECUTE", "ACTIVE", "answered", "", true, map[string]any{"Application": "park", "Application-UUID": app})
	s.legEvent(ch, "CHANNEL_PARK", "CS_EXECUTE", "ACTIVE", "answered", "", true, nil)
}
