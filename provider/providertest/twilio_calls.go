package providertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// twilioCalls fakes the Calls resource: POST Calls.json (create: From, To
// and one of Url / Twiml required, answers 201 with the call, status
// "queued") and POST Calls/{Sid}.json (update: Status=completed or Twiml),
// answering Twilio's error shape: 21205 for a bad Url, 20404 for an unknown
// call, 21220 for an update of a call that is not in progress.
type twilioCalls struct {
	// Created are the forms of every create, in order.
	Created []url.Values
	// Updates are the forms of every update by call SID, in order.
	Updates []TwilioCallUpdate
	// FailCreate, when set, answers creates with this error.
	FailCreate *TwilioFailure
	status     map[string]string // call SID → status
}

// TwilioCallUpdate is one update of a live call.
type TwilioCallUpdate struct {
	CallSID string
	Form    url.Values
}

// TwilioFailure is an error answer of the fake.
type TwilioFailure struct {
	Status, Code int
	Message      string
}

func (f *Twilio) registerCalls(mux *http.ServeMux, acct string) {
	f.calls.status = map[string]string{}
	mux.HandleFunc("POST "+acct+"/Calls.json", f.createCall)
	mux.HandleFunc("POST "+acct+"/Calls/{file}", f.updateCall)
}

// FailCalls makes every following create answer this error.
func (f *Twilio) FailCalls(status, code int, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls.FailCreate = &TwilioFailure{Status: status, Code: code, Message: msg}
}

// CallsCreated returns the create forms so far.
func (f *Twilio) CallsCreated() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.calls.Created...)
}

// CallUpdates returns the updates so far.
func (f *Twilio) CallUpdates() []TwilioCallUpdate {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]TwilioCallUpdate(nil), f.calls.Updates...)
}

// SetCallStatus sets a call's status ("in-progress" once answered).
func (f *Twilio) SetCallStatus(sid, status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls.status[sid] = status
}

// WaitCallUpdate waits for an update of the call whose form has key.
func (f *Twilio) WaitCallUpdate(sid, key string, within time.Duration) (url.Values, bool) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		for _, u := range f.CallUpdates() {
			if u.CallSID == sid && u.Form.Has(key) {
				return u.Form, true
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil, false
}

func (f *Twilio) callJSON(sid string, form url.Values) map[string]any {
	return map[string]any{"sid": sid, "account_sid": f.AccountSID, "to": form.Get("To"), "from": form.Get("From"),
		"status": f.calls.status[sid], "direction": "outbound-api", "api_version": "2010-04-01"}
}

func (f *Twilio) createCall(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	form := r.PostForm
	f.calls.Created = append(f.calls.Created, form)
	if fc := f.calls.FailCreate; fc != nil {
		twilioError(w, fc.Status, fc.Code, fc.Message)
		return
	}
	if form.Get("To") == "" || form.Get("From") == "" {
		twilioError(w, 400, 21201, "No 'To' or 'From' number is specified")
		return
	}
	if u := form.Get("Url"); u == "" && form.Get("Twiml") == "" {
		twilioError(w, 400, 21205, "Url or Twiml is required")
		return
	} else if u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		twilioError(w, 400, 21205, "Url is not a valid URL: "+u)
		return
	}
	sid := fmt.Sprintf("CA%032x", len(f.calls.Created))
	f.calls.status[sid] = "queued"
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(201)
	json.NewEncoder(w).Encode(f.callJSON(sid, form))
}

func (f *Twilio) updateCall(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sid := strings.TrimSuffix(r.PathValue("file"), ".json")
	st, ok := f.calls.status[sid]
	if !ok {
		twilioError(w, 404, 20404, "The requested resource was not found")
		return
	}
	f.calls.Updates = append(f.calls.Updates, TwilioCallUpdate{CallSID: sid, Form: r.PostForm})
	if st == "completed" {
		twilioError(w, 400, 21220, "Call is not in-progress. Cannot redirect.")
		return
	}
	if r.PostForm.Get("Status") == "completed" {
		f.calls.status[sid] = "completed"
	}
	json.NewEncoder(w).Encode(f.callJSON(sid, r.PostForm))
}
