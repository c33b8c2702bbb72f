package fstest

import (
	"slices"
	"strings"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/sofia"
)

// uuid_bridge, as mod_commands' uuid_bridge_function answers it:
// "<uuid> <other_uuid>" → "+OK <other_uuid>\n", either channel missing →
// "-ERR Invalid uuid\n", fewer than two arguments → "-USAGE: <uuid>
// <other_uuid>\n". The bridge fires CHANNEL_BRIDGE on the first channel
// with Other-Leg-Unique-ID (switch_ivr_bridge.c). When either leg hangs up
// the other is hung up with NORMAL_CLEARING, which is what sipbridge's
// dialplan asks for (hangup_after_bridge=true) and what a parked originated
// leg does once its partner is gone. Not recorded: read from the source.

func (s *Switch) bridgeAPI(m map[string]apiFunc) {
	m["uuid_bridge"] = s.apiUUIDBridge
	m["hupall"] = s.apiHupall
}

func (s *Switch) apiUUIDBridge(b *batch, args string) string {
	argv := strings.Fields(args)
	if len(argv) < 2 {
		return "-USAGE: <uuid> <other_uuid>\n"
	}
	a, okA := s.channel(argv[0])
	o, okB := s.channel(argv[1])
	if !okA || !okB || a == o {
		return "-ERR Invalid uuid\n"
	}
	s.chans.mu.Lock()
	if s.chans.bridged == nil {
		s.chans.bridged = map[string]string{}
	}
	s.chans.bridged[a.uuid] = o.uuid
	s.chans.bridged[o.uuid] = a.uuid
	a.vars["variable_bridge_uuid"] = o.uuid
	o.vars["variable_bridge_uuid"] = a.uuid
	s.chans.mu.Unlock()
	s.channelEventWith(b, a, "CHANNEL_BRIDGE", map[string]any{"Other-Leg-Unique-ID": o.uuid, "Bridge-A-Unique-ID": a.uuid, "Bridge-B-Unique-ID": o.uuid})
	return "+OK " + o.uuid + "\n"
}

// Bridged returns the channel a channel is bridged to ("" for none).
func (s *Switch) Bridged(uuid string) string {
	s.chans.mu.Lock()
	defer s.chans.mu.Unlock()
	return s.chans.bridged[uuid]
}

// unbridge ends the partner of a channel that hung up.
func (s *Switch) unbridge(b *batch, id string) {
	s.chans.mu.Lock()
	other := s.chans.bridged[id]
	delete(s.chans.bridged, id)
	if other != "" {
		delete(s.chans.bridged, other)
	}
	s.chans.mu.Unlock()
	if other != "" {
		s.hangup(b, other, "NORMAL_CLEARING")
	}
}

// channelEventWith fires a channel event with extra headers.
func (s *Switch) channelEventWith(b *batch, ch *channel, name string, extra map[string]any) {
	h := map[string]any{"Event-Name": name, "Channel-State": "CS_EXCHANGE_MEDIA", "Channel-Call-State": "ACTIVE", "Answer-State": "answered",
		"Unique-ID": ch.uuid, "Channel-Call-UUID": ch.uuid}
	s.chans.mu.Lock()
	for k, v := range ch.vars {
		h[k] = v
	}
	s.chans.mu.Unlock()
	for k, v := range extra {
		h[k] = v
	}
	s.fire(b, s.eventFromMap(h, ""))
}

// hupall, as mod_commands' hupall_api_function: `hupall [cause] [var
// value]` hangs up every channel (or those whose variable var equals value)
// with the cause (MANAGER_REQUEST when it is not one) and answers
// "+OK hangup all channels matching [var]=[val] with cause: <cause>\n" (or
// "+OK hangup all channels with cause <cause>\n" without a variable). A
// ringing originate leg it hangs up fails like one the far end cancelled.
func (s *Switch) apiHupall(b *batch, args string) string {
	argv := strings.Fields(args)
	cause := "MANAGER_REQUEST"
	if len(argv) > 0 && isCause(argv[0]) {
		cause = argv[0]
	}
	var name, val string
	if len(argv) > 2 {
		name, val = argv[1], argv[2]
	}
	s.chans.mu.Lock()
	var ids []string
	for id, ch := range s.chans.byID {
		if name == "" || sofia.VarString(ch.vars["variable_"+name]) == val {
			ids = append(ids, id)
		}
	}
	s.chans.mu.Unlock()
	slices.Sort(ids)
	for _, id := range ids {
		s.hangup(b, id, cause)
	}
	// Ringing originate legs are not channels of the table yet.
	s.out.mu.Lock()
	var legs []*ringingLeg
	for _, l := range s.out.ringing {
		legs = append(legs, l)
	}
	s.out.mu.Unlock()
	for _, l := range legs {
		s.chans.mu.Lock()
		match := name == "" || sofia.VarString(l.ch.vars["variable_"+name]) == val
		s.chans.mu.Unlock()
		if match {
			select {
			case l.kill <- cause:
			default:
			}
		}
	}
	if name == "" {
		return "+OK hangup all channels with cause " + cause + "\n"
	}
	return "+OK hangup all channels matching [" + name + "]=[" + val + "] with cause: " + cause + "\n"
}

// isCause reports whether s is a hangup cause name (upper-case words).
func isCause(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r == '_' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
