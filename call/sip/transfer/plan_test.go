package transfer

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
)

type fakeStore struct {
	org    db.Organization
	trunks []db.SIPTrunk
}

func (f *fakeStore) GetOrg(context.Context, int64) (*db.Organization, error) { return &f.org, nil }
func (f *fakeStore) EnabledTrunksOfOrg(context.Context, int64) ([]db.SIPTrunk, error) {
	return f.trunks, nil
}

func newCall(trunk *db.SIPTrunk, tracked *[]string) Call {
	st := &fakeStore{org: db.Organization{DefaultCountry: "CA"}, trunks: []db.SIPTrunk{
		{ID: "t1", Name: "One", GatewayName: "gw_one", Priority: 1, Enabled: true},
		{ID: "t2", Name: "Two", GatewayName: "gw_two", Priority: 2, Enabled: true},
	}}
	return Call{Ctx: context.Background(), Store: st, Policy: call.AddressPolicy(nil), ID: "call1", OrgID: 7,
		CallerID: "+14165550199", Trunk: trunk, OwnTrunkID: "t2",
		Track: func(id string, trunks []db.SIPTrunk) {
			for _, t := range trunks {
				*tracked = append(*tracked, id+":"+t.ID)
			}
		}}
}

// How a transfer reaches its target: a sip: URI by REFER (its number
// bridged when declined), a number by the trunk's REFER template when the
// trunk transfers by REFER, else bridged out through the organization's
// trunks (the number's own first); impossible ones refused before the
// assistant is let go.
func TestNew(t *testing.T) {
	referTrunk := &db.SIPTrunk{ID: "t1", TransferMode: "refer", ReferToTemplate: "sip:{e164}@10.0.0.9"}
	var tracked []string
	p, err := New(newCall(nil, &tracked), "sip:+14165550100@10.0.0.5", "")
	if err != nil || p.ReferURI != "sip:+14165550100@10.0.0.5" || p.BridgeTo != "+14165550100" || p.DialErr != nil {
		t.Fatalf("sip: URI: %+v, %v", p, err)
	}
	if !strings.Contains(p.Dial, "sofia/gateway/gw_two/14165550100|") || !strings.Contains(p.Dial, "sipbridge_dial="+p.DialID) ||
		!strings.Contains(p.Dial, "sipbridge_call_id=call1") {
		t.Fatalf("bridge dial string: %s", p.Dial)
	}
	if want := []string{p.DialID + ":t2", p.DialID + ":t1"}; strings.Join(tracked, " ") != strings.Join(want, " ") {
		t.Fatalf("tracked %v, want %v", tracked, want)
	}

	p, err = New(newCall(referTrunk, &tracked), "+14165550100", "")
	if err != nil || p.ReferURI != "sip:+14165550100@10.0.0.9" || p.BridgeTo != "+14165550100" {
		t.Fatalf("number on a REFER trunk: %+v, %v", p, err)
	}
	p, err = New(newCall(referTrunk, &tracked), "+14165550100", "bridge")
	if err != nil || p.ReferURI != "" || p.BridgeTo != "+14165550100" || p.Dial == "" {
		t.Fatalf("mode bridge: %+v, %v", p, err)
	}
	p, err = New(newCall(nil, &tracked), "sip:alice@10.0.0.5", "")
	if err != nil || p.ReferURI != "sip:alice@10.0.0.5" || p.BridgeTo != "" || p.Dial != "" {
		t.Fatalf("sip: URI without a number: %+v, %v", p, err)
	}

	for _, c := range []struct {
		to, mode string
		trunk    *db.SIPTrunk
		want     error
	}{
		{"sip:alice@10.0.0.5", "bridge", nil, call.ErrBadTransferMode},
		{"+14165550100", "refer", nil, call.ErrNoReferTemplate},
		{"sip:bob@127.0.0.1", "", nil, call.ErrTransferAddressRefused},
		{"+14165550100", "refer", &db.SIPTrunk{ReferToTemplate: "sip:{e164}@127.0.0.1"}, call.ErrTransferAddressRefused},
		{"+33142685300", "", nil, call.ErrCountryNotAllowed},
		{"sip:+33142685300@10.0.0.5", "", nil, call.ErrCountryNotAllowed},
	} {
		if p, err := New(newCall(c.trunk, &tracked), c.to, c.mode); !errors.Is(err, c.want) {
			t.Errorf("%s mode %q: %+v, %v, want %v", c.to, c.mode, p, err, c.want)
		}
	}
}

// A REFER target whose number cannot be bridged (no trunk) is still
// planned: the REFER is tried, and the reason the fallback cannot be is
// kept for the failure's reason; a bridge alone is refused.
func TestNewNoTrunk(t *testing.T) {
	var tracked []string
	c := newCall(nil, &tracked)
	c.Store.(*fakeStore).trunks = nil
	p, err := New(c, "sip:+14165550100@10.0.0.5", "")
	if err != nil || !errors.Is(p.DialErr, call.ErrNoEnabledTrunk) || p.Dial != "" {
		t.Fatalf("REFER with no trunk to fall back on: %+v, %v", p, err)
	}
	if _, err := New(c, "+14165550100", ""); !errors.Is(err, call.ErrNoEnabledTrunk) {
		t.Fatalf("bridge with no trunk: %v", err)
	}
	if len(tracked) != 0 {
		t.Fatalf("tracked a dial that was never planned: %v", tracked)
	}
}
