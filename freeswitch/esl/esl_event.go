package esl

import (
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Event is one FreeSWITCH event (text/event-json or text/event-plain), or
// the channel data of an outbound connection.
//
// A header can carry several values: a SIP header present more than once
// (two Diversion headers with parse-all-invite-headers) is a JSON array in
// text/event-json ("variable_sip_i_diversion":["top","bottom"]) and
// "ARRAY::top|:bottom" in text/event-plain. Headers (and Get) hold the FIRST
// value; Values returns all of them in wire order.
type Event struct {
	// Headers maps each header name (case as sent) to its first value.
	// Plain-format values are already URL-decoded.
	Headers map[string]string
	// Body is the event body: "_body" in JSON, the bytes after the inner
	// Content-Length in plain ("" when there is none).
	Body string
	// multi holds the headers that had more than one value (arrays).
	multi map[string][]string
}

// Get returns the (first) value of a header, or "" if absent. Names are
// matched exactly: FreeSWITCH mixes cases ("Unique-ID", "content-type").
func (e *Event) Get(name string) string { return e.Headers[name] }

// Values returns every value of a header in wire order: the elements of a
// JSON array (or ARRAY:: list), a one-element slice for a plain value, nil
// when the header is absent. The slice must not be modified.
func (e *Event) Values(name string) []string {
	if v, ok := e.multi[name]; ok {
		return v
	}
	if v, ok := e.Headers[name]; ok {
		return []string{v}
	}
	return nil
}

// Name returns Event-Name (e.g. "CHANNEL_CREATE", "CUSTOM").
func (e *Event) Name() string { return e.Headers["Event-Name"] }

// Subclass returns Event-Subclass of CUSTOM events (e.g. "sofia::gateway_state").
func (e *Event) Subclass() string { return e.Headers["Event-Subclass"] }

// UUID returns the channel UUID: Unique-ID, or UniqueID (sofia::notify_refer
// names it so), or "" for events not tied to a channel.
func (e *Event) UUID() string {
	if v := e.Headers["Unique-ID"]; v != "" {
		return v
	}
	return e.Headers["UniqueID"]
}

func (e *Event) String() string {
	if s := e.Subclass(); s != "" {
		return e.Name() + " " + s
	}
	return e.Name()
}

// setMulti records a multi-valued header; Headers gets the first value.
func (e *Event) setMulti(name string, vals []string) {
	if e.multi == nil {
		e.multi = make(map[string][]string, 4)
	}
	e.multi[name] = vals
	if len(vals) > 0 {
		e.Headers[name] = vals[0]
	} else {
		e.Headers[name] = ""
	}
}

// ---------------------------------------------------------------------------
// text/event-json

// decodeEventJSON parses the body of a text/event-json frame: one JSON
// object whose values are strings or arrays of strings ("_body" is the
// body). Other JSON values (numbers, literals, objects) are kept as their
// raw JSON text. It copies data once; the strings of the event share that
// copy when they need no unescaping, so parsing allocates little.
func decodeEventJSON(data []byte) (*Event, error) {
	p := jsonParser{s: string(data)}
	// One comma per member (plus a few inside values): a cheap size hint.
	ev := &Event{Headers: make(map[string]string, strings.Count(p.s, ",")+1)}
	p.skipWS()
	if !p.consume('{') {
		return nil, p.errorf("expected '{'")
	}
	p.skipWS()
	if p.consume('}') {
		return ev, p.end()
	}
	for {
		p.skipWS()
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skipWS()
		if !p.consume(':') {
			return nil, p.errorf("expected ':'")
		}
		p.skipWS()
		if p.i >= len(p.s) {
			return nil, p.errorf("unexpected end")
		}
		switch p.s[p.i] {
		case '"':
			v, err := p.str()
			if err != nil {
				return nil, err
			}
			if key == "_body" {
				ev.Body = v
			} else {
				ev.Headers[key] = v
				if ev.multi != nil {
					delete(ev.multi, key) // a later duplicate key wins
				}
			}
		case '[':
			vals, err := p.array()
			if err != nil {
				return nil, err
			}
			ev.setMulti(key, vals)
		default:
			v, err := p.raw()
			if err != nil {
				return nil, err
			}
			if v == "null" {
				v = ""
			}
			ev.Headers[key] = v
		}
		p.skipWS()
		if p.consume(',') {
			continue
		}
		if p.consume('}') {
			return ev, p.end()
		}
		return nil, p.errorf("expected ',' or '}'")
	}
}

type jsonParser struct {
	s string
	i int
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: event json at byte %d: %s", ErrProtocol, p.i, fmt.Sprintf(format, args...))
}

func (p *jsonParser) skipWS() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) consume(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *jsonParser) end() error {
	p.skipWS()
	if p.i != len(p.s) {
		return p.errorf("trailing data")
	}
	return nil
}

// str parses a JSON string at p.i. Without escapes the result is a
// substring of p.s (no allocation).
func (p *jsonParser) str() (string, error) {
	if !p.consume('"') {
		return "", p.errorf("expected string")
	}
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			v := p.s[start:p.i]
			p.i++
			return v, nil
		case c == '\\':
			return p.strEscaped(start)
		case c < 0x20:
			return "", p.errorf("control character in string")
		}
		p.i++
	}
	return "", p.errorf("unterminated string")
}

// strEscaped continues str from the first backslash.
func (p *jsonParser) strEscaped(start int) (string, error) {
	// The decoded string is never longer than the raw one: find the
	// closing quote first so the builder allocates once.
	end := p.i
	for end < len(p.s) && p.s[end] != '"' {
		if p.s[end] == '\\' {
			end++
		}
		end++
	}
	var b strings.Builder
	b.Grow(min(end, len(p.s)) - start)
	b.WriteString(p.s[start:p.i])
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c < 0x20:
			return "", p.errorf("control character in string")
		case c != '\\':
			// copy a run of plain bytes
			j := p.i + 1
			for j < len(p.s) && p.s[j] != '"' && p.s[j] != '\\' && p.s[j] >= 0x20 {
				j++
			}
			b.WriteString(p.s[p.i:j])
			p.i = j
			continue
		}
		if p.i+1 >= len(p.s) {
			return "", p.errorf("unterminated escape")
		}
		e := p.s[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.errorf("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				save := p.i
				if strings.HasPrefix(p.s[p.i:], `\u`) {
					p.i += 2
					if lo, ok := p.hex4(); ok {
						r2 = utf16.DecodeRune(r, lo)
					}
				}
				if r2 == utf8.RuneError {
					p.i = save // lone surrogate: U+FFFD, reparse what follows
				}
				r = r2
			}
			b.WriteRune(r)
		default:
			return "", p.errorf("bad escape \\%c", e)
		}
	}
	return "", p.errorf("unterminated string")
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(p.s[p.i : p.i+4]) {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

// array parses an array; string elements are decoded, others kept raw.
func (p *jsonParser) array() ([]string, error) {
	p.i++ // '['
	vals := make([]string, 0, 2)
	p.skipWS()
	if p.consume(']') {
		return vals, nil
	}
	for {
		p.skipWS()
		var v string
		var err error
		if p.i < len(p.s) && p.s[p.i] == '"' {
			v, err = p.str()
		} else {
			v, err = p.raw()
		}
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
		p.skipWS()
		if p.consume(',') {
			continue
		}
		if p.consume(']') {
			return vals, nil
		}
		return nil, p.errorf("expected ',' or ']'")
	}
}

// raw skips one JSON value that is not a string at top level (number,
// true/false/null, object, array) and returns its text.
func (p *jsonParser) raw() (string, error) {
	start := p.i
	if err := p.skip(0); err != nil {
		return "", err
	}
	return p.s[start:p.i], nil
}

func (p *jsonParser) skip(depth int) error {
	if depth > 64 {
		return p.errorf("nesting too deep")
	}
	if p.i >= len(p.s) {
		return p.errorf("unexpected end")
	}
	switch c := p.s[p.i]; {
	case c == '"':
		_, err := p.str()
		return err
	case c == '{' || c == '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		p.i++
		p.skipWS()
		if p.consume(closer) {
			return nil
		}
		for {
			p.skipWS()
			if c == '{' {
				if _, err := p.str(); err != nil {
					return err
				}
				p.skipWS()
				if !p.consume(':') {
					return p.errorf("expected ':'")
				}
				p.skipWS()
			}
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			p.skipWS()
			if p.consume(',') {
				continue
			}
			if p.consume(closer) {
				return nil
			}
			return p.errorf("expected ',' or '%c'", closer)
		}
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if strings.HasPrefix(p.s[p.i:], lit) {
				p.i += len(lit)
				return nil
			}
		}
		return p.errorf("unexpected character %q", c)
	}
}

// number checks JSON number syntax: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *jsonParser) number() error {
	digits := func() int {
		n := 0
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	p.consume('-')
	if p.consume('0') {
		// no more integer digits after a leading zero
	} else if digits() == 0 {
		return p.errorf("bad number")
	}
	if p.consume('.') && digits() == 0 {
		return p.errorf("bad number")
	}
	if p.consume('e') || p.consume('E') {
		if !p.consume('+') {
			p.consume('-')
		}
		if digits() == 0 {
			return p.errorf("bad number")
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// text/event-plain and header-only frames

// decodeEventPlain parses the body of a text/event-plain frame:
// URL-encoded "Name: value" lines, a blank line, then (if the event has a
// Content-Length header) that many bytes of body.
func decodeEventPlain(data []byte) (*Event, error) {
	s := string(data)
	ev := &Event{Headers: make(map[string]string, strings.Count(s, "\n")+1)}
	for len(s) > 0 {
		nl := strings.IndexByte(s, '\n')
		var line string
		if nl < 0 {
			line, s = s, ""
		} else {
			line, s = s[:nl], s[nl+1:]
		}
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			break // end of headers
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" {
			return nil, fmt.Errorf("%w: event-plain header line without name: %q", ErrProtocol, truncate([]byte(line), 64))
		}
		ev.addEncoded(name, strings.TrimLeft(value, " \t"))
	}
	if cl, ok := ev.Headers["Content-Length"]; ok {
		n, err := parseContentLength([]byte(cl))
		if err != nil {
			return nil, err
		}
		if n > len(s) {
			return nil, fmt.Errorf("%w: event-plain body is %d bytes, Content-Length says %d", ErrProtocol, len(s), n)
		}
		ev.Body = s[:n]
	}
	return ev, nil
}

// eventFromHeaders builds an Event from a header-only frame (the CHANNEL_DATA
// reply to "connect" in outbound mode): values are URL-encoded.
func eventFromHeaders(hdrs []header) *Event {
	ev := &Event{Headers: make(map[string]string, len(hdrs))}
	for _, h := range hdrs {
		ev.addEncoded(h.name, h.value)
	}
	return ev
}

// addEncoded stores a URL-encoded value; "ARRAY::a|:b" becomes two values.
func (e *Event) addEncoded(name, value string) {
	v := urlDecode(value)
	if rest, ok := strings.CutPrefix(v, "ARRAY::"); ok {
		e.setMulti(name, strings.Split(rest, "|:"))
		return
	}
	e.Headers[name] = v
	if e.multi != nil {
		delete(e.multi, name)
	}
}

// urlDecode undoes switch_url_encode: %XX sequences only ('+' stays '+').
// Invalid sequences are kept as they are.
func urlDecode(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, c)
	}
	return string(b)
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
