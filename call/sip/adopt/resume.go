package adopt

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/route"
)

// ResumeStore is what Resume reads of the database.
type ResumeStore interface {
	GetAssistant(ctx context.Context, orgID int64, id string) (*db.Assistant, error)
	CallEvents(ctx context.Context, orgID int64, callID string) ([]db.CallEvent, error)
	GetTrunk(ctx context.Context, orgID int64, id string) (*db.SIPTrunk, error)
	GetNumber(ctx context.Context, orgID int64, id string) (*db.PhoneNumber, error)
}

// Resumed is what the session of an adopted call starts from.
type Resumed struct {
	Assistant *db.Assistant
	// LostAt is the last sign of life of the call before the restart.
	LostAt time.Time
	// Info is the start of a resumed call: no welcome message (the
	// conversation goes on); the INVITE's X- headers and an outbound
	// call's variables were the previous process's alone.
	Info assistant.StartInfo
	// Route is what a transfer needs of an inbound call's route: its trunk
	// and number (nil for an outbound call).
	Route *route.Route
}

// Resume reads what an adopted call's session needs of its record rec:
// its assistant, its last sign of life, its start and its route.
func Resume(ctx context.Context, st ResumeStore, rec db.Call) (*Resumed, error) {
	if rec.AssistantID == nil || rec.AnsweredAt == nil {
		return nil, errors.New("the record names no assistant or no answer")
	}
	a, err := st.GetAssistant(ctx, rec.OrgID, *rec.AssistantID)
	if err != nil {
		return nil, fmt.Errorf("assistant record: %w", err)
	}
	r := &Resumed{Assistant: a, LostAt: rec.UpdatedAt}
	if evs, err := st.CallEvents(ctx, rec.OrgID, rec.ID); err == nil && len(evs) > 0 && evs[len(evs)-1].At.After(r.LostAt) {
		r.LostAt = evs[len(evs)-1].At
	}
	r.Info = assistant.StartInfo{From: rec.FromNumber, To: rec.ResolvedDID, AssistantID: a.ID, Direction: rec.Direction,
		Extra: map[string]string{assistant.ParamResumed: "true"}, AudioFormat: a.Config.AudioFormat}
	if rec.Direction == db.DirectionOutbound {
		r.Info.To = rec.ToNumber
		return r, nil
	}
	r.Route = &route.Route{}
	if rec.TrunkID != nil {
		r.Route.Trunk, _ = st.GetTrunk(ctx, rec.OrgID, *rec.TrunkID)
	}
	if rec.PhoneNumberID != nil {
		r.Route.Number, _ = st.GetNumber(ctx, rec.OrgID, *rec.PhoneNumberID)
	}
	return r, nil
}
