package fstest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// hdr is one event header: v is a string, or a []string for a header
// present more than once (a JSON array in text/event-json).
type hdr struct {
	k string
	v any
}

// event is one event, its headers in the order FreeSWITCH writes them.
type event struct {
	hdrs []hdr
	body string
	id   string // the event type when it is not the first Event-Name (PRIVATE_COMMAND)
}

func (e *event) get(k string) (string, bool) {
	for _, h := range e.hdrs {
		if h.k == k {
			switch v := h.v.(type) {
			case string:
				return v, true
			case []string:
				if len(v) > 0 {
					return v[0], true
				}
				return "", true
			}
		}
	}
	return "", false
}

func (e *event) name() string {
	if e.id != "" {
		return e.id
	}
	v, _ := e.get("Event-Name")
	return v
}
func (e *event) subclass() string { v, _ := e.get("Event-Subclass"); return v }

// callSite is where FreeSWITCH fires an event (Event-Calling-*), as recorded.
type callSite struct{ file, fn, line string }

var callSites = map[string]callSite{
	"API":                      {"switch_loadable_module.c", "switch_api_execute", "2954"},
	"BACKGROUND_JOB":           {"mod_event_socket.c", "api_exec", "1569"},
	"RELOADXML":                {"switch_xml.c", "switch_xml_open_root", "2421"},
	"HEARTBEAT":                {"switch_core.c", "send_heartbeat", "95"},
	"RE_SCHEDULE":              {"switch_scheduler.c", "switch_scheduler_execute", "73"},
	"PUBLISH":                  {"sofia.c", "sofia_profile_thread_run", "3433"},
	"UNPUBLISH":                {"sofia.c", "sofia_profile_thread_run", "3543"},
	"sofia::gateway_add":       {"sofia_reg.c", "sofia_reg_add_gateway", "3723"},
	"sofia::gateway_delete":    {"sofia_reg.c", "sofia_reg_check_gateway", "343"},
	"sofia::gateway_state":     {"sofia_reg.c", "sofia_reg_fire_custom_gateway_state_event", "156"},
	"sofia::profile_start":     {"sofia.c", "config_sofia", "6343"},
	"CHANNEL_CREATE":           {"switch_core_state_machine.c", "switch_core_session_run", "626"},
	"CHANNEL_STATE":            {"switch_channel.c", "switch_channel_perform_set_running_state", "2409"},
	"CHANNEL_CALLSTATE":        {"switch_channel.c", "switch_channel_perform_set_callstate", "302"},
	"CHANNEL_EXECUTE":          {"switch_core_session.c", "switch_core_session_exec", "2949"},
	"CHANNEL_EXECUTE_COMPLETE": {"switch_core_session.c", "switch_core_session_exec", "2972"},
	"CHANNEL_PARK":             {"switch_ivr.c", "switch_ivr_park", "1002"},
	"CHANNEL_UNPARK":           {"switch_ivr.c", "switch_ivr_park", "1213"},
	"CHANNEL_PROGRESS_MEDIA":   {"switch_channel.c", "switch_channel_perform_mark_pre_answered", "3562"},
	"CHANNEL_ANSWER":           {"switch_channel.c", "switch_channel_perform_mark_answered", "3848"},
	"CHANNEL_HANGUP":           {"switch_channel.c", "switch_channel_perform_hangup", "3447"},
	"CHANNEL_HANGUP_COMPLETE":  {"switch_core_state_machine.c", "switch_core_session_reporting_state", "943"},
	"CHANNEL_DESTROY":          {"switch_core_session.c", "switch_core_session_perform_destroy", "1588"},
}

// standardHeaders are the headers every event starts with, in order
// (Event-Subclass comes first on CUSTOM events).
var standardHeaders = []string{"Event-Name", "Core-UUID", "FreeSWITCH-Hostname", "FreeSWITCH-Switchname",
	"FreeSWITCH-IPv4", "FreeSWITCH-IPv6", "Event-Date-Local", "Event-Date-GMT", "Event-Date-Timestamp",
	"Event-Calling-File", "Event-Calling-Function", "Event-Calling-Line-Number", "Event-Sequence"}

// newEvent builds an event with the standard headers, a new Event-Sequence
// and the recorded calling site; extra follows in the order given.
func (s *Switch) newEvent(name, subclass string, extra ...hdr) *event {
	s.mu.Lock()
	core := s.coreUUID
	s.mu.Unlock()
	s.emitMu.Lock()
	s.seq++
	seq := s.seq
	s.emitMu.Unlock()
	now := s.now()
	site, ok := callSites[subclass]
	if !ok {
		site, ok = callSites[name]
	}
	if !ok {
		site = callSite{"fstest.go", "fstest_emit", "1"}
	}
	e := &event{hdrs: make([]hdr, 0, 15+len(extra))}
	if subclass != "" {
		e.hdrs = append(e.hdrs, hdr{"Event-Subclass", subclass})
	}
	e.hdrs = append(e.hdrs,
		hdr{"Event-Name", name}, hdr{"Core-UUID", core}, hdr{"FreeSWITCH-Hostname", "fs1"},
		hdr{"FreeSWITCH-Switchname", "fs1"}, hdr{"FreeSWITCH-IPv4", "192.0.2.2"}, hdr{"FreeSWITCH-IPv6", "fd00::2"},
		hdr{"Event-Date-Local", now.Format(time.DateTime)},
		hdr{"Event-Date-GMT", now.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")},
		hdr{"Event-Date-Timestamp", strconv.FormatInt(now.UnixMicro(), 10)},
		hdr{"Event-Calling-File", site.file}, hdr{"Event-Calling-Function", site.fn},
		hdr{"Event-Calling-Line-Number", site.line}, hdr{"Event-Sequence", strconv.FormatUint(seq, 10)})
	e.hdrs = append(e.hdrs, extra...)
	return e
}

// Emit injects an arbitrary event, delivered to every subscribed
// connection. headers must hold Event-Name (and Event-Subclass for CUSTOM);
// a standard header given here replaces the generated one; the others
// follow the standard ones sorted by name. A value is a string, a []string
// or []any (a header present more than once), or anything fmt prints.
func (s *Switch) Emit(headers map[string]any, body string) {
	s.publish(s.eventFromMap(headers, body))
}

func (s *Switch) eventFromMap(headers map[string]any, body string) *event {
	name := fmt.Sprint(headers["Event-Name"])
	sub, _ := headers["Event-Subclass"].(string)
	e := s.newEvent(name, sub)
	std := map[string]int{}
	for i, h := range e.hdrs {
		std[h.k] = i
	}
	for _, k := range sortedKeys(headers) {
		v := headerValue(headers[k])
		if i, ok := std[k]; ok {
			e.hdrs[i].v = v
			continue
		}
		e.hdrs = append(e.hdrs, hdr{k, v})
	}
	e.body = body
	return e
}

func headerValue(v any) any {
	switch x := v.(type) {
	case string:
		return x
	case []string:
		return slices.Clone(x)
	case []any:
		out := make([]string, len(x))
		for i, y := range x {
			out[i] = fmt.Sprint(y)
		}
		return out
	default:
		return fmt.Sprint(x)
	}
}

// batch collects the events a command fires; they are published after its
// reply, as a real switch delivers them, then the after funcs run (timers
// that must not fire before those events).
type batch struct {
	evs      []*event
	after    []func()
	afterJob []func() // after the reply itself (BACKGROUND_JOB, api/response): see afterJob
}

// fire publishes e now, or after the reply when b is not nil.
func (s *Switch) fire(b *batch, e *event) {
	if b != nil {
		b.evs = append(b.evs, e)
		return
	}
	s.publish(e)
}

func (s *Switch) flush(b *batch) {
	for _, e := range b.evs {
		s.publish(e)
	}
	for _, f := range b.after {
		f()
	}
	b.evs, b.after = nil, nil
}

// publish queues e on every connection subscribed to it; emitMu keeps one
// order for all of them.
func (s *Switch) publish(e *event) {
	s.emitMu.Lock()
	defer s.emitMu.Unlock()
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	var js, plain []byte
	for _, c := range conns {
		format, ok := c.wants(e)
		if !ok {
			continue
		}
		if format == "plain" {
			if plain == nil {
				plain = plainFrame(e)
			}
			c.enqueue(plain)
			continue
		}
		if js == nil {
			js = jsonFrame(e)
		}
		c.enqueue(js)
	}
}

// jsonFrame renders a text/event-json frame: keys in header order, then
// Content-Length and _body when there is a body; <, > and & unescaped as
// FreeSWITCH writes them.
func jsonFrame(e *event) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, h := range e.hdrs {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSON(&b, h.k)
		b.WriteByte(':')
		writeJSON(&b, h.v)
	}
	if e.body != "" {
		b.WriteString(`,"Content-Length":`)
		writeJSON(&b, strconv.Itoa(len(e.body)))
		b.WriteString(`,"_body":`)
		writeJSON(&b, e.body)
	}
	b.WriteByte('}')
	return fmt.Appendf(nil, "Content-Length: %d\nContent-Type: text/event-json\n\n%s", b.Len(), b.Bytes())
}

func writeJSON(b *bytes.Buffer, v any) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	b.Truncate(b.Len() - 1) // Encode's newline
}

// plainFrame renders a text/event-plain frame: URL-encoded values, a
// repeated header as ARRAY::a|:b, then an inner Content-Length and the body.
func plainFrame(e *event) []byte {
	var b strings.Builder
	for _, h := range e.hdrs {
		v, _ := h.v.(string)
		if arr, ok := h.v.([]string); ok {
			v = "ARRAY::" + strings.Join(arr, "|:")
		}
		b.WriteString(h.k + ": " + urlEncode(v) + "\n")
	}
	if e.body != "" {
		fmt.Fprintf(&b, "Content-Length: %d\n\n%s", len(e.body), e.body)
	} else {
		b.WriteString("\n")
	}
	inner := b.String()
	return fmt.Appendf(nil, "Content-Length: %d\nContent-Type: text/event-plain\n\n%s", len(inner), inner)
}

// urlEncode escapes like FreeSWITCH's switch_url_encode.
func urlEncode(v string) string {
	const unsafe = "\r\n \"#%&+:;<=>?@[\\]^`{|}"
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c >= 0x7f || strings.IndexByte(unsafe, c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// heartbeats emits HEARTBEAT and RE_SCHEDULE every Options.Heartbeat with
// the recorded headers.
func (s *Switch) heartbeats() {
	defer s.wg.Done()
	t := time.NewTicker(s.o.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		up := s.uptime()
		n := strconv.Itoa(s.sessionCount())
		s.publish(s.newEvent("HEARTBEAT", "", hdr{"Event-Info", "System Ready"}, hdr{"Up-Time", uptimeText(up)},
			hdr{"FreeSWITCH-Version", "1.11.1-release~64bit"}, hdr{"Uptime-msec", strconv.FormatInt(up.Milliseconds(), 10)},
			hdr{"Session-Count", n}, hdr{"Max-Sessions", "1000"}, hdr{"Session-Per-Sec", "30"},
			hdr{"Session-Per-Sec-Last", "0"}, hdr{"Session-Per-Sec-Max", "0"}, hdr{"Session-Per-Sec-FiveMin", "0"},
			hdr{"Session-Since-Startup", n}, hdr{"Session-Peak-Max", n}, hdr{"Session-Peak-FiveMin", n},
			hdr{"Idle-CPU", "99.000000"}))
		s.publish(s.newEvent("RE_SCHEDULE", "", hdr{"Task-ID", "1"}, hdr{"Task-Desc", "heartbeat"},
			hdr{"Task-Group", "core"}, hdr{"Task-Runtime", strconv.FormatInt(s.now().Add(20*time.Second).Unix(), 10)}))
	}
}
