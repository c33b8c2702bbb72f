package providertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// VonageVoice fakes the Voice API calls sipbridge uses: POST /v1/calls (create:
// to, from and answer_url or ncco required; answers 201
// {"uuid","status":"started","direction":"outbound","conversation_uuid"})
// and PUT /v1/calls/{uuid} (action hangup or transfer; answers 204, 404
// {"type","title":"Not Found","detail"} for an unknown call). It checks that
// a Bearer JWT (three base64url parts) is sent; it does not verify the
// application's RS256 signature. Errors follow Vonage's
// {"type","title","detail","instance"} shape.
type VonageVoice struct {
	Server *httptest.Server

	mu sync.Mutex
	// Creates are the bodies of every create, in order.
	Creates []map[string]any
	// Modifies are the bodies of every PUT, by call uuid.
	Modifies []VonageModify
	// FailCreate, when set, answers creates with this status and detail.
	FailCreate *VonageFailure
	live       map[string]bool
}

// VonageModify is one PUT /v1/calls/{uuid}.
type VonageModify struct {
	UUID string
	Body map[string]any
}

// VonageFailure is an error answer of the fake.
type VonageFailure struct {
	Status        int
	Title, Detail string
}

// NewVonage starts a fake VonageVoice Voice API.
func NewVonageVoice(t testing.TB) *VonageVoice {
	f := &VonageVoice{live: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/calls", f.create)
	mux.HandleFunc("PUT /v1/calls/{uuid}", f.modify)
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || strings.Count(tok, ".") != 2 {
			vonageVoiceError(w, 401, "Unauthorized", "Invalid Token")
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Server.Close)
	return f
}

// URL is the API root to configure as VONAGE_API_BASE_URL.
func (f *VonageVoice) URL() string { return f.Server.URL }

func vonageVoiceError(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"type": "https://developer.nexmo.com/api-errors#" + strings.ToLower(strings.ReplaceAll(title, " ", "-")),
		"title": title, "detail": detail, "instance": "fake"})
}

// SetLive registers a call uuid (an inbound call the fake did not create).
func (f *VonageVoice) SetLive(uuid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live[uuid] = true
}

// LastCreate returns the last create body.
func (f *VonageVoice) LastCreate() map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.Creates) == 0 {
		return nil
	}
	return f.Creates[len(f.Creates)-1]
}

// WaitModify waits for a PUT on the call whose action is action.
func (f *VonageVoice) WaitModify(uuid, action string, within time.Duration) (map[string]any, bool) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		for _, m := range f.Modifies {
			if m.UUID == uuid && m.Body["action"] == action {
				f.mu.Unlock()
				return m.Body, true
			}
		}
		f.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	return nil, false
}

func (f *VonageVoice) create(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		vonageVoiceError(w, 400, "Bad Request", "invalid JSON")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Creates = append(f.Creates, body)
	if fc := f.FailCreate; fc != nil {
		vonageVoiceError(w, fc.Status, fc.Title, fc.Detail)
		return
	}
	if body["to"] == nil || body["from"] == nil || (body["answer_url"] == nil && body["ncco"] == nil) {
		vonageVoiceError(w, 400, "Bad Request", "to, from and answer_url or ncco are required")
		return
	}
	uuid := fmt.Sprintf("00000000-0000-4000-8000-%012d", len(f.Creates))
	f.live[uuid] = true
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(201)
	json.NewEncoder(w).Encode(map[string]string{"uuid": uuid, "status": "started", "direction": "outbound", "conversation_uuid": "CON-" + uuid})
}

func (f *VonageVoice) modify(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		vonageVoiceError(w, 400, "Bad Request", "invalid JSON")
		return
	}
	uuid := r.PathValue("uuid")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Modifies = append(f.Modifies, VonageModify{UUID: uuid, Body: body})
	if !f.live[uuid] {
		vonageVoiceError(w, 404, "Not Found", "Call "+uuid+" was not found")
		return
	}
	if body["action"] == "hangup" {
		delete(f.live, uuid)
	}
	w.WriteHeader(204)
}
