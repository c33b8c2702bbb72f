package console

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/db"
)

// liveParts builds a page's live fragments, by the name of the part each
// fills (the event's name, and the data-part of the element it replaces).
type liveParts func(*http.Request, *session) (map[string]string, error)

// events is the live-update stream of a page (?page=trunks, calls with the
// recent calls' filter, or trunk&id=…): server-sent events carrying the
// page's live fragments, re-read from the store every Tick, each sent when
// it changed. Gateway events and the reconciler write the trunks' state to
// the store, and call control the calls', so the store is the one source
// the pages follow. The stream ends with a "signedout" event when the
// session expires or its key is revoked, and when the bridge stops
// (Deps.Stop; the browser reconnects).
func (c *Console) events(w http.ResponseWriter, r *http.Request, s *session) {
	page := r.URL.Query().Get("page")
	build := map[string]liveParts{"trunks": c.trunksLive, "calls": c.callsLive, "trunk": c.trunkLive}[page]
	if build == nil {
		http.Error(w, "page must be trunks, calls or trunk", http.StatusBadRequest)
		return
	}
	if page == "trunk" { // another organization's trunk, or none: 404
		if _, err := c.d.Store.GetTrunk(r.Context(), s.orgID, r.URL.Query().Get("id")); err != nil {
			c.fail(w, r, err)
			return
		}
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	fl.Flush()
	tick := time.NewTicker(c.d.Tick)
	defer tick.Stop()
	rc := http.NewResponseController(w)
	last := map[string]string{}
	for {
		// The server's WriteTimeout would cut the stream: each write gets its own.
		_ = rc.SetWriteDeadline(time.Now().Add(c.d.Tick + 30*time.Second))
		if !c.stillSignedIn(r, s) {
			fmt.Fprint(w, "event: signedout\ndata: signed out\n\n")
			fl.Flush()
			return
		}
		parts, err := build(r, s)
		if errors.Is(err, db.ErrNotFound) {
			return // the trunk was deleted
		}
		if err != nil {
			c.log.Warn("console live update failed", "page", page, "err", err.Error())
		}
		sent := false
		for name, frag := range parts {
			if frag != last[name] {
				last[name] = frag
				writeEvent(w, name, frag)
				sent = true
			}
		}
		if sent {
			fl.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-c.d.Stop:
			return
		case <-tick.C:
		}
	}
}

// writeEvent writes one event, each line of data on a data: line.
func writeEvent(w http.ResponseWriter, name, data string) {
	var b strings.Builder
	b.WriteString("event: " + name + "\n")
	for _, line := range strings.Split(data, "\n") {
		b.WriteString("data: " + strings.TrimRight(line, "\r") + "\n")
	}
	b.WriteString("\n")
	_, _ = w.Write([]byte(b.String()))
}

func (c *Console) stillSignedIn(r *http.Request, s *session) bool {
	if _, ok := c.ss.get(s.id, false); !ok {
		return false
	}
	active, err := keyActive(r.Context(), c.d.Store, s.orgID, s.keyID)
	return err != nil || active // a database hiccup is not a sign-out
}

func (c *Console) trunksLive(r *http.Request, s *session) (map[string]string, error) {
	d, err := c.trunkRows(r, s)
	if err != nil {
		return nil, err
	}
	return c.fragments("trunks", pageView(s, "", "", d), "live")
}

// callsLive is the live calls and the recent calls under the filter the
// stream was opened with (the page's).
func (c *Console) callsLive(r *http.Request, s *session) (map[string]string, error) {
	d, err := c.callsData(r, s)
	if err != nil {
		return nil, err
	}
	return c.fragments("calls", pageView(s, "", "", d), "live", "recent")
}

// trunkLive is a trunk's state on its own page (the form is left alone).
func (c *Console) trunkLive(r *http.Request, s *session) (map[string]string, error) {
	t, err := c.d.Store.GetTrunk(r.Context(), s.orgID, r.URL.Query().Get("id"))
	if err != nil {
		return nil, err
	}
	return c.fragments("trunk", pageView(s, "", "", trunkPageData{Form: formOf(t), Row: rowOf(t)}), "status")
}
