package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/web/callapi"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// callRow is one call as the pages show it.
type callRow struct {
	ID, Direction, From, To, Status, Provider string
	HangupCause, Reason                       string
	SIPStatus, DurationSeconds                int
	Recording                                 bool // ended, with a recording to play
	StartedAt                                 time.Time
	EndedAt                                   *time.Time
}

func callRowOf(c *db.Call) callRow {
	to := c.ToNumber
	if c.ResolvedDID != "" {
		to = c.ResolvedDID
	}
	return callRow{ID: c.ID, Direction: c.Direction, From: c.FromNumber, To: to, Status: c.Status, Provider: c.Provider,
		HangupCause: c.HangupCause, Reason: c.Reason, SIPStatus: c.SIPStatus, DurationSeconds: c.DurationSeconds,
		StartedAt: c.StartedAt, EndedAt: c.EndedAt, Recording: callapi.HasRecording(c)}
}

// callFilter is the recent calls' filter as the form shows it.
type callFilter struct {
	Status, PhoneNumber, Direction string
}

type callsData struct {
	Live   []callRow
	Recent []callRow
	Total  int64
	Filter callFilter
	Error  string
}

// liveCalls are the organization's ringing and in-progress calls, in one
// read: a call answered meanwhile is listed once, never in neither list.
func (c *Console) liveCalls(r *http.Request, s *session) ([]callRow, error) {
	items, _, err := c.d.Store.ListCalls(r.Context(), s.orgID, db.CallFilter{Statuses: []string{db.CallRinging, db.CallInProgress}},
		db.Page{Limit: 200, NoTotal: true})
	if err != nil {
		return nil, err
	}
	out := make([]callRow, 0, len(items))
	for i := range items {
		out = append(out, callRowOf(&items[i]))
	}
	return out, nil
}

// callsData is the live calls and the recent ones under the request's
// filter (the page's, or the live stream's: the same query).
func (c *Console) callsData(r *http.Request, s *session) (callsData, error) {
	q := r.URL.Query()
	d := callsData{Filter: callFilter{Status: q.Get("status"), PhoneNumber: strings.TrimSpace(q.Get("phone_number")), Direction: q.Get("direction")}}
	f := db.CallFilter{Status: d.Filter.Status, Direction: d.Filter.Direction}
	if p := d.Filter.PhoneNumber; p != "" {
		n, _, err := httpapi.NormalizeE164("phone_number", p)
		if err != nil {
			d.Error = err.Error()
		}
		f.PhoneNumber = n
	}
	var err error
	if d.Live, err = c.liveCalls(r, s); err != nil {
		return d, err
	}
	if d.Error == "" {
		items, total, err := c.d.Store.ListCalls(r.Context(), s.orgID, f, db.Page{Limit: 50})
		if err != nil {
			return d, err
		}
		d.Total = total // read with the rows: they agree
		for i := range items {
			d.Recent = append(d.Recent, callRowOf(&items[i]))
		}
	}
	return d, nil
}

func (c *Console) callsPage(w http.ResponseWriter, r *http.Request, s *session) {
	d, err := c.callsData(r, s)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := pageView(s, "Calls", "calls", d)
	q := url.Values{"page": {"calls"}}
	for k, val := range map[string]string{"status": d.Filter.Status, "direction": d.Filter.Direction, "phone_number": d.Filter.PhoneNumber} {
		if val != "" {
			q.Set(k, val)
		}
	}
	v.Live = q.Encode()
	c.render(w, http.StatusOK, "calls", "", v)
}

type eventRow struct {
	At     time.Time
	Type   string
	Detail string
}

type callPageData struct {
	Call   callRow
	Live   bool
	Events []eventRow
	Error  string
	Done   string
}

func (c *Console) callPage(w http.ResponseWriter, r *http.Request, s *session) {
	c.showCall(w, r, s, http.StatusOK, "", r.URL.Query().Get("done"))
}

func (c *Console) showCall(w http.ResponseWriter, r *http.Request, s *session, status int, msg, done string) {
	call, err := c.d.Store.GetCall(r.Context(), s.orgID, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	evs, err := c.d.Store.CallEvents(r.Context(), s.orgID, call.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := callPageData{Call: callRowOf(call), Live: call.EndedAt == nil && (call.Status == "in-progress" || call.Status == "ringing"), Error: msg, Done: done}
	for _, e := range evs {
		b, _ := json.Marshal(e.Detail)
		d.Events = append(d.Events, eventRow{At: e.At, Type: e.Type, Detail: string(b)})
	}
	c.render(w, status, "call", "", pageView(s, "Call "+call.ID, "calls", d))
}

func (c *Console) callHangup(w http.ResponseWriter, r *http.Request, s *session) {
	c.callAction(w, r, s, "hangup", func() error { return c.d.Calls.Hangup(r.Context(), s.orgID, r.PathValue("id")) })
}

func (c *Console) callTransfer(w http.ResponseWriter, r *http.Request, s *session) {
	to, mode := strings.TrimSpace(r.PostFormValue("to")), call.TransferMode(r.PostFormValue("mode"))
	if to == "" || !mode.Known() {
		c.showCall(w, r, s, http.StatusBadRequest, "transfer refused: to: a sip: URI or an E.164 number is required; mode: refer, bridge or warm", "")
		return
	}
	c.callAction(w, r, s, "transfer", func() error { return c.d.Calls.Transfer(r.Context(), s.orgID, r.PathValue("id"), to, string(mode)) })
}

// liveCallWording is the calls API's: a transfer's destination is "to".
var liveCallWording = httpapi.Wording{Fields: map[string]string{"to_phone_number": "to"}}

// callAction runs a call-control action on one of the organization's calls
// and shows the call again, with call control's refusal if any (its
// message, as the API words it).
func (c *Console) callAction(w http.ResponseWriter, r *http.Request, s *session, what string, act func() error) {
	if _, err := c.d.Store.GetCall(r.Context(), s.orgID, r.PathValue("id")); err != nil {
		c.fail(w, r, err)
		return
	}
	err := act()
	if err == nil {
		http.Redirect(w, r, "/console/calls/"+r.PathValue("id")+"?done="+what, http.StatusSeeOther)
		return
	}
	ae := httpapi.ToAPIError(httpapi.ErrorIn(err, liveCallWording))
	if ae.Status == http.StatusNotFound {
		c.notFound(w)
		return
	}
	if ae.Status >= 500 {
		c.log.Warn("console call action failed", "call_id", r.PathValue("id"), "org_id", s.orgID, "action", what, "err", err.Error())
	}
	msg := ae.Message
	if ae.Field != "" && !strings.Contains(msg, ae.Field) {
		msg = ae.Field + ": " + msg
	}
	c.showCall(w, r, s, ae.Status, what+" refused: "+msg, "")
}

// callRecording streams the recording of one of the organization's ended
// calls to the call page's player, as GET /api/v1/calls/{id}/recording
// does (ranges included); 404 for another organization's call or a call
// without one.
func (c *Console) callRecording(w http.ResponseWriter, r *http.Request, s *session) {
	call, err := c.d.Store.GetCall(r.Context(), s.orgID, r.PathValue("id"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if err := callapi.ServeRecording(w, r, call, "inline"); err != nil {
		c.notFound(w)
	}
}
