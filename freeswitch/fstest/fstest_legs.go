package fstest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/eslserver"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/recording"
)

// Outbound legs' headers: the recorded templates rewritten for one leg,
// their events, and the SIP variables and Q.850 codes of their causes.

// legSites are the recorded calling sites of the events only outbound legs
// and transfers fire (the others are in callSites).
var legSites = map[string]eslserver.Site{
	"CHANNEL_OUTGOING":    {"switch_core_session.c", "switch_core_session_outgoing_channel", "768"},
	"CHANNEL_ORIGINATE":   {"switch_core_state_machine.c", "switch_core_session_run", "632"},
	"CHANNEL_PROGRESS":    {"switch_channel.c", "switch_channel_perform_mark_ring_ready_value", "3507"},
	"CODEC":               {"switch_core_codec.c", "switch_core_session_set_real_read_codec", "189"},
	"CALL_UPDATE":         {"switch_channel.c", "switch_channel_flip_cid", "3279"},
	"sofia::notify_refer": {"sofia.c", "sofia_handle_sip_i_notify", "630"},
}

// legEvent publishes one channel event at once: the state headers, the
// channel's Caller-*/codec headers (and variables with withVars), extra.
func (s *Switch) legEvent(ch *channel, name, state, callState, answerState, cause string, withVars bool, extra map[string]any) {
	h := map[string]any{"Event-Name": name, "Channel-State": state, "Channel-Call-State": callState, "Answer-State": answerState,
		"Unique-ID": ch.uuid, "Channel-Call-UUID": ch.uuid}
	if cause != "" {
		h["Hangup-Cause"] = cause
	}
	if site, ok := legSites[name]; ok {
		h["Event-Calling-File"], h["Event-Calling-Function"], h["Event-Calling-Line-Number"] = site[0], site[1], site[2]
	}
	s.chans.mu.Lock()
	for k, v := range ch.vars {
		if withVars || !strings.HasPrefix(k, "variable_") {
			h[k] = v
		}
	}
	ch.addStateHeaders(h, name, state, callState, answerState)
	s.chans.mu.Unlock()
	maps.Copy(h, extra)
	s.publish(repeatedHeaders(s.eventFromMap(h, ""), name, cause))
}

func microsText(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }

// failureVars are the SIP variables of a leg that was not answered.
func failureVars(cause string, refused bool) map[string]any {
	if !refused { // we cancelled it (timeout, uuid_kill)
		return map[string]any{"variable_sip_hangup_disposition": "send_cancel",
			"variable_sip_invite_failure_status": "487", "variable_sip_invite_failure_phrase": "CANCEL"}
	}
	v := map[string]any{"variable_sip_hangup_disposition": "recv_refuse"}
	if st, ok := causeSIP[cause]; ok {
		code := strconv.Itoa(st.code)
		v["variable_sip_invite_failure_status"], v["variable_sip_invite_failure_phrase"] = code, st.phrase
		v["variable_sip_term_status"], v["variable_proto_specific_hangup_cause"] = code, "sip:"+code
		v["variable_sip_term_cause"] = strconv.Itoa(causeQ850(cause))
	}
	return v
}

// causeSIP: the SIP answer a far end sends for a cause (the inverse of
// sofia_glue_sip_cause_to_freeswitch for the usual ones).
var causeSIP = map[string]struct {
	code   int
	phrase string
}{
	"USER_BUSY": {486, "Busy Here"}, "CALL_REJECTED": {603, "Decline"}, "UNALLOCATED_NUMBER": {404, "Not Found"},
	"NO_ROUTE_DESTINATION": {404, "Not Found"}, "NORMAL_TEMPORARY_FAILURE": {503, "Service Unavailable"},
	"SUBSCRIBER_ABSENT": {480, "Temporarily Unavailable"}, "NO_USER_RESPONSE": {408, "Request Timeout"},
	"INVALID_NUMBER_FORMAT": {484, "Address Incomplete"}, "INCOMPATIBLE_DESTINATION": {488, "Not Acceptable Here"},
	"DESTINATION_OUT_OF_ORDER": {502, "Bad Gateway"}, "NUMBER_CHANGED": {410, "Gone"},
}

// q850 is switch_channel_cause_q850: FreeSWITCH's own causes (above 127)
// report 16.
func causeQ850(cause string) int {
	codes := map[string]int{"UNALLOCATED_NUMBER": 1, "NO_ROUTE_DESTINATION": 3, "NORMAL_CLEARING": 16, "USER_BUSY": 17,
		"NO_USER_RESPONSE": 18, "NO_ANSWER": 19, "SUBSCRIBER_ABSENT": 20, "CALL_REJECTED": 21, "NUMBER_CHANGED": 22,
		"DESTINATION_OUT_OF_ORDER": 27, "INVALID_NUMBER_FORMAT": 28, "NORMAL_TEMPORARY_FAILURE": 41, "INCOMPATIBLE_DESTINATION": 88}
	if c, ok := codes[cause]; ok {
		return c
	}
	return 16
}

// legTemplates loads (once) the recorded outbound leg headers.
func (s *Switch) legTemplates() (*legTemplates, error) {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	if s.out.tmpl != nil {
		return s.out.tmpl, nil
	}
	frames, err := recording.LoadRecording("originate.jsonl")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoTemplate, err)
	}
	t := &legTemplates{}
	for _, f := range frames {
		if f.Dir != "s2c" || !strings.Contains(f.Raw, "text/event-json") {
			continue
		}
		_, body, _ := strings.Cut(f.Raw, "\n\n")
		var m map[string]any
		if json.Unmarshal([]byte(body), &m) != nil || m["Call-Direction"] != "outbound" {
			continue
		}
		dst := map[string]*map[string]any{"CHANNEL_CREATE": &t.create, "CHANNEL_PROGRESS": &t.progress, "CHANNEL_PARK": &t.answered}[fmt.Sprint(m["Event-Name"])]
		if dst == nil || *dst != nil {
			continue
		}
		keep := map[string]any{}
		for k, v := range m {
			if strings.HasPrefix(k, "Caller-") || strings.HasPrefix(k, "variable_") || strings.HasPrefix(k, "Channel-Read-Codec-") ||
				strings.HasPrefix(k, "Channel-Write-Codec-") || k == "Channel-Name" || k == "Call-Direction" || k == "Presence-Call-Direction" {
				keep[k] = v
			}
		}
		*dst = keep
	}
	if t.create == nil || t.progress == nil || t.answered == nil {
		return nil, ErrNoTemplate
	}
	get := func(k string) string { v, _ := t.create[k].(string); return v }
	t.uuid, t.gateway, t.number = get("variable_uuid"), get("variable_sip_gateway_name"), get("Caller-Destination-Number")
	t.callID, _ = t.progress["variable_sip_call_id"].(string)
	_, t.hostPort, _ = strings.Cut(get("variable_sip_destination_url"), "@")
	t.host, t.port, _ = strings.Cut(t.hostPort, ":")
	_, t.profileAddr, _ = strings.Cut(get("variable_sofia_profile_url"), "@")
	t.profile = get("variable_sofia_profile_name")
	if t.uuid == "" || t.gateway == "" || t.number == "" || t.port == "" || t.profileAddr == "" || t.profile == "" || t.callID == "" {
		return nil, ErrNoTemplate
	}
	s.out.tmpl = t
	return t, nil
}

// remoteHostKeys hold the far end's address (the recording's far end and
// FreeSWITCH were both 127.0.0.1, so only these keys are rewritten).
var remoteHostKeys = []string{"variable_sip_network_ip", "variable_sip_reply_host", "variable_sip_from_host", "variable_sip_to_host",
	"variable_sip_contact_host", "Caller-Network-Addr", "variable_remote_media_ip"}

// sub rewrites a template for one leg: the recorded uuid, gateway, number,
// far-end address, profile and call id become the leg's.
func (t *legTemplates) sub(tmpl map[string]any, p legParams) map[string]any {
	host, port, _ := strings.Cut(p.hostPort, ":")
	if port == "" {
		port = "5060"
	}
	r := strings.NewReplacer(t.uuid, p.id, t.callID, p.id+"@fstest-out", t.hostPort, p.hostPort, t.profileAddr, p.sipAddr,
		"sofia/"+t.profile+"/", "sofia/"+p.profile+"/", t.gateway, p.gw, t.number, p.number)
	out := make(map[string]any, len(tmpl))
	for k, v := range tmpl {
		sv, ok := v.(string)
		if !ok {
			out[k] = v
			continue
		}
		switch {
		case sv == t.port:
			sv = port
		case sv == t.host && slices.Contains(remoteHostKeys, k):
			sv = host
		case sv == t.profile && strings.HasSuffix(k, "profile_name"):
			sv = p.profile
		default:
			sv = r.Replace(sv)
		}
		out[k] = sv
	}
	if _, ok := out["variable_sip_from_user"]; ok {
		out["variable_sip_from_user"] = p.username
		out["variable_sip_from_uri"] = p.username + "@" + p.hostPort
		out["variable_sip_full_from"] = "<sip:" + p.username + "@" + p.hostPort + ">;tag=" + p.id[:min(8, len(p.id))]
	}
	return out
}

// merge adds a later template's headers to a leg's: variables the switch
// learns from SIP replace the earlier ones, except those the dial string
// set; other headers (Caller-*, codecs) are only added.
func mergeLegTemplate(dst, src map[string]any, user map[string]string) {
	for k, v := range src {
		name, isVar := strings.CutPrefix(k, "variable_")
		if _, set := dst[k]; !set {
			dst[k] = v
		} else if _, mine := user[name]; isVar && !mine {
			dst[k] = v
		}
	}
}
