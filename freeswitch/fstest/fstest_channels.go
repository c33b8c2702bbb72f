package fstest

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/recording"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/showchan"
)

// Inbound channels. A call is built from the CHANNEL_CREATE recorded on a
// real switch (inbound-headers-a.jsonl), so it carries the same variable set,
// with the SIP headers, numbers and addresses the test asks for, and it
// fires the sequences of a real switch: CREATE, then the dialplan
// (Options.Dialplan: CHANNEL_EXECUTE and _COMPLETE of each set, as
// freeswitch/conf's public context does, then CHANNEL_EXECUTE park and
// CHANNEL_PARK); ANSWER on uuid_answer (CODEC ×2 and PROGRESS_MEDIA first, unless
// Options.InboundEarlyNegotiation); HANGUP … DESTROY on uuid_kill or Hangup,
// the park application's EXECUTE_COMPLETE carrying the last application
// response (FILE PLAYED after a broadcast), as e2e TestConformance shows.

// InboundCall describes an INVITE that FreeSWITCH accepted.
type InboundCall struct {
	FromUser    string              // caller, e.g. +14165550100
	RequestUser string              // Request-URI user, e.g. 9228 or gw+o1_main
	ToUser      string              // To user (default RequestUser)
	NetworkIP   string              // source address (default 127.0.0.1)
	Headers     map[string][]string // extra SIP headers, e.g. "Diversion": {top, …, bottom}
	// ACLAuthedBy is the ACL list that let the call in (auth-calls=true), "" for none.
	ACLAuthedBy string
	// Gateway is set when the INVITE targeted a registered gateway's contact.
	Gateway string
	// CallerAudio fills dst with the caller's next 16 kHz samples, one 20 ms
	// frame (320 samples) per call, from the media loop. Default: a
	// continuous 440 Hz tone, as the recordings' caller sent. It runs on the
	// channel's media loop and must not call the Switch.
	CallerAudio func(dst []int16)
}

// ErrNoTemplate means the recordings holding the channel template are missing.
var ErrNoTemplate = errors.New("fstest: no recorded CHANNEL_CREATE template")

type channel struct {
	uuid     string
	vars     map[string]any // Caller-* and variable_* headers
	answered bool
	early    bool // pre-answered (uuid_pre_answer): 183 with SDP sent

	callerAudio func([]int16)
	parkApp     string // Application-UUID of the park running on the channel ("" if none)
	hangingUp   string // the call state while the hangup sequence runs
	hangupCause string
	callState   string // the last CHANNEL_CALLSTATE's ("" = DOWN), for Original-Channel-Call-State
}

// stateNumbers are FreeSWITCH's switch_channel_state_t values.
var stateNumbers = map[string]int{"CS_NEW": 0, "CS_INIT": 1, "CS_ROUTING": 2, "CS_SOFT_EXECUTE": 3, "CS_EXECUTE": 4,
	"CS_EXCHANGE_MEDIA": 5, "CS_PARK": 6, "CS_CONSUME_MEDIA": 7, "CS_HIBERNATE": 8, "CS_RESET": 9, "CS_HANGUP": 10,
	"CS_REPORTING": 11, "CS_DESTROY": 12, "CS_NONE": 13}

// callStateNumbers are its switch_channel_callstate_t values.
var callStateNumbers = map[string]int{"DOWN": 0, "DIALING": 1, "RINGING": 2, "EARLY": 3, "ACTIVE": 4, "HELD": 5,
	"RING_WAIT": 6, "HANGUP": 7, "UNHELD": 8}

// addStateHeaders adds what switch_channel_event_set_basic_data writes
// about the state (s.chans.mu held): Channel-State-Number is the state the
// channel is already in, ahead of Channel-State (the state being run) —
// CS_ROUTING at CREATE and ORIGINATE, CS_INIT at OUTGOING, CS_HANGUP from
// the hangup on, CS_DESTROY at DESTROY (0 for a leg never born), as the
// recordings and the real switch show; a CALLSTATE event adds the call
// state before it (Original-Channel-Call-State) and the new one's number.
func (ch *channel) addStateHeaders(h map[string]any, name, state, callState, answerState string) {
	n := stateNumbers[state]
	switch {
	case name == "CHANNEL_OUTGOING":
		n = 1
	case name == "CHANNEL_CREATE" || name == "CHANNEL_ORIGINATE":
		n = 2
	case name == "CHANNEL_DESTROY" && state == "CS_NONE", name == "CHANNEL_STATE" && state == "CS_DESTROY" && answerState != "hangup":
		n = 0 // switch_core_session_destroy of a session that never ran (originate-gateway-down)
	case name == "CHANNEL_DESTROY":
		n = 12
	case answerState == "hangup" && n < 10:
		n = 10
	}
	h["Channel-State-Number"] = strconv.Itoa(n)
	if name == "CHANNEL_CALLSTATE" {
		h["Original-Channel-Call-State"] = firstNonEmpty(ch.callState, "DOWN")
		h["Channel-Call-State-Number"] = strconv.Itoa(callStateNumbers[callState])
		ch.callState = callState
	}
}

// codecEvents sets the channel's codecs (PCMU) and fires the two CODEC
// events of switch_core_session_set_real_read_codec and _set_write_codec
// with the headers the real switch and the recordings show.
func (s *Switch) codecEvents(b *batch, ch *channel, state, callState string) {
	s.chans.mu.Lock()
	maps.Copy(ch.vars, codecHeaders())
	s.chans.mu.Unlock()
	s.channelEventX(b, ch, "CODEC", state, callState, "ringing", "", false, map[string]any{
		"channel-read-codec-name": "PCMU", "channel-read-codec-rate": "8000", "channel-read-codec-bit-rate": "64000",
		"Event-Calling-File": "switch_core_codec.c", "Event-Calling-Function": "switch_core_session_set_real_read_codec",
		"Event-Calling-Line-Number": "189"})
	s.channelEventX(b, ch, "CODEC", state, callState, "ringing", "", false, map[string]any{
		"Channel-Write-codec-bit-rate": "64000", "Event-Calling-File": "switch_core_codec.c",
		"Event-Calling-Function": "switch_core_session_set_write_codec", "Event-Calling-Line-Number": "471"})
}

// codecHeaders are the Channel-*-Codec-* headers of a PCMU channel.
func codecHeaders() map[string]any {
	return map[string]any{"Channel-Read-Codec-Name": "PCMU", "Channel-Read-Codec-Rate": "8000",
		"Channel-Read-Codec-Bit-Rate": "64000", "Channel-Write-Codec-Name": "PCMU", "Channel-Write-Codec-Rate": "8000",
		"Channel-Write-Codec-Bit-Rate": "64000"}
}

type channels struct {
	mu      sync.Mutex
	byID    map[string]*channel
	tmpl    map[string]any
	bridged map[string]string // uuid_bridge partners (fstest_bridge.go)
}

func (s *Switch) template() (map[string]any, error) {
	s.chans.mu.Lock()
	defer s.chans.mu.Unlock()
	if s.chans.tmpl != nil {
		return s.chans.tmpl, nil
	}
	frames, err := recording.LoadRecording("inbound-headers-a.jsonl")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoTemplate, err)
	}
	for _, f := range frames {
		if f.Dir == "s2c" && strings.Contains(f.Raw, `"Event-Name":"CHANNEL_CREATE"`) {
			_, body, _ := strings.Cut(f.Raw, "\n\n")
			var m map[string]any
			if err := json.Unmarshal([]byte(body), &m); err != nil {
				return nil, err
			}
			s.chans.tmpl = m
			return m, nil
		}
	}
	return nil, ErrNoTemplate
}

// snake turns a SIP header name into FreeSWITCH's sip_i_ suffix.
func snake(name string) string { return strings.ReplaceAll(strings.ToLower(name), "-", "_") }

// Call offers an inbound call; it returns the channel's Unique-ID once
// CHANNEL_PARK has been emitted.
func (s *Switch) Call(c InboundCall) (string, error) {
	tmpl, err := s.template()
	if err != nil {
		return "", err
	}
	id := uuid.NewString()
	if c.NetworkIP == "" {
		c.NetworkIP = "127.0.0.1"
	}
	if c.ToUser == "" {
		c.ToUser = c.RequestUser
	}
	v := map[string]any{}
	for k, val := range tmpl {
		if strings.HasPrefix(k, "Caller-") || strings.HasPrefix(k, "variable_") || k == "Channel-Name" || k == "Call-Direction" || k == "Presence-Call-Direction" {
			v[k] = val
		}
	}
	// Drop the template's own extra headers.
	delete(v, "variable_sip_h_Diversion")
	delete(v, "variable_sip_i_diversion")
	host := s.o.SIPAddr
	channelName := "sofia/" + s.o.Profile + "/" + c.FromUser + "@" + c.NetworkIP + ":5090"
	set := map[string]string{
		"Unique-ID": id, "Caller-Unique-ID": id, "Channel-Call-UUID": id, "variable_uuid": id, "variable_call_uuid": id,
		"Channel-Name": channelName, "variable_channel_name": channelName, "Caller-Channel-Name": channelName,
		"Caller-Destination-Number": c.ToUser, "Caller-Caller-ID-Number": c.FromUser, "Caller-ANI": c.FromUser,
		"Caller-Orig-Caller-ID-Number": c.FromUser, "Caller-Username": c.FromUser, "Caller-Network-Addr": c.NetworkIP,
		"Caller-Context":         "public",
		"variable_sip_from_user": c.FromUser, "variable_sip_from_user_stripped": c.FromUser,
		"variable_sip_req_user": c.RequestUser, "variable_sip_req_uri": c.RequestUser + "@" + host,
		"variable_sip_to_user": c.ToUser, "variable_sip_to_uri": c.ToUser + "@" + host,
		"variable_sip_network_ip": c.NetworkIP, "variable_sip_received_ip": c.NetworkIP,
		"variable_sip_call_id": id + "@fstest", "variable_sip_i_call_id": id + "@fstest",
	}
	if c.Gateway != "" {
		set["variable_sip_gateway"] = c.Gateway
		set["variable_sip_req_user"] = "gw+" + c.Gateway
		set["variable_sip_req_params"] = "transport=udp;gw=" + c.Gateway
	}
	if c.ACLAuthedBy != "" {
		set["variable_sip_acl_authed_by"] = c.ACLAuthedBy
		set["variable_sip_authorized"] = "true"
	}
	for k, val := range set {
		v[k] = val
	}
	v["Channel-HIT-Dialplan"] = "true"
	headerVars(v, c.Headers)
	ch := &channel{uuid: id, vars: v, callerAudio: c.CallerAudio}
	s.chans.mu.Lock()
	if s.chans.byID == nil {
		s.chans.byID = map[string]*channel{}
	}
	s.chans.byID[id] = ch
	s.chans.mu.Unlock()
	for _, st := range []struct{ name, state, callState string }{
		{"CHANNEL_STATE", "CS_NEW", "DOWN"}, {"CHANNEL_STATE", "CS_INIT", "DOWN"}, {"CHANNEL_CREATE", "CS_INIT", "DOWN"},
		{"CHANNEL_CALLSTATE", "CS_ROUTING", "RINGING"}, {"CHANNEL_STATE", "CS_ROUTING", "RINGING"},
		{"CHANNEL_STATE", "CS_EXECUTE", "RINGING"},
	} {
		s.channelEvent(nil, ch, st.name, st.state, st.callState, "ringing", "", st.name == "CHANNEL_CREATE")
		if st.state == "CS_NEW" && s.o.InboundEarlyNegotiation {
			// The offer is negotiated on arrival: CODEC ×2, and every
			// later event has the codecs.
			s.codecEvents(nil, ch, "CS_NEW", "DOWN")
		}
	}
	s.runDialplan(ch)
	return id, nil
}

// headerVars sets the channel variables of the call's extra SIP headers:
// sip_i_<name> (every value), sip_h_<name> (the last one) and
// sip_history_info.
func headerVars(v map[string]any, headers map[string][]string) {
	for name, vals := range headers {
		if len(vals) == 0 {
			continue
		}
		key := "variable_sip_i_" + snake(name)
		if len(vals) == 1 {
			v[key] = vals[0]
		} else {
			arr := make([]any, len(vals))
			for i, x := range vals {
				arr[i] = x
			}
			v[key] = arr // a repeated header is a JSON array, top first
		}
		switch {
		case strings.EqualFold(name, "History-Info"):
			v["variable_sip_history_info"] = strings.Join(vals, ", ")
		default:
			v["variable_sip_h_"+name] = vals[len(vals)-1] // sip_h_ keeps only the last one
		}
	}
}

// runDialplan runs Options.Dialplan on a new inbound channel as
// switch_core_session_exec does: CHANNEL_EXECUTE (Application,
// Application-Data when there is some, Application-UUID), the
// application, CHANNEL_EXECUTE_COMPLETE (Application-Response: the
// current_application_response variable, else "_none_"); park ends it
// with CHANNEL_PARK, its EXECUTE_COMPLETE comes at the hangup.
func (s *Switch) runDialplan(ch *channel) {
	for _, step := range s.o.Dialplan {
		app, data, _ := strings.Cut(strings.TrimSpace(step), " ")
		data = strings.TrimSpace(data)
		appID := uuid.NewString()
		s.setVar(ch, "current_application", &app)
		if data != "" {
			s.setVar(ch, "current_application_data", &data)
		} else {
			s.setVar(ch, "current_application_data", nil)
		}
		s.channelEventX(nil, ch, "CHANNEL_EXECUTE", "CS_EXECUTE", "RINGING", "ringing", "", true, appHeaders(app, data, appID, ""))
		if app == "park" {
			s.chans.mu.Lock()
			ch.parkApp = appID
			s.chans.mu.Unlock()
			s.channelEvent(nil, ch, "CHANNEL_PARK", "CS_EXECUTE", "RINGING", "ringing", "", true)
			return
		}
		if k, v, ok := strings.Cut(data, "="); app == "set" && ok {
			s.setVar(ch, k, &v)
		}
		resp, _ := s.getVar(ch, "current_application_response")
		s.channelEventX(nil, ch, "CHANNEL_EXECUTE_COMPLETE", "CS_EXECUTE", "RINGING", "ringing", "", true, appHeaders(app, data, appID, firstNonEmpty(resp, "_none_")))
	}
}

// appHeaders are the Application-* headers of CHANNEL_EXECUTE (response
// "") and CHANNEL_EXECUTE_COMPLETE.
func appHeaders(app, data, appID, response string) map[string]any {
	h := map[string]any{"Application": app, "Application-UUID": appID}
	if data != "" {
		h["Application-Data"] = data
	}
	if response != "" {
		h["Application-Response"] = response
	}
	return h
}

// channelEvent fires one channel event (to b, or at once when b is nil);
// withVars adds the channel variables (the recordings show them on CREATE,
// EXECUTE, PARK, ANSWER, HANGUP…).
func (s *Switch) channelEvent(b *batch, ch *channel, name, state, callState, answerState, cause string, withVars bool) {
	s.channelEventX(b, ch, name, state, callState, answerState, cause, withVars, nil)
}

// channelEventX is channelEvent with extra headers.
func (s *Switch) channelEventX(b *batch, ch *channel, name, state, callState, answerState, cause string, withVars bool, extra map[string]any) {
	h := map[string]any{"Event-Name": name, "Channel-State": state, "Channel-Call-State": callState, "Answer-State": answerState,
		"Unique-ID": ch.uuid, "Channel-Call-UUID": ch.uuid, "Call-Direction": "inbound"}
	if cause != "" {
		h["Hangup-Cause"] = cause
	}
	s.chans.mu.Lock()
	for k, v := range ch.vars {
		if name == "CHANNEL_STATE" && state == "CS_NEW" && strings.HasPrefix(k, "Caller-") {
			continue // fired before the caller profile is set
		}
		if withVars || !strings.HasPrefix(k, "variable_") {
			h[k] = v
		}
	}
	ch.addStateHeaders(h, name, state, callState, answerState)
	s.chans.mu.Unlock()
	for k, v := range extra {
		h[k] = v
	}
	s.fire(b, repeatedHeaders(s.eventFromMap(h, ""), name, cause))
}

// repeatedHeaders adds the headers FreeSWITCH writes twice (recorded in
// inbound-answer-hangup, originate, originate-busy): CHANNEL_HANGUP_COMPLETE
// has its own Hangup-Cause right after the standard headers besides the
// channel's; the write CODEC event has Channel-Write-Codec-Name and -Rate
// again with its own Channel-Write-codec-bit-rate.
func repeatedHeaders(e *event, name, cause string) *event {
	switch _, write := e.Get("Channel-Write-codec-bit-rate"); {
	case name == "CHANNEL_HANGUP_COMPLETE" && cause != "":
		n := min(len(standardHeaders), len(e.Headers))
		e.Headers = slices.Insert(e.Headers, n, hdr{Name: "Hangup-Cause", Value: cause})
	case name == "CODEC" && write:
		e.Headers = append(e.Headers, hdr{Name: "Channel-Write-Codec-Name", Value: "PCMU"}, hdr{Name: "Channel-Write-Codec-Rate", Value: "8000"})
	}
	return e
}

// channelAPI adds the channel commands to the api table.
func (s *Switch) channelAPI(m map[string]apiFunc) {
	m["uuid_answer"] = func(b *batch, args string) string { return s.uuidAnswer(b, strings.TrimSpace(args)) }
	m["uuid_pre_answer"] = func(b *batch, args string) string { return s.uuidPreAnswer(b, strings.TrimSpace(args)) }
	m["uuid_kill"] = func(b *batch, args string) string { return s.uuidKill(b, strings.Fields(args)) }
	m["show"] = s.apiShow
}

// apiShow is `show channels as json` (showchan): the live channels, the
// answered outbound legs among them.
func (s *Switch) apiShow(_ *batch, args string) string {
	if args != "channels as json" {
		return s.unsupported("show " + args)
	}
	s.chans.mu.Lock()
	defer s.chans.mu.Unlock()
	var rows []showchan.Row
	for _, id := range sortedKeys(s.chans.byID) {
		ch := s.chans.byID[id]
		v := func(k string) string { x, _ := ch.vars[k].(string); return x }
		app := ""
		if ch.parkApp != "" {
			app = "park"
		}
		rows = append(rows, showchan.Row{"uuid": id, "direction": v("Call-Direction"), "name": v("Channel-Name"),
			"cid_num": v("Caller-Caller-ID-Number"), "dest": v("Caller-Destination-Number"), "application": app,
			"callstate": firstNonEmpty(ch.callState, "DOWN"), "state": "CS_EXECUTE"})
	}
	return showchan.JSON(rows)
}

func (s *Switch) channel(id string) (*channel, bool) {
	s.chans.mu.Lock()
	defer s.chans.mu.Unlock()
	ch, ok := s.chans.byID[id]
	return ch, ok
}

// uuidAnswer is uuid_answer: "+OK\n"; "-ERROR\n" for a uuid that names no
// channel, or none (as a real switch answers, unlike the other uuid_*).
func (s *Switch) uuidAnswer(b *batch, id string) string {
	ch, ok := s.channel(id)
	if !ok {
		return "-ERROR\n"
	}
	s.chans.mu.Lock()
	already, early := ch.answered, ch.early
	ch.answered = true
	ch.vars["variable_endpoint_disposition"] = "ANSWER"
	setCodecVars(ch)
	s.chans.mu.Unlock()
	if !already && !early && !s.o.InboundEarlyNegotiation {
		// Negotiated now (the recorded CODEC ×2 before PROGRESS_MEDIA).
		s.codecEvents(b, ch, "CS_EXECUTE", "RINGING")
	}
	if !already {
		from := "RINGING"
		if early {
			from = "EARLY"
		} else if !s.o.InboundEarlyNegotiation {
			s.channelEvent(b, ch, "CHANNEL_PROGRESS_MEDIA", "CS_EXECUTE", "RINGING", "early", "", true)
			s.channelEvent(b, ch, "CHANNEL_CALLSTATE", "CS_EXECUTE", "EARLY", "early", "", false)
			from = "EARLY"
		}
		s.channelEvent(b, ch, "CHANNEL_ANSWER", "CS_EXECUTE", from, "answered", "", true)
		s.channelEvent(b, ch, "CHANNEL_CALLSTATE", "CS_EXECUTE", "ACTIVE", "answered", "", false)
	}
	return "+OK\n"
}

// setCodecVars sets the channel's codec, as the answer or pre-answer
// negotiates it (the recorded CODEC event before CHANNEL_PROGRESS_MEDIA):
// from then uuid_getvar read_codec answers it.
func setCodecVars(ch *channel) {
	for k, v := range map[string]string{"variable_read_codec": "PCMU", "variable_read_rate": "8000",
		"variable_original_read_codec": "PCMU", "variable_original_read_rate": "8000",
		"variable_write_codec": "PCMU", "variable_write_rate": "8000"} {
		if _, set := ch.vars[k]; !set {
			ch.vars[k] = v
		}
	}
}

// uuidPreAnswer is uuid_pre_answer (mod_commands.c
// uuid_pre_answer_function): early media, the caller gets a 183 with SDP;
// CHANNEL_PROGRESS_MEDIA and CALLSTATE EARLY. "+OK\n"; "-ERROR\n" for a
// uuid that names no channel, or none (FreeSWITCH 1.11.1's replies).
func (s *Switch) uuidPreAnswer(b *batch, id string) string {
	ch, ok := s.channel(id)
	if !ok {
		return "-ERROR\n"
	}
	s.chans.mu.Lock()
	skip := ch.answered || ch.early
	ch.early = true
	setCodecVars(ch)
	s.chans.mu.Unlock()
	if !skip {
		if !s.o.InboundEarlyNegotiation {
			s.codecEvents(b, ch, "CS_EXECUTE", "RINGING")
		}
		s.channelEvent(b, ch, "CHANNEL_PROGRESS_MEDIA", "CS_EXECUTE", "RINGING", "early", "", true)
		s.channelEvent(b, ch, "CHANNEL_CALLSTATE", "CS_EXECUTE", "EARLY", "early", "", false)
	}
	return "+OK\n"
}

// PreAnswered reports whether the channel was pre-answered (early media).
func (s *Switch) PreAnswered(id string) bool {
	s.chans.mu.Lock()
	defer s.chans.mu.Unlock()
	ch, ok := s.chans.byID[id]
	return ok && ch.early
}

// Hangup ends a channel as the caller's BYE would (NORMAL_CLEARING).
func (s *Switch) Hangup(id, cause string) bool { return s.hangup(nil, id, cause) }

func (s *Switch) hangup(b *batch, id, cause string) bool {
	ch, ok := s.channel(id)
	if !ok {
		return false
	}
	if cause == "" {
		cause = "NORMAL_CLEARING"
	}
	s.chans.mu.Lock()
	delete(s.chans.byID, id)
	parkApp := ch.parkApp
	call := "ACTIVE"
	if !ch.answered {
		call = "RINGING"
	}
	s.chans.mu.Unlock()
	for _, st := range []struct {
		name, state, callState string
		vars                   bool
	}{
		{"CHANNEL_HANGUP", "CS_EXECUTE", call, true}, {"CHANNEL_UNPARK", "CS_EXECUTE", call, true},
		{"CHANNEL_EXECUTE_COMPLETE", "CS_EXECUTE", call, true}, {"CHANNEL_STATE", "CS_HANGUP", call, false},
		{"CHANNEL_CALLSTATE", "CS_HANGUP", "HANGUP", false}, {"CHANNEL_STATE", "CS_REPORTING", "HANGUP", false},
		{"CHANNEL_HANGUP_COMPLETE", "CS_REPORTING", "HANGUP", true}, {"CHANNEL_DESTROY", "CS_REPORTING", "HANGUP", true},
		{"CHANNEL_STATE", "CS_DESTROY", "HANGUP", false},
	} {
		var extra map[string]any
		if st.name == "CHANNEL_EXECUTE_COMPLETE" && parkApp != "" {
			// park returns: its response is whatever application answered
			// last (FILE PLAYED after a broadcast), else _none_.
			resp, _ := s.getVar(ch, "current_application_response")
			extra = appHeaders("park", "", parkApp, firstNonEmpty(resp, "_none_"))
		}
		s.channelEventX(b, ch, st.name, st.state, st.callState, "hangup", cause, st.vars, extra)
		switch {
		case st.name == "CHANNEL_HANGUP":
			s.media.Hangup(b.media(), id, 1)
		case st.name == "CHANNEL_STATE" && st.state == "CS_HANGUP":
			s.chans.mu.Lock()
			ch.hangingUp, ch.hangupCause = call, cause
			s.chans.mu.Unlock()
			s.media.Hangup(b.media(), id, 2)
		}
	}
	s.unbridge(b, id)
	return true
}

func (s *Switch) uuidKill(b *batch, args []string) string {
	if len(args) == 0 {
		return "-USAGE: <uuid> [cause]\n"
	}
	cause := ""
	if len(args) > 1 {
		cause = args[1]
	}
	if !s.hangup(b, args[0], cause) {
		return "-ERR No such channel!\n"
	}
	return "+OK\n"
}

// Channels lists the live channel ids.
func (s *Switch) Channels() []string {
	s.chans.mu.Lock()
	defer s.chans.mu.Unlock()
	return sortedKeys(s.chans.byID)
}

// ErrCallRejected means the profile refused an INVITE (Invite): 403.
var ErrCallRejected = errors.New("fstest: INVITE refused by the profile's inbound ACL lists (403)")

// Invite offers an INVITE as freeswitch/conf's external profile judges it
// (auth-calls with auth-calls-acl-only): the profile's apply-inbound-acl
// lists (set by rescan, their nodes by reloadacl) are tried in order, and
// the first that allows NetworkIP lets the call in, as Call does with
// ACLAuthedBy set to that list. A source no list allows is refused with
// 403 before any dialplan: no CHANNEL_CREATE, only CHANNEL_STATE CS_NEW,
// then HANGUP … DESTROY with CALL_REJECTED (inbound-acl-denied recording;
// the same on a real switch with freeswitch/conf, e2e TestConformance).
// Invite then returns that channel's uuid and ErrCallRejected.
func (s *Switch) Invite(c InboundCall) (string, error) {
	if c.NetworkIP == "" {
		c.NetworkIP = "127.0.0.1"
	}
	for _, list := range s.InboundACLs() {
		if s.sofia.ACLAllows(c.NetworkIP, list) {
			c.ACLAuthedBy = list
			return s.Call(c)
		}
	}
	id := uuid.NewString()
	name := "sofia/" + s.o.Profile + "/" + c.FromUser + "@" + c.NetworkIP + ":5090"
	ch := &channel{uuid: id, vars: map[string]any{"Channel-Name": name, "Call-Direction": "inbound",
		"Presence-Call-Direction": "inbound", "Channel-HIT-Dialplan": "true",
		"variable_direction": "inbound", "variable_uuid": id, "variable_call_uuid": id, "variable_session_id": "1",
		"variable_sip_from_user": c.FromUser, "variable_sip_from_port": "5090",
		"variable_sip_from_uri": c.FromUser + "@" + c.NetworkIP + ":5090", "variable_sip_from_host": c.NetworkIP,
		"variable_video_media_flow": "disabled", "variable_audio_media_flow": "disabled", "variable_text_media_flow": "disabled",
		"variable_channel_name": name, "variable_sip_call_id": id + "@fstest",
		"variable_ep_codec_string": "CORE_PCM_MODULE.PCMU@8000h@20i@64000b"}}
	const cause = "CALL_REJECTED"
	s.channelEvent(nil, ch, "CHANNEL_STATE", "CS_NEW", "DOWN", "ringing", "", false)
	s.channelEvent(nil, ch, "CHANNEL_HANGUP", "CS_NEW", "DOWN", "hangup", cause, true)
	s.chans.mu.Lock()
	ch.vars["variable_hangup_cause"], ch.vars["variable_hangup_cause_q850"] = cause, "21"
	s.chans.mu.Unlock()
	for _, st := range []struct {
		name, state, callState string
		vars                   bool
	}{
		{"CHANNEL_STATE", "CS_HANGUP", "DOWN", false}, {"CHANNEL_CALLSTATE", "CS_HANGUP", "HANGUP", false},
		{"CHANNEL_STATE", "CS_REPORTING", "HANGUP", false}, {"CHANNEL_HANGUP_COMPLETE", "CS_REPORTING", "HANGUP", true},
		{"CHANNEL_DESTROY", "CS_REPORTING", "HANGUP", true}, {"CHANNEL_STATE", "CS_DESTROY", "HANGUP", false},
	} {
		s.channelEvent(nil, ch, st.name, st.state, st.callState, "hangup", cause, st.vars)
	}
	return id, ErrCallRejected
}
