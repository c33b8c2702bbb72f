package console

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/trunk"
)

type numbersData struct {
	Numbers    []db.PhoneNumber
	Assistants map[string]string // id → name
	Trunks     map[string]string
}

func (c *Console) numbersPage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	nums, _, err := c.d.Store.ListNumbers(ctx, s.orgID, db.NumberFilter{}, db.Page{Limit: 500})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := numbersData{Numbers: nums, Assistants: map[string]string{}, Trunks: map[string]string{}}
	as, _, err := c.d.Store.ListAssistants(ctx, s.orgID, db.Page{Limit: 500})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, a := range as {
		d.Assistants[a.ID] = a.Name
	}
	ts, _, err := c.d.Store.ListTrunks(ctx, s.orgID, db.Page{Limit: 500})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, t := range ts {
		d.Trunks[t.ID] = t.Name
	}
	c.render(w, http.StatusOK, "numbers", "", pageView(s, "Phone numbers", "numbers", d))
}

type assistantRow struct {
	ID, Name, StreamURL string
	Provider, Level     string // resolved_provider: "" when none is configured
	Recording           bool
	UpdatedAt           time.Time
}

func (c *Console) assistantsPage(w http.ResponseWriter, r *http.Request, s *session) {
	as, _, err := c.d.Store.ListAssistants(r.Context(), s.orgID, db.Page{Limit: 500})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	rows := make([]assistantRow, 0, len(as))
	for i := range as {
		a := &as[i]
		row := assistantRow{ID: a.ID, Name: a.Name, StreamURL: a.StreamURL, Recording: a.RecordingEnabled, UpdatedAt: a.UpdatedAt}
		if c.d.Creds != nil {
			name, level, ok, err := c.d.Creds.Voice(r.Context(), a)
			if err != nil {
				c.fail(w, r, err)
				return
			}
			if ok {
				row.Provider, row.Level = name, level
			}
		}
		rows = append(rows, row)
	}
	c.render(w, http.StatusOK, "assistants", "", pageView(s, "Assistants", "assistants", rows))
}

type messagesData struct {
	Conversations []db.ConversationRow
	Open          string
	Messages      []db.SMSMessage
}

func (c *Console) messagesPage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	convs, _, err := c.d.Store.ListConversations(ctx, s.orgID, db.Page{Limit: 100})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := messagesData{Conversations: convs, Open: r.URL.Query().Get("conversation")}
	if d.Open != "" {
		// Another organization's conversation lists nothing: the query is scoped.
		d.Messages, _, err = c.d.Store.ConversationMessages(ctx, s.orgID, d.Open, db.Page{Limit: 200})
		if err != nil {
			c.fail(w, r, err)
			return
		}
	}
	c.render(w, http.StatusOK, "messages", "", pageView(s, "Messages", "messages", d))
}

// gatewayRow is one of the organization's gateways on the Switch page.
type gatewayRow struct {
	Gateway, Trunk, FSState, FSStatus, Sync, Drift string
	Enabled                                        bool
}

type switchData struct {
	Configured bool
	Error      string
	Status     string
	AudioMod   string
	Profile    string
	Gateways   []gatewayRow
	Loaded     int
	Drifts     int
}

// switchPage is what `sipbridge diag` prints, for the organization's own
// gateways only (other organizations' and foreign gateways are not shown).
func (c *Console) switchPage(w http.ResponseWriter, r *http.Request, s *session) {
	d := switchData{Configured: c.d.Switch != nil, Profile: c.d.Profile}
	if d.Configured {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := c.diag(ctx, s.orgID, &d); err != nil {
			d.Error = "FreeSWITCH did not answer: " + err.Error()
		}
	}
	c.render(w, http.StatusOK, "switch", "", pageView(s, "Switch", "switch", d))
}

func (c *Console) diag(ctx context.Context, orgID int64, d *switchData) error {
	status, err := c.d.Switch.API(ctx, "status")
	if err != nil {
		return err
	}
	d.Status = firstLines(status, 2)
	mod, _ := c.d.Switch.API(ctx, "module_exists mod_audio_stream")
	d.AudioMod = strings.TrimSpace(mod)
	reply, err := c.d.Switch.API(ctx, "sofia xmlstatus gateway")
	if err != nil {
		return err
	}
	live, err := trunk.ParseXMLStatus(reply)
	if err != nil {
		return err
	}
	inFS := map[string]trunk.GatewayStatus{}
	for _, g := range live {
		if g.Profile == "" || g.Profile == d.Profile {
			inFS[g.Name] = g
		}
	}
	ts, _, err := c.d.Store.ListTrunks(ctx, orgID, db.Page{Limit: 500})
	if err != nil {
		return err
	}
	for _, t := range ts {
		g, ok := inFS[t.GatewayName]
		row := gatewayRow{Gateway: t.GatewayName, Trunk: t.Name, Enabled: t.Enabled, FSState: g.State, FSStatus: g.Status, Sync: "-"}
		switch {
		case t.Enabled && !ok:
			row.Drift = "missing in FreeSWITCH"
		case !t.Enabled && ok:
			row.Drift = "disabled but loaded"
		}
		if ok {
			d.Loaded++
		}
		if row.Drift != "" {
			d.Drifts++
		}
		if t.Status != nil {
			row.Sync = t.Status.SyncState
		}
		d.Gateways = append(d.Gateways, row)
	}
	return nil
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(strings.TrimSpace(s), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
