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

// Telnyx fakes the parts of the Telnyx API v2 sipbridge uses for numbers:
// number_orders and phone_numbers (list by filter, delete). It checks the
// Bearer API key and answers errors as {"errors":[{code,title,detail}]}.
type Telnyx struct {
	Server *httptest.Server
	APIKey string

	mu sync.Mutex
	// Orders are the bodies of every number order, in order.
	Orders []map[string]any
	// Numbers are the account's numbers by E.164.
	Numbers map[string]TelnyxNumber
	// Unavailable numbers get an order with status "failure".
	Unavailable map[string]bool
	// Messages are the messages sent (see telnyx_messages.go).
	Messages []TelnyxMessage
	// SendErrors are answered, in order, to the next sends instead of
	// accepting them.
	SendErrors []FakeError

	calls telnyxCalls
}

// TelnyxNumber is one of the account's numbers.
type TelnyxNumber struct {
	ID, PhoneNumber, ConnectionID, MessagingProfileID string
}

// NewTelnyx starts a fake Telnyx API for one API key.
func NewTelnyx(t testing.TB, apiKey string) *Telnyx {
	f := &Telnyx{APIKey: apiKey, Numbers: map[string]TelnyxNumber{}, Unavailable: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/number_orders", f.order)
	mux.HandleFunc("GET /v2/phone_numbers", f.list)
	mux.HandleFunc("DELETE /v2/phone_numbers/{id}", f.remove)
	mux.HandleFunc("POST /v2/messages", f.sendMessage)
	f.registerCalls(mux)
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+f.APIKey {
			telnyxError(w, 401, "10009", "Authentication failed", "The API key provided is invalid.")
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Server.Close)
	return f
}

// URL is the API root to configure as TELNYX_API_BASE_URL.
func (f *Telnyx) URL() string { return f.Server.URL + "/v2" }

func telnyxError(w http.ResponseWriter, status int, code, title, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "title": title, "detail": detail}}})
}

// LastOrder returns the last number order body.
func (f *Telnyx) LastOrder() map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.Orders) == 0 {
		return nil
	}
	return f.Orders[len(f.Orders)-1]
}

func (f *Telnyx) order(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		telnyxError(w, 422, "10015", "Bad Request", "invalid JSON")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Orders = append(f.Orders, body)
	nums, _ := body["phone_numbers"].([]any)
	status := "success"
	var out []map[string]string
	for i, n := range nums {
		pn, _ := n.(map[string]any)["phone_number"].(string)
		if f.Unavailable[pn] {
			status = "failure"
			continue
		}
		id := fmt.Sprintf("15%017d", len(f.Orders)*10+i)
		conn, _ := body["connection_id"].(string)
		mp, _ := body["messaging_profile_id"].(string)
		f.Numbers[pn] = TelnyxNumber{ID: id, PhoneNumber: pn, ConnectionID: conn, MessagingProfileID: mp}
		out = append(out, map[string]string{"id": id, "phone_number": pn, "status": "success"})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"id": fmt.Sprintf("order-%d", len(f.Orders)), "record_type": "number_order",
		"status": status, "phone_numbers": out, "phone_numbers_count": len(out), "connection_id": body["connection_id"],
		"messaging_profile_id": body["messaging_profile_id"], "customer_reference": body["customer_reference"],
		"created_at": time.Now().UTC().Format(time.RFC3339), "updated_at": time.Now().UTC().Format(time.RFC3339)}})
}

func (f *Telnyx) list(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []map[string]string{}
	filter, filtered := r.URL.Query()["filter[phone_number]"]
	for pn, n := range f.Numbers {
		if !filtered || telnyxPhoneFilterMatches(filter[0], pn) {
			out = append(out, map[string]string{"id": n.ID, "phone_number": pn, "status": "active",
				"connection_id": n.ConnectionID, "messaging_profile_id": n.MessagingProfileID})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"data": out, "meta": map[string]int{"page_number": 1, "total_pages": 1, "total_results": len(out)}})
}

// telnyxPhoneFilterMatches follows spec3.yml's filter[phone_number] of GET
// /phone_numbers (team-telnyx/openapi, stored version 0015e7fa): "Requires
// at least three digits. Non-numerical characters will result in no values
// being returned." The digits match anywhere in the number: the spec does
// not promise an exact match.
func telnyxPhoneFilterMatches(filter, number string) bool {
	if len(filter) < 3 || strings.Trim(filter, "0123456789") != "" {
		return false
	}
	return strings.Contains(strings.TrimPrefix(number, "+"), filter)
}

func (f *Telnyx) remove(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := strings.TrimSpace(r.PathValue("id"))
	for pn, n := range f.Numbers {
		if n.ID == id {
			delete(f.Numbers, pn)
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"data": map[string]string{"id": id, "phone_number": pn}})
			return
		}
	}
	telnyxError(w, 404, "10005", "Resource not found", "The requested resource was not found.")
}
