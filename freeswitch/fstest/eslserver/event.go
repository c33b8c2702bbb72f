package eslserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Header is one event header: Value is a string, or a []string for a
// header present more than once (a JSON array in text/event-json).
type Header struct {
	Name  string
	Value any
}

// Event is one event, its headers in the order FreeSWITCH writes them.
type Event struct {
	Headers []Header
	Body    string
	ID      string // the event type when it is not the first Event-Name (PRIVATE_COMMAND)
}

// Get returns the first value of header k.
func (e *Event) Get(k string) (string, bool) {
	for _, h := range e.Headers {
		if h.Name == k {
			switch v := h.Value.(type) {
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

// Name is the event type subscriptions match (ID, else Event-Name).
func (e *Event) Name() string {
	if e.ID != "" {
		return e.ID
	}
	v, _ := e.Get("Event-Name")
	return v
}

// Subclass is the Event-Subclass of a CUSTOM event.
func (e *Event) Subclass() string { v, _ := e.Get("Event-Subclass"); return v }

// Site is where FreeSWITCH fires an event (Event-Calling-*), as recorded.
type Site [3]string // file, function, line number

// StandardHeaders are the headers every event starts with, in order
// (Event-Subclass comes first on CUSTOM events).
var StandardHeaders = []string{"Event-Name", "Core-UUID", "FreeSWITCH-Hostname", "FreeSWITCH-Switchname",
	"FreeSWITCH-IPv4", "FreeSWITCH-IPv6", "Event-Date-Local", "Event-Date-GMT", "Event-Date-Timestamp",
	"Event-Calling-File", "Event-Calling-Function", "Event-Calling-Line-Number", "Event-Sequence"}

// NewEvent builds an event with the standard headers, a new
// Event-Sequence and its calling site (Config.Sites, by subclass then
// name); extra follows in the order given.
func (srv *Server) NewEvent(name, subclass string, extra ...Header) *Event {
	core := srv.c.Core()
	srv.emitMu.Lock()
	srv.seq++
	seq := srv.seq
	srv.emitMu.Unlock()
	now := srv.c.Clock()
	site, ok := srv.c.Sites[subclass]
	if !ok {
		site, ok = srv.c.Sites[name]
	}
	if !ok {
		site = Site{"fstest.go", "fstest_emit", "1"}
	}
	e := &Event{Headers: make([]Header, 0, 15+len(extra))}
	if subclass != "" {
		e.Headers = append(e.Headers, Header{"Event-Subclass", subclass})
	}
	e.Headers = append(e.Headers,
		Header{"Event-Name", name}, Header{"Core-UUID", core}, Header{"FreeSWITCH-Hostname", "fs1"},
		Header{"FreeSWITCH-Switchname", "fs1"}, Header{"FreeSWITCH-IPv4", "192.0.2.2"}, Header{"FreeSWITCH-IPv6", "fd00::2"},
		Header{"Event-Date-Local", now.Format(time.DateTime)},
		Header{"Event-Date-GMT", now.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")},
		Header{"Event-Date-Timestamp", strconv.FormatInt(now.UnixMicro(), 10)},
		Header{"Event-Calling-File", site[0]}, Header{"Event-Calling-Function", site[1]},
		Header{"Event-Calling-Line-Number", site[2]}, Header{"Event-Sequence", strconv.FormatUint(seq, 10)})
	e.Headers = append(e.Headers, extra...)
	return e
}

// EventFromMap builds an event from headers, which must hold Event-Name
// (and Event-Subclass for CUSTOM): a standard header given here replaces
// the generated one; the others follow the standard ones sorted by name.
// A value is a string, a []string or []any (a header present more than
// once), or anything fmt prints.
func (srv *Server) EventFromMap(headers map[string]any, body string) *Event {
	name := fmt.Sprint(headers["Event-Name"])
	sub, _ := headers["Event-Subclass"].(string)
	e := srv.NewEvent(name, sub)
	std := map[string]int{}
	for i, h := range e.Headers {
		std[h.Name] = i
	}
	keys := make([]string, 0, len(headers))
	for k := range headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := headerValue(headers[k])
		if i, ok := std[k]; ok {
			e.Headers[i].Value = v
			continue
		}
		e.Headers = append(e.Headers, Header{k, v})
	}
	e.Body = body
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

// Publish queues e on every connection subscribed to it; one lock keeps
// one order for all of them.
func (srv *Server) Publish(e *Event) {
	srv.emitMu.Lock()
	defer srv.emitMu.Unlock()
	srv.mu.Lock()
	conns := make([]*conn, 0, len(srv.conns))
	for c := range srv.conns {
		conns = append(conns, c)
	}
	srv.mu.Unlock()
	var js, plain []byte
	for _, c := range conns {
		format, ok := c.wants(e)
		if !ok {
			continue
		}
		if format == "plain" {
			if plain == nil {
				plain = e.Plain()
			}
			c.enqueue(plain)
			continue
		}
		if js == nil {
			js = e.JSON()
		}
		c.enqueue(js)
	}
}

// JSON renders a text/event-json frame: keys in header order, then
// Content-Length and _body when there is a body; <, > and & unescaped as
// FreeSWITCH writes them.
func (e *Event) JSON() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, h := range e.Headers {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSON(&b, h.Name)
		b.WriteByte(':')
		writeJSON(&b, h.Value)
	}
	if e.Body != "" {
		b.WriteString(`,"Content-Length":`)
		writeJSON(&b, strconv.Itoa(len(e.Body)))
		b.WriteString(`,"_body":`)
		writeJSON(&b, e.Body)
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

// Plain renders a text/event-plain frame: URL-encoded values, a repeated
// header as ARRAY::a|:b, then an inner Content-Length and the body.
func (e *Event) Plain() []byte {
	var b strings.Builder
	for _, h := range e.Headers {
		v, _ := h.Value.(string)
		if arr, ok := h.Value.([]string); ok {
			v = "ARRAY::" + strings.Join(arr, "|:")
		}
		b.WriteString(h.Name + ": " + urlEncode(v) + "\n")
	}
	if e.Body != "" {
		fmt.Fprintf(&b, "Content-Length: %d\n\n%s", len(e.Body), e.Body)
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
