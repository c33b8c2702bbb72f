package adopt

import (
	"context"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/db"
)

type resumeStore struct{ events []db.CallEvent }

func (resumeStore) GetAssistant(_ context.Context, _ int64, id string) (*db.Assistant, error) {
	return &db.Assistant{ID: id}, nil
}

func (r resumeStore) CallEvents(context.Context, int64, string) ([]db.CallEvent, error) {
	return r.events, nil
}

func (resumeStore) GetTrunk(_ context.Context, _ int64, id string) (*db.SIPTrunk, error) {
	return &db.SIPTrunk{ID: id}, nil
}

func (resumeStore) GetNumber(_ context.Context, _ int64, id string) (*db.PhoneNumber, error) {
	return &db.PhoneNumber{ID: id}, nil
}

// An adopted call resumes from its record: the start says resumed and
// names the callee, the last sign of life is its last timeline entry, and
// an inbound call keeps its trunk and number for a transfer.
func TestResume(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 13, 0, 0, 0, time.UTC)
	asst, trunk, number := "a1", "t1", "n1"
	rec := db.Call{ID: "c1", OrgID: 7, AssistantID: &asst, AnsweredAt: &t0, UpdatedAt: t0, Direction: db.DirectionInbound,
		FromNumber: "+14165550100", ResolvedDID: "+16475550100", ToNumber: "+16475550199", TrunkID: &trunk, PhoneNumberID: &number}
	r, err := Resume(context.Background(), resumeStore{events: []db.CallEvent{{At: t0.Add(time.Minute)}}}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if r.Assistant.ID != "a1" || !r.LostAt.Equal(t0.Add(time.Minute)) || r.Info.To != "+16475550100" || r.Info.Extra[assistant.ParamResumed] != "true" {
		t.Fatalf("inbound: %+v", r)
	}
	if r.Route == nil || r.Route.Trunk.ID != "t1" || r.Route.Number.ID != "n1" {
		t.Fatalf("inbound route: %+v", r.Route)
	}
	rec.Direction = db.DirectionOutbound
	if r, err = Resume(context.Background(), resumeStore{}, rec); err != nil || r.Info.To != "+16475550199" || r.Route != nil || !r.LostAt.Equal(t0) {
		t.Fatalf("outbound: %+v %v", r, err)
	}
	rec.AnsweredAt = nil
	if _, err := Resume(context.Background(), resumeStore{}, rec); err == nil {
		t.Fatal("a record with no answer resumed")
	}
}
