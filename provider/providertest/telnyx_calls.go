package providertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// telnyxCalls fakes Call Control: POST /v2/calls (dial) and POST
// /v2/calls/{call_control_id}/actions/{action} (answer, hangup, transfer,
// …), in the documented shapes: a dial answers
// {"data":{"call_control_id","call_leg_id","call_session_id","is_alive","record_type":"call"}},
// an action {"data":{"result":"ok"}}; an action on a call that ended (hung up
// through the fake) answers 422 with code 90018 "Call has already ended".
type telnyxCalls struct {
	// Dials are the bodies of every dial, in order.
	Dials []map[string]any
	// Actions are every action sent, in order.
	Actions []TelnyxAction
	// FailDial, when set, answers dials with this error (status, code, detail).
	FailDial *TelnyxFailure
	ended    map[string]bool
	notify   chan struct{}
}

// TelnyxAction is one Call Control action received.
type TelnyxAction struct {
	CallControlID string
	Action        string
	Body          map[string]any
}

// TelnyxFailure is an error answer of the fake.
type TelnyxFailure struct {
	Status       int
	Code, Detail string
}

func (f *Telnyx) registerCalls(mux *http.ServeMux) {
	f.calls.ended = map[string]bool{}
	f.calls.notify = make(chan struct{}, 1)
	mux.HandleFunc("POST /v2/calls", f.dial)
	mux.HandleFunc("POST /v2/calls/{id}/actions/{action}", f.action)
}

func (f *Telnyx) poke() {
	select {
	case f.calls.notify <- struct{}{}:
	default:
	}
}

// FailDials makes every following dial answer this error.
func (f *Telnyx) FailDials(status int, code, detail string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls.FailDial = &TelnyxFailure{Status: status, Code: code, Detail: detail}
}

// Dials returns the bodies of the dials so far.
func (f *Telnyx) Dials() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.calls.Dials...)
}

// Actions returns the actions so far.
func (f *Telnyx) Actions() []TelnyxAction {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]TelnyxAction(nil), f.calls.Actions...)
}

// WaitAction waits for an action of that name on that call and returns it.
func (f *Telnyx) WaitAction(callControlID, action string, within time.Duration) (TelnyxAction, bool) {
	deadline := time.After(within)
	for {
		for _, a := range f.Actions() {
			if a.CallControlID == callControlID && a.Action == action {
				return a, true
			}
		}
		select {
		case <-f.calls.notify:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			return TelnyxAction{}, false
		}
	}
}

func (f *Telnyx) dial(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		telnyxError(w, 422, "10015", "Bad Request", "invalid JSON")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.poke()
	f.calls.Dials = append(f.calls.Dials, body)
	if fd := f.calls.FailDial; fd != nil {
		telnyxError(w, fd.Status, fd.Code, "Call failed", fd.Detail)
		return
	}
	for _, k := range []string{"connection_id", "to", "from"} {
		if s, _ := body[k].(string); s == "" {
			telnyxError(w, 422, "10032", "Invalid value", k+" is required")
			return
		}
	}
	n := len(f.calls.Dials)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{
		"call_control_id": fmt.Sprintf("v3:fake-dial-%d", n), "call_leg_id": fmt.Sprintf("leg-%d", n),
		"call_session_id": fmt.Sprintf("session-%d", n), "is_alive": false, "record_type": "call"}})
}

func (f *Telnyx) action(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{}
	if r.ContentLength != 0 {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			telnyxError(w, 422, "10015", "Bad Request", "invalid JSON")
			return
		}
	}
	id, action := r.PathValue("id"), r.PathValue("action")
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.poke()
	f.calls.Actions = append(f.calls.Actions, TelnyxAction{CallControlID: id, Action: action, Body: body})
	if f.calls.ended[id] {
		telnyxError(w, 422, "90018", "Call has already ended", "This call is no longer active and can't receive commands.")
		return
	}
	if action == "hangup" {
		f.calls.ended[id] = true
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"data": map[string]string{"result": "ok"}})
}
