package console

import (
	"context"
	"net/http"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/trunk"
)

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
	ts, _, err := c.d.Store.ListTrunks(ctx, orgID, db.Page{Limit: 500})
	if err != nil {
		return err
	}
	diag, err := trunk.Diagnose(ctx, c.d.Switch, d.Profile, ts)
	if err != nil {
		return err
	}
	// Others are other organizations' gateways (or not sipbridge's): not shown.
	d.Status, d.AudioMod, d.Loaded, d.Drifts = diag.Status, diag.AudioStream, diag.Loaded, trunk.Drifts(diag.Trunks)
	for _, r := range diag.Trunks {
		row := gatewayRow{Gateway: r.Name, Trunk: r.Trunk.Name, Enabled: r.Trunk.Enabled, FSState: r.Live.State, FSStatus: r.Live.Status,
			Sync: "-", Drift: r.Drift}
		if r.Trunk.Status != nil {
			row.Sync = r.Trunk.Status.SyncState
		}
		d.Gateways = append(d.Gateways, row)
	}
	return nil
}
