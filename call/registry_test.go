package call

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sipbridge/sipbridge/db"
)

type fakePath struct{ Path }

func TestRegistryPathOf(t *testing.T) {
	r := NewRegistry()
	sip, hosted := &fakePath{}, &fakePath{}
	r.Add("c1", 1, sip)
	r.Add("c2", 1, hosted)
	if p, err := r.PathOf(1, "c2"); err != nil || p != hosted {
		t.Fatalf("c2: %v %v", p, err)
	}
	if _, err := r.PathOf(2, "c1"); !errors.Is(err, ErrCallNotFound) {
		t.Fatalf("another organization's call: %v", err)
	}
	r.Remove("c1")
	if _, err := r.PathOf(1, "c1"); !errors.Is(err, ErrCallNotFound) || r.Len() != 1 {
		t.Fatalf("removed: %v, %d live", err, r.Len())
	}
}

func TestRegistryDrainWaitsForCallsBegun(t *testing.T) {
	r := NewRegistry()
	done, err := r.Begin()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := r.Drain(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("drain with a call in progress: %v", err)
	}
	if _, err := r.Begin(); !errors.Is(err, ErrDraining) {
		t.Fatalf("a call begun while draining: %v", err)
	}
	done()
	done()
	if err := r.Drain(context.Background()); err != nil {
		t.Fatalf("drain once the call ended: %v", err)
	}
}

type namedControls struct {
	Controls
	name string
}

func TestChooserPicksThePathOnce(t *testing.T) {
	sip, hosted := &namedControls{name: "sip"}, &namedControls{name: "hosted"}
	c := Chooser{SIP: sip, Hosted: hosted}
	for provider, want := range map[string]string{"": "sip", "sip": "sip", "twilio": "hosted", "telnyx": "hosted", "vonage": "hosted"} {
		p, err := c.For(provider)
		if err != nil || p.(*namedControls).name != want {
			t.Errorf("%q: %v %v, want %s", provider, p, err, want)
		}
	}
	if _, err := (Chooser{SIP: sip}).For("twilio"); !errors.Is(err, ErrCallNotFound) {
		t.Errorf("no hosted path: %v", err)
	}
	if _, err := (Chooser{Hosted: hosted}).For(""); !errors.Is(err, ErrCallNotFound) {
		t.Errorf("no SIP path: %v", err)
	}
}

// transferSpy records the transfers that reach a path.
type transferSpy struct {
	Controls
	got []string
}

func (s *transferSpy) Transfer(_ context.Context, _ int64, _, to string, _ TransferMode) error {
	s.got = append(s.got, to)
	return nil
}

// A target that is neither a sip: URI nor an E.164 number is refused by the
// chooser with the API's 400, before either path records or queues it.
func TestChooserRefusesABadTransferTargetBeforeThePath(t *testing.T) {
	for _, provider := range []string{"", "twilio"} {
		sip, hosted := &transferSpy{}, &transferSpy{}
		c := Chooser{SIP: sip, Hosted: hosted}
		rec := &db.Call{ID: "call-1", Provider: provider}
		for _, bad := range []string{"12345", "sip:host-only.example.com", "sip:a@b c", ""} {
			err := c.Transfer(context.Background(), 1, rec, bad, TransferAuto)
			if !errors.Is(err, ErrBadTransferTarget) {
				t.Errorf("%q on %q: %v, want ErrBadTransferTarget", bad, provider, err)
			}
		}
		if err := c.Transfer(context.Background(), 1, rec, "+14165550100", TransferAuto); err != nil {
			t.Errorf("a good target on %q: %v", provider, err)
		}
		if len(sip.got)+len(hosted.got) != 1 {
			t.Errorf("on %q the paths saw %v and %v, want only the good target", provider, sip.got, hosted.got)
		}
	}
}

// Only a close frame with 1000 is a stream ended on purpose.
func TestStreamClosedNormally(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&websocket.CloseError{Code: websocket.CloseNormalClosure}, true},
		{&websocket.CloseError{Code: websocket.CloseGoingAway}, false},
		{&websocket.CloseError{Code: websocket.CloseAbnormalClosure}, false},
		{io.ErrUnexpectedEOF, false},
		{nil, false},
	} {
		if got := StreamClosedNormally(c.err); got != c.want {
			t.Errorf("%v: %v, want %v", c.err, got, c.want)
		}
	}
}
