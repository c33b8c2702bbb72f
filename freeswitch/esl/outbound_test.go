package esl_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/esl"
)

type outboundResult struct {
	data      *esl.Event
	events    []*esl.Event
	errs      []error // MyEvents, Linger, SendMsg, Exit (if sent)
	lingered  bool    // Lingering() was closed when the events ended
	endErr    error   // NextEvent's error after the last event
	ctxDoneAt bool    // handler ctx was done once the connection ended
}

// startOutbound runs a Server with handler h and returns its address.
func startOutbound(t *testing.T, h esl.OutboundHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := esl.NewServer(h)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; !errors.Is(err, esl.ErrClosed) {
			t.Errorf("Serve returned %v, want ErrClosed", err)
		}
	})
	return ln.Addr().String()
}

// TestOutboundReplay plays FreeSWITCH's side of the outbound-socket
// recordings against the Server: the handler's commands must match the
// recording byte for byte, and the handler must see the channel data,
// every event in order, the linger notice and the final disconnect.
func TestOutboundReplay(t *testing.T) {
	tests := []struct {
		recording string
		format    esl.EventFormat
		linger    time.Duration
		exit      bool
	}{
		{"outbound-socket-answer-bye.jsonl", esl.EventsPlain, 0, true},
		{"outbound-socket-json-linger2.jsonl", esl.EventsJSON, 2 * time.Second, false},
	}
	for _, tc := range tests {
		t.Run(tc.recording, func(t *testing.T) {
			frames := loadRecording(t, tc.recording)
			results := make(chan outboundResult, 1)
			addr := startOutbound(t, func(ctx context.Context, oc *esl.OutboundConn) {
				var r outboundResult
				r.data = oc.Data()
				r.errs = append(r.errs, oc.MyEvents(ctx, tc.format))
				r.errs = append(r.errs, oc.Linger(ctx, tc.linger))
				r.errs = append(r.errs, oc.SendMsg(ctx, esl.Execute("answer", "")))
				for {
					ev, err := oc.NextEvent(ctx)
					if err != nil {
						r.endErr = err
						break
					}
					r.events = append(r.events, ev)
					if ev.Name() == "CHANNEL_HANGUP_COMPLETE" && tc.exit {
						select {
						case <-oc.Lingering():
						case <-time.After(5 * time.Second):
						}
						r.errs = append(r.errs, oc.Exit(ctx))
					}
				}
				select {
				case <-oc.Lingering():
					r.lingered = true
				default:
				}
				select {
				case <-ctx.Done():
					r.ctxDoneAt = true
				case <-time.After(2 * time.Second):
				}
				results <- r
			})
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			if err := peer(nc, frames, "s2c", nil, map[string]string{}); err != nil {
				t.Fatalf("replay peer: %v", err)
			}
			var r outboundResult
			select {
			case r = <-results:
			case <-time.After(10 * time.Second):
				t.Fatal("handler did not finish")
			}
			for i, err := range r.errs {
				if err != nil {
					t.Errorf("command %d: %v", i, err)
				}
			}
			// Channel data: the header-only CHANNEL_DATA reply, URL-decoded.
			if diff := sameEvent(r.data, refDecodePlain(t, frames[1].Raw)); diff != "" {
				t.Errorf("Data(): %s", diff)
			}
			if r.data.Name() != "CHANNEL_DATA" || r.data.Get("Reply-Text") != "+OK\n" || r.data.Get("Socket-Mode") != "async" {
				t.Errorf("Data() = %s Reply-Text %q", r.data.Name(), r.data.Get("Reply-Text"))
			}
			if r.data.UUID() == "" || r.data.UUID() != r.data.Get("Channel-Unique-ID") {
				t.Errorf("UUID %q", r.data.UUID())
			}
			if got := r.data.Get("Channel-Caller-ID-Name"); got != "Caller One" {
				t.Errorf("caller name %q", got)
			}
			if got := r.data.Values("variable_DP_MATCH"); !slices.Equal(got, []string{"9228", "9228"}) {
				t.Errorf("DP_MATCH %q", got)
			}
			ref := refEvents(t, frames)
			if len(r.events) != len(ref) {
				t.Fatalf("%d events, recording has %d", len(r.events), len(ref))
			}
			for i := range ref {
				if diff := sameEvent(r.events[i], ref[i]); diff != "" {
					t.Errorf("event %d (%s): %s", i, ref[i].name(), diff)
				}
				if r.events[i].UUID() != r.data.UUID() {
					t.Errorf("event %d of another channel: %q", i, r.events[i].UUID())
				}
			}
			want := []string{"CHANNEL_EXECUTE", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_ANSWER", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP"}
			var names []string
			for _, ev := range r.events[:5] {
				names = append(names, ev.Name())
			}
			if !slices.Equal(names, want) {
				t.Errorf("first events %v, want %v", names, want)
			}
			if !r.lingered {
				t.Error("linger notice not seen")
			}
			if !errors.Is(r.endErr, esl.ErrDisconnected) {
				t.Errorf("end %v, want ErrDisconnected", r.endErr)
			}
			if !r.ctxDoneAt {
				t.Error("handler ctx not cancelled after the connection ended")
			}
		})
	}
}

// TestOutboundHandlerReturnSendsExit: when the handler returns early the
// server says exit and closes; FreeSWITCH's side sees "exit".
func TestOutboundHandlerReturnSendsExit(t *testing.T) {
	frames := loadRecording(t, "outbound-socket-answer-bye.jsonl")
	addr := startOutbound(t, func(ctx context.Context, oc *esl.OutboundConn) {})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	// connect + CHANNEL_DATA, then directly the exit exchange.
	script := append(slices.Clone(frames[:2]), frames[len(frames)-3:]...)
	if script[2].Raw != "exit\n\n" {
		t.Fatalf("unexpected recording shape: %q", script[2].Raw)
	}
	if err := peer(nc, script, "s2c", nil, map[string]string{}); err != nil {
		t.Fatal(err)
	}
}

// TestServerShutdownDrains: Shutdown waits for a live call's handler.
func TestServerShutdownDrains(t *testing.T) {
	frames := loadRecording(t, "outbound-socket-answer-bye.jsonl")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	started := make(chan struct{})
	finished := make(chan struct{})
	srv := esl.NewServer(func(ctx context.Context, oc *esl.OutboundConn) {
		close(started)
		<-release
		close(finished)
	})
	go srv.Serve(ln)
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	go peer(nc, append(slices.Clone(frames[:2]), frames[len(frames)-3:]...), "s2c", nil, map[string]string{})
	<-started
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()
	select {
	case <-shut:
		t.Fatal("Shutdown returned while a call was live")
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("still accepting after Shutdown")
	}
	close(release)
	if err := waitErr(t, shut); err != nil {
		t.Fatal(err)
	}
	<-finished
}
