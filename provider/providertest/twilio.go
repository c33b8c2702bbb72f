// Package providertest has httptest fakes of the providers' REST APIs, with
// their documented request and error shapes, for tests of other packages.
package providertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Twilio fakes the parts of the Twilio REST API (2010-04-01) sipbridge uses
// for numbers: AvailablePhoneNumbers, IncomingPhoneNumbers. It checks HTTP
// basic auth against one account and answers errors in Twilio's shape
// {"code","message","more_info","status"}.
type Twilio struct {
	Server     *httptest.Server
	AccountSID string
	AuthToken  string

	mu sync.Mutex
	// Numbers are the account's IncomingPhoneNumbers, in purchase order.
	Numbers []TwilioNumber
	// Unavailable numbers answer 21422 on purchase.
	Unavailable map[string]bool
	// Requests records "METHOD path" of every request.
	Requests []string
	// Forms records the form of every POST, by path.
	Forms map[string][]url.Values
	// Messages are the messages created (see twilio_messages.go).
	Messages []TwilioMessage
	// SendErrors are answered, in order, to the next message creations
	// (one each) instead of accepting them.
	SendErrors []FakeError
	// OnSend, when set, runs for each accepted message before it is
	// answered (outside the lock).
	OnSend func(m TwilioMessage)

	calls twilioCalls
}

// TwilioNumber is one IncomingPhoneNumber.
type TwilioNumber struct {
	SID, PhoneNumber, FriendlyName, VoiceURL, SMSURL string
	DateCreated                                      string // RFC 1123 with a numeric zone, as Twilio writes it
}

// NewTwilio starts a fake Twilio for one account.
func NewTwilio(t testing.TB, accountSID, authToken string) *Twilio {
	f := &Twilio{AccountSID: accountSID, AuthToken: authToken, Unavailable: map[string]bool{}, Forms: map[string][]url.Values{}}
	acct := "/2010-04-01/Accounts/" + accountSID
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+acct+"/AvailablePhoneNumbers/{cc}/Local.json", f.available)
	mux.HandleFunc("POST "+acct+"/IncomingPhoneNumbers.json", f.create)
	mux.HandleFunc("GET "+acct+"/IncomingPhoneNumbers.json", f.list)
	mux.HandleFunc("GET "+acct+"/IncomingPhoneNumbers/{file}", f.fetch)
	mux.HandleFunc("POST "+acct+"/IncomingPhoneNumbers/{file}", f.update)
	mux.HandleFunc("DELETE "+acct+"/IncomingPhoneNumbers/{file}", f.remove)
	mux.HandleFunc("POST "+acct+"/Messages.json", f.createMessage)
	f.registerCalls(mux, acct)
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.Requests = append(f.Requests, r.Method+" "+r.URL.Path)
		if r.Method == http.MethodPost {
			r.ParseForm()
			f.Forms[r.URL.Path] = append(f.Forms[r.URL.Path], r.PostForm)
		}
		f.mu.Unlock()
		user, pass, ok := r.BasicAuth()
		if !ok || user != f.AccountSID || pass != f.AuthToken {
			twilioError(w, 401, 20003, "Authenticate")
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Server.Close)
	return f
}

// URL is the base URL to configure as TWILIO_API_BASE_URL.
func (f *Twilio) URL() string { return f.Server.URL }

// Owned returns a copy of the account's numbers.
func (f *Twilio) Owned() []TwilioNumber {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]TwilioNumber(nil), f.Numbers...)
}

// LastForm returns the last POST form sent to a path suffix.
func (f *Twilio) LastForm(pathSuffix string) url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	for p, forms := range f.Forms {
		if strings.HasSuffix(p, pathSuffix) && len(forms) > 0 {
			return forms[len(forms)-1]
		}
	}
	return nil
}

// Count returns how many requests matched "METHOD path-suffix".
func (f *Twilio) Count(method, pathSuffix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.Requests {
		if strings.HasPrefix(r, method+" ") && strings.HasSuffix(r, pathSuffix) {
			n++
		}
	}
	return n
}

func twilioError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg,
		"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), "status": status})
}

func (f *Twilio) json(n TwilioNumber) map[string]any {
	return map[string]any{"sid": n.SID, "account_sid": f.AccountSID, "phone_number": n.PhoneNumber, "friendly_name": n.FriendlyName,
		"voice_url": n.VoiceURL, "sms_url": n.SMSURL, "status": "in-use", "date_created": n.DateCreated,
		"capabilities": map[string]bool{"voice": true, "sms": true, "mms": false, "fax": false}}
}

func (f *Twilio) available(w http.ResponseWriter, r *http.Request) {
	cc := r.PathValue("cc")
	area := r.URL.Query().Get("AreaCode")
	var out []map[string]any
	for i := 0; i < 3; i++ {
		out = append(out, map[string]any{"phone_number": fmt.Sprintf("+1%s555010%d", firstNonEmpty(area, "415"), i),
			"locality": "San Francisco", "region": "CA", "iso_country": cc,
			"capabilities": map[string]bool{"voice": true, "SMS": true, "MMS": false}})
	}
	json.NewEncoder(w).Encode(map[string]any{"available_phone_numbers": out, "uri": r.URL.Path})
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (f *Twilio) create(w http.ResponseWriter, r *http.Request) {
	pn := r.PostForm.Get("PhoneNumber")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Unavailable[pn] {
		twilioError(w, 400, 21422, "PhoneNumber "+pn+" is not available")
		return
	}
	n := TwilioNumber{SID: fmt.Sprintf("PN%032d", len(f.Requests)), PhoneNumber: pn, FriendlyName: r.PostForm.Get("FriendlyName"),
		VoiceURL: r.PostForm.Get("VoiceUrl"), SMSURL: r.PostForm.Get("SmsUrl"), DateCreated: time.Now().UTC().Format(time.RFC1123Z)}
	f.Numbers = append(f.Numbers, n)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(201)
	json.NewEncoder(w).Encode(f.json(n))
}

func (f *Twilio) list(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []map[string]any{}
	for _, n := range f.Numbers {
		if pn := r.URL.Query().Get("PhoneNumber"); pn != "" && pn != n.PhoneNumber {
			continue
		}
		out = append(out, f.json(n))
	}
	json.NewEncoder(w).Encode(map[string]any{"incoming_phone_numbers": out, "page": 0, "page_size": 50, "next_page_uri": nil})
}

func (f *Twilio) find(file string) int {
	sid := strings.TrimSuffix(file, ".json")
	for i, n := range f.Numbers {
		if n.SID == sid {
			return i
		}
	}
	return -1
}

func (f *Twilio) fetch(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i := f.find(r.PathValue("file")); i >= 0 {
		json.NewEncoder(w).Encode(f.json(f.Numbers[i]))
		return
	}
	twilioError(w, 404, 20404, "The requested resource was not found")
}

func (f *Twilio) update(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.find(r.PathValue("file"))
	if i < 0 {
		twilioError(w, 404, 20404, "The requested resource was not found")
		return
	}
	if v, ok := r.PostForm["VoiceUrl"]; ok {
		f.Numbers[i].VoiceURL = v[0]
	}
	if v, ok := r.PostForm["SmsUrl"]; ok {
		f.Numbers[i].SMSURL = v[0]
	}
	json.NewEncoder(w).Encode(f.json(f.Numbers[i]))
}

func (f *Twilio) remove(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.find(r.PathValue("file"))
	if i < 0 {
		twilioError(w, 404, 20404, "The requested resource was not found")
		return
	}
	f.Numbers = append(f.Numbers[:i], f.Numbers[i+1:]...)
	w.WriteHeader(204)
}
