package call

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/db"
)

type recordingSink struct {
	did      []string
	transfer error
}

func (r *recordingSink) Event(typ string, d db.JSONMap) {
	r.did = append(r.did, "event "+typ+" "+fmt.Sprint(d))
}
func (r *recordingSink) PlayMedia(b []byte) { r.did = append(r.did, fmt.Sprintf("media %d", len(b))) }
func (r *recordingSink) Mark(name string)   { r.did = append(r.did, "mark "+name) }
func (r *recordingSink) Clear()             { r.did = append(r.did, "clear") }
func (r *recordingSink) Transfer(to string, mode TransferMode) error {
	if mode != "" {
		to += " " + string(mode)
	}
	r.did = append(r.did, "transfer "+to)
	return r.transfer
}
func (r *recordingSink) EndWarmTransfer(complete bool) {
	r.did = append(r.did, fmt.Sprint("end warm ", complete))
}
func (r *recordingSink) TransferRefused(to string, err error) {
	r.did = append(r.did, "refused "+to+": "+err.Error())
}
func (r *recordingSink) Hangup(immediate bool) {
	r.did = append(r.did, fmt.Sprint("hangup ", immediate))
}
func (r *recordingSink) SendDTMF(digits string) error {
	r.did = append(r.did, "dtmf "+digits)
	return r.transfer
}
func (r *recordingSink) DTMFRefused(digits string, err error) {
	r.did = append(r.did, "dtmf refused "+digits+": "+err.Error())
}

func TestCheckDTMFDigits(t *testing.T) {
	long := strings.Repeat("1", MaxDTMFDigits)
	for in, want := range map[string]string{"0123456789*#ABCD": "0123456789*#ABCD", "abcd": "ABCD", long: long,
		"": "", long + "1": "", "1 2": "", "w1": "", "E": "", "１": "", "1,2": ""} {
		got, err := CheckDTMFDigits(in)
		if got != want || (err == nil) != (want != "") || err != nil && !errors.Is(err, ErrBadDTMF) {
			t.Errorf("CheckDTMFDigits(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestHandleAssistantMessage(t *testing.T) {
	for _, c := range []struct {
		m        assistant.AssistantMessage
		transfer error
		want     []string
	}{
		{assistant.AssistantMessage{Event: assistant.EventMedia, Payload: make([]byte, 160)}, nil, []string{"media 160"}},
		{assistant.AssistantMessage{Event: assistant.EventMark, Mark: "m1"}, nil, []string{"mark m1"}},
		{assistant.AssistantMessage{Event: assistant.EventClear}, nil, []string{"clear"}},
		{assistant.AssistantMessage{Event: assistant.EventTransfer, TransferTo: "+14165550199"}, nil,
			[]string{"event transfer_requested map[by:assistant to:+14165550199]", "transfer +14165550199"}},
		{assistant.AssistantMessage{Event: assistant.EventTransfer, TransferTo: "sip:x@10.0.0.1"}, ErrTransferAddressRefused,
			[]string{"event transfer_requested map[by:assistant to:sip:x@10.0.0.1]", "transfer sip:x@10.0.0.1",
				"refused sip:x@10.0.0.1: " + ErrTransferAddressRefused.Error()}},
		{assistant.AssistantMessage{Event: assistant.EventTransfer, TransferTo: "+14165550199", TransferMode: "warm"}, nil,
			[]string{"event transfer_requested map[by:assistant mode:warm to:+14165550199]", "transfer +14165550199 warm"}},
		{assistant.AssistantMessage{Event: assistant.EventTransfer, TransferTo: "+14165550199", TransferMode: "lukewarm"}, nil,
			[]string{"event transfer_requested map[by:assistant mode:lukewarm to:+14165550199]",
				"refused +14165550199: " + ErrUnknownTransferMode.Error()}},
		{assistant.AssistantMessage{Event: assistant.EventTransferComplete}, nil, []string{"end warm true"}},
		{assistant.AssistantMessage{Event: assistant.EventTransferCancel}, nil, []string{"end warm false"}},
		{assistant.AssistantMessage{Event: assistant.EventHangup}, nil,
			[]string{"event hangup_requested map[by:assistant immediate:false]", "hangup false"}},
		{assistant.AssistantMessage{Event: assistant.EventHangup, Immediate: true}, nil,
			[]string{"event hangup_requested map[by:assistant immediate:true]", "hangup true"}},
		{assistant.AssistantMessage{Event: assistant.EventDTMF, Digits: "12#*ab"}, nil,
			[]string{"dtmf 12#*AB", "event dtmf_sent map[digits:12#*AB]"}},
		{assistant.AssistantMessage{Event: assistant.EventDTMF, Digits: "12x"}, nil,
			[]string{`dtmf refused 12x: invalid dtmf digits: "x" is not one of 0-9 * # A-D`,
				`event dtmf_refused map[digits:12x reason:invalid dtmf digits: "x" is not one of 0-9 * # A-D]`}},
		{assistant.AssistantMessage{Event: assistant.EventDTMF, Digits: "1"}, ErrDTMFUnsupported,
			[]string{"dtmf 1", "dtmf refused 1: " + ErrDTMFUnsupported.Error(),
				"event dtmf_refused map[digits:1 reason:" + ErrDTMFUnsupported.Error() + "]"}},
		{assistant.AssistantMessage{Event: "stop"}, nil, nil},
	} {
		s := &recordingSink{transfer: c.transfer}
		HandleAssistantMessage(c.m, s)
		if !reflect.DeepEqual(s.did, c.want) {
			t.Errorf("%s: did %q, want %q", c.m.Event, s.did, c.want)
		}
	}
}

// An inbound call's X- headers, whatever their case, reach the assistant
// by name; other headers do not.
func TestXHeaders(t *testing.T) {
	got := XHeaders(map[string]string{"variable_sip_h_X-Customer-Id": "42", "variable_sip_h_x-tag": "a", "variable_sip_h_Diversion": "d",
		"variable_sip_h_X-": "short", "Caller-Caller-ID-Number": "+1"})
	if want := map[string]string{"X-Customer-Id": "42", "x-tag": "a"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("XHeaders = %v, want %v", got, want)
	}
}
