package console

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// events is the live-update stream of a page (?page=trunks or calls):
// server-sent events carrying the page's live fragment, re-read from the
// store every Tick and sent when it changed. Gateway events and the
// reconciler write the trunks' state to the store, and call control the
// calls', so the store is the one source both pages follow. The stream
// ends with a "signedout" event when the session expires or its key is
// revoked, and when the bridge stops (Deps.Stop; the browser reconnects).
func (c *Console) events(w http.ResponseWriter, r *http.Request, s *session) {
	page := r.URL.Query().Get("page")
	build := map[string]func(*http.Request, *session) (string, error){"trunks": c.trunksLive, "calls": c.callsLive}[page]
	if build == nil {
		http.Error(w, "page must be trunks or calls", http.StatusBadRequest)
		return
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
	last := ""
	for {
		// The server's WriteTimeout would cut the stream: each write gets its own.
		_ = rc.SetWriteDeadline(time.Now().Add(c.d.Tick + 30*time.Second))
		if !c.stillSignedIn(r, s) {
			fmt.Fprint(w, "event: signedout\ndata: signed out\n\n")
			fl.Flush()
			return
		}
		frag, err := build(r, s)
		if err != nil {
			c.log.Warn("console live update failed", "page", page, "err", err.Error())
		} else if frag != last {
			last = frag
			writeEvent(w, page, frag)
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

func (c *Console) trunksLive(r *http.Request, s *session) (string, error) {
	d, err := c.trunkRows(r, s)
	if err != nil {
		return "", err
	}
	return c.fragment("trunks", "live", pageView(s, "", "", d))
}

func (c *Console) callsLive(r *http.Request, s *session) (string, error) {
	live, err := c.liveCalls(r, s)
	if err != nil {
		return "", err
	}
	return c.fragment("calls", "live", pageView(s, "", "", callsData{Live: live}))
}
