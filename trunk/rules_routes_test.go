package trunk_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/field"
	"github.com/sipbridge/sipbridge/trunk"
	"gorm.io/gorm"
)

// wantRefusal fails unless err is a trunk rule's refusal of name with msg.
func wantRefusal(t *testing.T, what string, err error, name, msg string) {
	t.Helper()
	var fe *field.Error
	if !errors.As(err, &fe) || fe.Field != name || fe.Message != msg {
		t.Fatalf("%s: got %v, want %s: %s", what, err, name, msg)
	}
}

// TestBYOCTrunkRules: a BYOC number's trunk goes through the trunk rules,
// its refusals naming the BYOC route's fields, with nothing written; good
// values are stored as sent, the ACL left to the termination host.
func TestBYOCTrunkRules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		store := db.NewStore(g, dbtest.Keyring(t), nil)
		org, _, _ := store.EnsureOrg(ctx, "a")
		svc := trunk.New(store, nil)
		uri, user, pw := "sip:pbx.example.com:5080;transport=tcp", "u1", "p1"

		bad := "a b"
		_, err := svc.CreateBYOC(ctx, org.ID, "+15551230001", trunk.BYOCSettings{TerminationURI: &uri, Username: &bad})
		wantRefusal(t, "username with a space", err, "sipUsername", "sipUsername must not contain spaces")
		badHost := "sip:bad_host.example"
		_, err = svc.CreateBYOC(ctx, org.ID, "+15551230001", trunk.BYOCSettings{TerminationURI: &badHost})
		wantRefusal(t, "host with an underscore", err, "terminationUri", `terminationUri has an invalid host name "bad_host.example"`)
		if trunks, _, _ := store.ListTrunks(ctx, org.ID, db.Page{Limit: 10}); len(trunks) != 0 {
			t.Fatalf("refused BYOC trunks stored: %+v", trunks)
		}

		tr, err := svc.CreateBYOC(ctx, org.ID, "+15551230001", trunk.BYOCSettings{TerminationURI: &uri, Username: &user, Password: &pw})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := store.GetTrunk(ctx, org.ID, tr.ID)
		if p, _ := store.TrunkPassword(got); got.Gateway != "pbx.example.com:5080" || got.Transport != "tcp" || got.Username != "u1" ||
			p != "p1" || got.Register || got.Provider != "byoc" || len(got.AllowedAddresses) != 0 {
			t.Fatalf("stored BYOC trunk: %+v (password %q)", got, p)
		}

		badPw := "x y"
		wantRefusal(t, "password with a space", svc.UpdateBYOC(ctx, got, trunk.BYOCSettings{Password: &badPw}),
			"sipPassword", "sipPassword must not contain spaces")
		after, _ := store.GetTrunk(ctx, org.ID, tr.ID)
		if p, _ := store.TrunkPassword(after); p != "p1" || after.Username != "u1" {
			t.Fatalf("a refused update changed the trunk: %+v (password %q)", after, p)
		}
	})
}

// TestOrgTrunkRules: the organization's default trunk goes through the
// trunk rules, refusals naming PUT /organizations/{id}'s fields, with
// nothing written; good values are stored as sent.
func TestOrgTrunkRules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		store := db.NewStore(g, dbtest.Keyring(t), nil)
		org, _, _ := store.EnsureOrg(ctx, "a")
		svc := trunk.New(store, nil)
		s := func(v string) *string { return &v }

		refusals := []struct {
			name  string
			in    trunk.OrgSettings
			field string
			msg   string
		}{
			{"gateway", trunk.OrgSettings{Gateway: s("sip example")}, "sip_gateway", `sip_gateway has an invalid host name "sip example"`},
			{"domain", trunk.OrgSettings{Gateway: s("pbx.example.com"), Domain: s("a b")}, "sip_trunk_config.sip_domain", `sip_trunk_config.sip_domain has an invalid host name "a b"`},
			{"registration without password", trunk.OrgSettings{Gateway: s("pbx.example.com"), Username: s("u")}, "sip_password",
				"a registration trunk (register=true) needs a username and a password"},
			{"credentials without username", trunk.OrgSettings{Gateway: s("pbx.example.com"), Register: boolp(true)}, "sip_username",
				"a registration trunk (register=true) needs a username and a password"},
		}
		for _, c := range refusals {
			wantRefusal(t, c.name+" (check)", svc.CheckOrgTrunk(ctx, org.ID, c.in), c.field, c.msg)
			_, err := svc.SetOrgTrunk(ctx, org.ID, c.in)
			wantRefusal(t, c.name, err, c.field, c.msg)
		}
		if _, err := store.DefaultTrunk(ctx, org.ID); !errors.Is(err, db.ErrNotFound) {
			t.Fatalf("a refused organization trunk was stored: %v", err)
		}

		// IP auth: no allowed_addresses needed, the gateway's address is the ACL.
		tr, err := svc.SetOrgTrunk(ctx, org.ID, trunk.OrgSettings{Gateway: s(" pbx.example.com:5080 "), Domain: s("example.com")})
		if err != nil {
			t.Fatal(err)
		}
		if tr.Gateway != "pbx.example.com:5080" || tr.Realm != "example.com" || tr.Register || tr.Source != db.TrunkSourceOrganization {
			t.Fatalf("stored organization trunk: %+v", tr)
		}
		tr, err = svc.SetOrgTrunk(ctx, org.ID, trunk.OrgSettings{Username: s("u1"), Password: s("p1"), Register: boolp(true)})
		if err != nil {
			t.Fatal(err)
		}
		if p, _ := store.TrunkPassword(tr); tr.Username != "u1" || p != "p1" || !tr.Register || tr.Gateway != "pbx.example.com:5080" {
			t.Fatalf("organization trunk with credentials: %+v (password %q)", tr, p)
		}
		_, err = svc.SetOrgTrunk(ctx, org.ID, trunk.OrgSettings{Username: s("a b")})
		wantRefusal(t, "username with a space", err, "sip_username", "sip_username must not contain spaces")
		if after, _ := store.GetTrunk(ctx, org.ID, tr.ID); after.Username != "u1" {
			t.Fatalf("a refused change was stored: %+v", after)
		}
	})
}

// TestEnvironmentTrunkRules: the environment-level trunk goes through the
// trunk rules too, a refusal naming the variable; nothing is made.
func TestEnvironmentTrunkRules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		store := db.NewStore(g, dbtest.Keyring(t), nil)
		org, _, _ := store.EnsureOrg(ctx, "a")
		_, err := trunk.New(store, nil).WithEnvironment(trunk.Env{Gateway: "sip example"}).DefaultFor(ctx, org.ID)
		wantRefusal(t, "SIP_GATEWAY", err, "SIP_GATEWAY", `SIP_GATEWAY has an invalid host name "sip example"`)
		_, err = trunk.New(store, nil).WithEnvironment(trunk.Env{Gateway: "sip.example.com", Username: "u"}).DefaultFor(ctx, org.ID)
		wantRefusal(t, "SIP_USERNAME without SIP_PASSWORD", err, "SIP_PASSWORD", "a registration trunk (register=true) needs a username and a password")
		if trunks, _, _ := store.ListTrunks(ctx, org.ID, db.Page{Limit: 10}); len(trunks) != 0 {
			t.Fatalf("refused environment trunks stored: %+v", trunks)
		}
	})
}
