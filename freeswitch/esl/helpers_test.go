package esl_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/esl"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/recording"
)

// loadRecording loads a recording of the real FreeSWITCH (shared fixtures).
func loadRecording(t testing.TB, name string) []recording.Frame {
	t.Helper()
	frames, err := recording.LoadRecording(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return frames
}

// ---------------------------------------------------------------------------
// Reference decoding of recorded frames, independent of the package's fast
// decoders (encoding/json, net/url), used as the oracle in replay tests.

type refEvent struct {
	values map[string][]string
	body   string
}

func (r refEvent) name() string { return r.first("Event-Name") }

func (r refEvent) first(k string) string {
	if v := r.values[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// splitRaw splits a recorded s2c frame into its header lines and body.
func splitRaw(raw string) (map[string]string, string) {
	head, body, _ := strings.Cut(raw, "\n\n")
	hdrs := map[string]string{}
	for _, line := range strings.Split(head, "\n") {
		k, v, _ := strings.Cut(line, ": ")
		if _, dup := hdrs[k]; !dup {
			hdrs[k] = v
		}
	}
	return hdrs, body
}

func refDecodeJSON(t testing.TB, body string) refEvent {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("reference json: %v", err)
	}
	ev := refEvent{values: map[string][]string{}}
	for k, v := range m {
		switch v := v.(type) {
		case string:
			if k == "_body" {
				ev.body = v
				continue
			}
			ev.values[k] = []string{v}
		case []any:
			vals := []string{}
			for _, e := range v {
				vals = append(vals, e.(string))
			}
			ev.values[k] = vals
		default:
			t.Fatalf("reference json: %s is %T", k, v)
		}
	}
	return ev
}

func refDecodePlain(t testing.TB, body string) refEvent {
	t.Helper()
	head, rest, _ := strings.Cut(body, "\n\n")
	ev := refEvent{values: map[string][]string{}}
	for _, line := range strings.Split(head, "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("reference plain: line %q", line)
		}
		dec, err := url.PathUnescape(v)
		if err != nil {
			t.Fatalf("reference plain: %s: %v", k, err)
		}
		if a, ok := strings.CutPrefix(dec, "ARRAY::"); ok {
			ev.values[k] = strings.Split(a, "|:")
		} else {
			ev.values[k] = []string{dec}
		}
	}
	if cl := ev.first("Content-Length"); cl != "" {
		n, _ := strconv.Atoi(cl)
		ev.body = rest[:n]
	}
	return ev
}

// refEvents returns the events of a recording's s2c frames, in order.
func refEvents(t testing.TB, frames []recording.Frame) []refEvent {
	var out []refEvent
	for _, f := range frames {
		if f.Dir != "s2c" {
			continue
		}
		hdrs, body := splitRaw(f.Raw)
		switch hdrs["Content-Type"] {
		case "text/event-json":
			out = append(out, refDecodeJSON(t, body))
		case "text/event-plain":
			out = append(out, refDecodePlain(t, body))
		}
	}
	return out
}

// withSubst returns r with recorded Job-UUIDs replaced by ours.
func (r refEvent) withSubst(subst map[string]string) refEvent {
	out := refEvent{values: map[string][]string{}, body: r.body}
	for k, vals := range r.values {
		nv := make([]string, len(vals))
		for i, v := range vals {
			if ours, ok := subst[v]; ok {
				v = ours
			}
			nv[i] = v
		}
		out.values[k] = nv
	}
	return out
}

// sameEvent reports how got differs from the reference ("" when equal).
func sameEvent(got *esl.Event, want refEvent) string {
	if len(got.Headers) != len(want.values) {
		return fmt.Sprintf("%d headers, want %d", len(got.Headers), len(want.values))
	}
	for k, vals := range want.values {
		if g := got.Values(k); !slices.Equal(g, vals) {
			return fmt.Sprintf("Values(%q) = %q, want %q", k, g, vals)
		}
		first := ""
		if len(vals) > 0 {
			first = vals[0]
		}
		if g := got.Get(k); g != first {
			return fmt.Sprintf("Get(%q) = %q, want %q", k, g, first)
		}
	}
	if got.Body != want.body {
		return fmt.Sprintf("Body = %q, want %q", got.Body, want.body)
	}
	return ""
}

// ---------------------------------------------------------------------------
// Replay peer: plays one side of a recording over a real TCP connection.

var jobUUIDRe = regexp.MustCompile(`Job-UUID: ([0-9a-fA-F-]{36})`)

// readCommand reads one frame written by the side under test: lines up to a
// blank line, plus a body when it carries content-length.
func readCommand(br *bufio.Reader) (string, error) {
	var b strings.Builder
	n := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return b.String(), err
		}
		b.WriteString(line)
		if line == "\n" {
			break
		}
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ": "); ok && strings.EqualFold(k, "content-length") {
			n, _ = strconv.Atoi(v)
		}
	}
	if n > 0 {
		body := make([]byte, n)
		if _, err := io.ReadFull(br, body); err != nil {
			return b.String(), err
		}
		b.Write(body)
	}
	return b.String(), nil
}

// peer plays the recorded side of frames on nc: it writes the frames of
// direction `play` and expects, byte for byte, the frames of the other
// direction (Job-UUIDs excepted: the recorded id is mapped to the one the
// code under test chose, recorded in subst, and replaced in later frames).
// After each expected frame it sends that frame's index on consumed. It
// closes nc at the end.
func peer(nc net.Conn, frames []recording.Frame, play string, consumed chan<- int, subst map[string]string) error {
	defer nc.Close()
	br := bufio.NewReader(nc)
	for i, f := range frames {
		if f.Dir == play {
			raw := f.Raw
			for rec, ours := range subst {
				raw = strings.ReplaceAll(raw, rec, ours)
			}
			if _, err := io.WriteString(nc, raw); err != nil {
				return fmt.Errorf("frame %d: write: %w", i, err)
			}
			continue
		}
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := readCommand(br)
		if err != nil {
			return fmt.Errorf("frame %d: want %q, read error %w (got %q)", i, f.Raw, err, got)
		}
		want := f.Raw
		if m := jobUUIDRe.FindStringSubmatch(want); m != nil {
			if g := jobUUIDRe.FindStringSubmatch(got); g != nil {
				subst[m[1]] = g[1]
				want = strings.ReplaceAll(want, m[1], g[1])
			}
		}
		if got != want {
			return fmt.Errorf("frame %d: got %q, want %q", i, got, want)
		}
		if consumed != nil {
			consumed <- i
		}
	}
	return nil
}

// replayServer accepts one connection and plays the s2c side of frames.
type replayServer struct {
	addr     string
	consumed chan int
	done     chan error
	subst    map[string]string // recorded Job-UUID → ours; read after done
}

func startReplayServer(t testing.TB, frames []recording.Frame) *replayServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &replayServer{addr: ln.Addr().String(), consumed: make(chan int, len(frames)), done: make(chan error, 1), subst: map[string]string{}}
	go func() {
		nc, err := ln.Accept()
		ln.Close()
		if err != nil {
			s.done <- err
			return
		}
		s.done <- peer(nc, frames, "s2c", s.consumed, s.subst)
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

// waitConsumed waits until the peer has received frame i.
func waitConsumed(t testing.TB, consumed <-chan int, i int) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case got := <-consumed:
			if got == i {
				return
			}
			if got > i {
				t.Fatalf("peer consumed frame %d while waiting for %d", got, i)
			}
		case <-timeout:
			t.Fatalf("peer did not receive frame %d", i)
		}
	}
}

func waitErr(t testing.TB, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("timeout")
		return nil
	}
}

// eventSink collects events delivered by a handler.
type eventSink struct {
	ch chan *esl.Event
}

func newSink() *eventSink { return &eventSink{ch: make(chan *esl.Event, 4096)} }

func (s *eventSink) handle(ev *esl.Event) { s.ch <- ev }

// take returns n events or fails.
func (s *eventSink) take(t testing.TB, n int) []*esl.Event {
	t.Helper()
	out := make([]*esl.Event, 0, n)
	timeout := time.After(10 * time.Second)
	for len(out) < n {
		select {
		case ev := <-s.ch:
			out = append(out, ev)
		case <-timeout:
			t.Fatalf("got %d events, want %d", len(out), n)
		}
	}
	return out
}

// drain returns what has arrived so far.
func (s *eventSink) drain() []*esl.Event {
	var out []*esl.Event
	for {
		select {
		case ev := <-s.ch:
			out = append(out, ev)
		default:
			return out
		}
	}
}
