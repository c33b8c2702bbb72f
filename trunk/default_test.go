package trunk_test

import (
	"context"
	"errors"
	"testing"

	"gorm.io/gorm"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/trunk"
)

// TestEnvironmentTrunkFollowsTheEnvironment: an organization's copy of the
// environment-level trunk takes SIP_GATEWAY/SIP_USERNAME/SIP_PASSWORD as
// they are at start-up (ApplyEnvironment), is disabled when SIP_GATEWAY is
// gone, and is left alone once the organization made it its own.
func TestEnvironmentTrunkFollowsTheEnvironment(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		store := db.NewStore(g, dbtest.Keyring(t), nil)
		a, _, _ := store.EnsureOrg(ctx, "a")
		b, _, _ := store.EnsureOrg(ctx, "b")
		if _, err := trunk.New(store, nil).DefaultFor(ctx, a.ID); !errors.Is(err, trunk.ErrNoTrunk) {
			t.Fatalf("no trunk and no SIP_GATEWAY: %v, want ErrNoTrunk", err)
		}
		v1 := trunk.New(store, nil).WithEnvironment(trunk.Env{Gateway: "sip.one.example", Username: "u1", Password: "p1"})
		ta, err := v1.DefaultFor(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if again, err := v1.DefaultFor(ctx, a.ID); err != nil || again.ID != ta.ID {
			t.Fatalf("a second number made a second trunk: %v %v", again, err)
		}
		tb, _ := v1.DefaultFor(ctx, b.ID)
		if ta.Source != db.TrunkSourceEnvironment || ta.OrgID != a.ID || tb.OrgID != b.ID || ta.ID == tb.ID || ta.GatewayName == tb.GatewayName || !ta.Register {
			t.Fatalf("copies: %+v / %+v", ta, tb)
		}
		// B makes its own: its copy is no longer the environment's.
		gw := "pbx.b.example"
		if _, err := v1.SetOrgTrunk(ctx, b.ID, trunk.OrgSettings{Gateway: &gw}); err != nil {
			t.Fatal(err)
		}

		v2 := trunk.New(store, nil).WithEnvironment(trunk.Env{Gateway: "sip.two.example:5070", Username: "u2", Password: "p2"})
		if n, err := v2.ApplyEnvironment(ctx); err != nil || n != 1 {
			t.Fatalf("ApplyEnvironment changed %d (%v), want A's copy only", n, err)
		}
		got, _ := store.GetTrunk(ctx, a.ID, ta.ID)
		if pw, _ := store.TrunkPassword(got); got.Gateway != "sip.two.example:5070" || got.Username != "u2" || pw != "p2" || !got.Enabled {
			t.Fatalf("A's copy after the environment changed: %+v (password %q)", got, pw)
		}
		if own, _ := store.GetTrunk(ctx, b.ID, tb.ID); own.Gateway != "pbx.b.example" || own.Source != db.TrunkSourceOrganization || own.Username != "" {
			t.Fatalf("B's own trunk: %+v", own)
		}
		if n, _ := v2.ApplyEnvironment(ctx); n != 0 {
			t.Fatalf("ApplyEnvironment twice changed %d trunks", n)
		}
		if n, _ := trunk.New(store, nil).ApplyEnvironment(ctx); n != 1 {
			t.Fatalf("SIP_GATEWAY gone: changed %d, want A's copy disabled", n)
		}
		if got, _ := store.GetTrunk(ctx, a.ID, ta.ID); got.Enabled {
			t.Fatal("A's copy still enabled with no SIP_GATEWAY")
		}
	})
}
