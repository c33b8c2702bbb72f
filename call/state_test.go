package call

import (
	"errors"
	"testing"
)

// TestTransitions pins the table: every pair of states, allowed or not.
func TestTransitions(t *testing.T) {
	all := []State{Routing, Ringing, Connecting, InProgress, Transferring, Transferred, Ending, Ended, Failed}
	want := map[[2]State]bool{
		{Routing, Connecting}: true, {Routing, Transferring}: true, {Routing, Transferred}: true, {Routing, Ending}: true, {Routing, Failed}: true,
		{Ringing, Connecting}: true, {Ringing, Ending}: true, {Ringing, Failed}: true,
		{Connecting, InProgress}: true, {Connecting, Transferring}: true, {Connecting, Transferred}: true, {Connecting, Ending}: true, {Connecting, Ended}: true,
		{InProgress, Connecting}: true, {InProgress, Transferring}: true, {InProgress, Transferred}: true, {InProgress, Ending}: true, {InProgress, Ended}: true,
		{Transferring, Routing}: true, {Transferring, Connecting}: true, {Transferring, InProgress}: true, {Transferring, Transferred}: true,
		{Transferring, Ending}: true, {Transferring, Ended}: true,
		{Transferred, Ending}: true, {Transferred, Ended}: true,
		{Ending, Ended}: true, {Ending, Failed}: true,
	}
	for _, from := range all {
		for _, to := range all {
			if got := from.Can(to); got != want[[2]State{from, to}] {
				t.Errorf("%s → %s: allowed %v, want %v", from, to, got, !got)
			}
		}
	}
}

func TestLifecycle(t *testing.T) {
	for _, c := range []struct {
		name     string
		outbound bool
		path     []State
		final    State
	}{
		{"inbound answered and hung up", false, []State{Connecting, InProgress, Ending}, Ended},
		{"inbound refused", false, []State{Ending}, Failed},
		{"outbound not answered", true, nil, Failed},
		{"outbound cancelled while ringing", true, []State{Ending}, Failed},
		{"transfer failed, back to the assistant", false, []State{Connecting, InProgress, Transferring, InProgress}, Ended},
		{"transferred", true, []State{Connecting, InProgress, Transferring, Transferred}, Ended},
		{"stream restarted", false, []State{Connecting, InProgress, Connecting, InProgress}, Ended},
		{"assistant unreachable, fallback number", false, []State{Connecting, Transferring, Transferred}, Ended},
		{"unanswered inbound call bridged to the fallback number", false, []State{Transferred}, Failed},
		{"provider transfer refused", false, []State{Connecting, InProgress, Transferring, InProgress}, Ended},
	} {
		l := NewLifecycle(c.outbound)
		for _, s := range c.path {
			if err := l.To(s); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		}
		if !l.End() || l.State() != c.final {
			t.Errorf("%s: ended in %s, want %s", c.name, l.State(), c.final)
		}
		if l.End() {
			t.Errorf("%s: ended twice", c.name)
		}
	}
}

func TestLifecycleRefusesAndKeepsState(t *testing.T) {
	l := NewLifecycle(true)
	err := l.To(InProgress) // ringing → in progress skips the answer
	var te *TransitionError
	if !errors.As(err, &te) || te.From != Ringing || te.To != InProgress {
		t.Fatalf("err %v", err)
	}
	if l.State() != Ringing || l.WasAnswered() {
		t.Fatalf("state %s answered %v after a refused move", l.State(), l.WasAnswered())
	}
	if err.Error() != "call state: ringing → in_progress is not allowed" {
		t.Fatalf("message %q", err)
	}
	_ = l.To(Connecting)
	_ = l.To(Ending)
	if !l.WasAnswered() || l.State().Answered() {
		t.Fatalf("an answered call that is ending: was answered %v, answered state %v", l.WasAnswered(), l.State().Answered())
	}
}

func TestLifecycleRemembersAnswerAndTransfer(t *testing.T) {
	l := NewLifecycle(false)
	_ = l.To(Transferred) // an unanswered call bridged away
	if !l.WasTransferred() || l.WasAnswered() {
		t.Fatalf("transferred %v answered %v", l.WasTransferred(), l.WasAnswered())
	}
	_ = l.To(Ending)
	l.MarkAnswered() // FreeSWITCH answered the bridge while the call ended
	if l.State() != Ending || !l.WasAnswered() || !l.WasTransferred() {
		t.Fatalf("state %s answered %v transferred %v", l.State(), l.WasAnswered(), l.WasTransferred())
	}
	if l.End(); l.State() != Ended {
		t.Fatalf("an answered call ends %s", l.State())
	}
}
