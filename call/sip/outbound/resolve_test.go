package outbound

import (
	"context"
	"errors"
	"testing"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/numbers"
)

type fakeSources struct {
	number  *db.PhoneNumber
	secrets map[string]bool
}

func (f fakeSources) ActiveNumber(_ context.Context, _ int64, e164 string) (*db.PhoneNumber, error) {
	if f.number == nil || f.number.PhoneNumber != e164 {
		return nil, db.ErrNotFound
	}
	return f.number, nil
}

func (fakeSources) GetAssistant(_ context.Context, _ int64, id string) (*db.Assistant, error) {
	if id == "gone" {
		return nil, db.ErrNotFound
	}
	return &db.Assistant{ID: id}, nil
}

func (fakeSources) GetOrg(_ context.Context, id int64) (*db.Organization, error) {
	return &db.Organization{ID: id}, nil
}

func (f fakeSources) SMSWebhookSecret(_ context.Context, id string) (string, error) {
	if !f.secrets[id] {
		return "", db.ErrNotFound
	}
	return "s", nil
}

func TestCheckNumbers(t *testing.T) {
	if err := CheckNumbers(call.InitiateRequest{To: "+14165550100", From: "+16475550100"}); err != nil {
		t.Fatal(err)
	}
	for _, req := range []call.InitiateRequest{{To: "4165550100", From: "+16475550100"}, {To: "+14165550100", From: "x"}} {
		if err := CheckNumbers(req); !errors.Is(err, call.ErrBadNumber) {
			t.Errorf("%+v: %v", req, err)
		}
	}
}

// The assistant asked for wins, else the number's outbound one, else its
// inbound one; a number with none, unknown, or hosted where hosted calls
// cannot be placed is refused.
func TestResolve(t *testing.T) {
	out, in := "out", "in"
	n := &db.PhoneNumber{PhoneNumber: "+16475550100", Provider: db.ProviderBYOSIP, OutboundAssistantID: &out, AssistantID: &in}
	src := fakeSources{number: n}
	s := Sources{Numbers: src, Store: src}
	req := call.InitiateRequest{OrgID: 3, From: "+16475550100", To: "+14165550100"}
	ctx := context.Background()
	for _, c := range []struct{ asked, want string }{{"asked", "asked"}, {"", "out"}} {
		req.AssistantID = c.asked
		r, err := Resolve(ctx, s, req, false)
		if err != nil || r.Assistant.ID != c.want || r.Org.ID != 3 || r.Number != n {
			t.Fatalf("asked %q: %+v %v", c.asked, r, err)
		}
	}
	req.AssistantID = ""
	n.OutboundAssistantID = nil
	if r, err := Resolve(ctx, s, req, false); err != nil || r.Assistant.ID != "in" {
		t.Fatalf("inbound assistant: %+v %v", r, err)
	}
	n.AssistantID = nil
	if _, err := Resolve(ctx, s, req, false); !errors.Is(err, call.ErrNoAssistant) {
		t.Fatalf("no assistant: %v", err)
	}
	req.AssistantID = "gone"
	if _, err := Resolve(ctx, s, req, false); !errors.Is(err, numbers.ErrAssistantNotFound) {
		t.Fatalf("assistant gone: %v", err)
	}
	req.AssistantID, n.Provider = "asked", db.ProviderTwilio
	if _, err := Resolve(ctx, s, req, false); !errors.Is(err, call.ErrNotSIPNumber) {
		t.Fatalf("hosted number without hosted calls: %v", err)
	}
	if _, err := Resolve(ctx, s, req, true); err != nil {
		t.Fatalf("hosted number: %v", err)
	}
	req.From = "+16475550199"
	if _, err := Resolve(ctx, s, req, true); !errors.Is(err, numbers.ErrNumberNotFound) {
		t.Fatalf("unknown number: %v", err)
	}
}

func TestCheckCallbackSecret(t *testing.T) {
	src := fakeSources{secrets: map[string]bool{"a": true}}
	ctx := context.Background()
	if err := CheckCallbackSecret(ctx, src, call.InitiateRequest{}, "b"); err != nil {
		t.Fatalf("no callback: %v", err)
	}
	cb := call.InitiateRequest{StatusCallback: "https://example.com/cb"}
	if err := CheckCallbackSecret(ctx, src, cb, "a"); err != nil {
		t.Fatalf("secret: %v", err)
	}
	if err := CheckCallbackSecret(ctx, src, cb, "b"); !errors.Is(err, call.ErrNoCallbackSecret) {
		t.Fatalf("no secret: %v", err)
	}
}
