package transfer

import (
	"errors"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
)

// A warm transfer is bridged out through the trunks, to a number or a
// sip: URI's number, even on a trunk that transfers by REFER; a URI with
// no number and an unknown mode are refused before anything is tried.
func TestNewWarm(t *testing.T) {
	referTrunk := &db.SIPTrunk{ID: "t1", TransferMode: "refer", ReferToTemplate: "sip:{e164}@10.0.0.9"}
	var tracked []string
	for _, to := range []string{"+14165550100", "sip:+14165550100@10.0.0.5"} {
		p, err := New(newCall(referTrunk, &tracked), to, "warm")
		if err != nil || !p.Warm || p.ReferURI != "" || p.BridgeTo != "+14165550100" || !strings.Contains(p.Dial, "sofia/gateway/gw_two/14165550100|") {
			t.Fatalf("warm to %s: %+v, %v", to, p, err)
		}
	}
	if _, err := New(newCall(nil, &tracked), "sip:alice@10.0.0.5", "warm"); !errors.Is(err, call.ErrWarmNeedsNumber) {
		t.Fatalf("warm to a URI without a number: %v", err)
	}
	if _, err := New(newCall(nil, &tracked), "+14165550100", "tepid"); !errors.Is(err, call.ErrUnknownTransferMode) {
		t.Fatalf("unknown mode: %v", err)
	}
}

// Each path through a warm transfer, input by input: what the session
// is told to do, and that nothing follows the end.
func TestWarmSteps(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []WarmInput
		want []WarmAction
	}{
		{"complete", []WarmInput{TargetAnswered, AssistantComplete}, []WarmAction{Brief, Complete}},
		{"complete before the answer waits", []WarmInput{AssistantComplete, TargetAnswered, AssistantComplete}, []WarmAction{Ignore, Brief, Complete}},
		{"cancel while briefing", []WarmInput{TargetAnswered, AssistantCancel, AssistantComplete}, []WarmAction{Brief, GiveBack, Ignore}},
		{"cancel while dialling", []WarmInput{AssistantCancel, TargetAnswered}, []WarmAction{GiveBack, Ignore}},
		{"declined or rang out", []WarmInput{DialFailed}, []WarmAction{GiveBack}},
		{"target hangs up while briefed", []WarmInput{TargetAnswered, TargetGone}, []WarmAction{Brief, GiveBack}},
		{"a failed leg while dialling", []WarmInput{TargetGone, TargetAnswered}, []WarmAction{Ignore, Brief}},
		{"target's stream fails", []WarmInput{TargetAnswered, StreamFailed}, []WarmAction{Brief, GiveBack}},
		{"caller hangs up while dialling", []WarmInput{CallerGone, TargetAnswered}, []WarmAction{Abandon, Ignore}},
		{"caller hangs up while briefing", []WarmInput{TargetAnswered, CallerGone, CallerGone}, []WarmAction{Brief, Abandon, Ignore}},
		{"assistant leaves while briefing", []WarmInput{TargetAnswered, AssistantGone}, []WarmAction{Brief, Complete}},
		{"assistant leaves while dialling", []WarmInput{AssistantGone, TargetAnswered}, []WarmAction{Ignore, Complete}},
		{"assistant leaves, nobody answers", []WarmInput{AssistantGone, DialFailed}, []WarmAction{Ignore, GiveBack}},
	} {
		w := NewWarm(&Plan{To: "+14165550100", Warm: true}, "")
		for i, in := range c.in {
			if got := w.Step(in); got != c.want[i] {
				t.Errorf("%s: step %d (input %d) = %d, want %d", c.name, i, in, got, c.want[i])
			}
		}
	}
}

func TestHoldAudio(t *testing.T) {
	if HoldAudio("") != DefaultHold || HoldAudio("/srv/hold.wav") != "/srv/hold.wav" {
		t.Fatal("hold audio: want the configured file, else the default tone")
	}
	if w := NewWarm(&Plan{}, "/srv/hold.wav"); w.Hold != "/srv/hold.wav" || w.Phase != WarmDialing {
		t.Fatalf("new warm transfer %+v", w)
	}
}
