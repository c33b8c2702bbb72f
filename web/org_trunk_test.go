package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/trunk"
)

// burkiOrgSIP is Burki's organization-level SIP configuration, as documented.
func burkiOrgSIP() map[string]any {
	return map[string]any{
		"sip_gateway": "sip.zadarma.com", "sip_username": "15551234567", "sip_password": "your_sip_password",
		"sip_trunk_config": map[string]any{
			"sip_domain": "zadarma.com", "inbound_enabled": true, "outbound_leading_plus_enabled": true,
			"auth_plan": map[string]any{"type": "credentials", "username": "15551234567", "password": "your_sip_password"},
		},
	}
}

func (e *env) orgPath(org int64) string { return fmt.Sprintf("/api/v1/organizations/%d", org) }

// TestOrganizationSIPTrunk: the organization-level SIP settings are the
// organization's default trunk, one row seen and edited through both
// /organizations/{id} and /sip-trunks; the next documented step (a
// byo-sip-trunk number) lands on it.
func TestOrganizationSIPTrunk(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		asst := e.mustDo("POST", "/api/v1/assistants", e.keyA, map[string]any{"name": "Front"}, 201).Body["id"].(string)
		byo := map[string]any{"phone_number": "+15551234567", "provider": "byo-sip-trunk", "friendly_name": "My SIP Number", "assistant_id": asst}
		if r := e.do("POST", "/api/v1/phone-numbers/purchase", e.keyA, byo); r.Status != 400 || !strings.Contains(r.Raw, "no SIP trunk") {
			t.Fatalf("byo number with no trunk: %d %s", r.Status, r.Raw)
		}
		// Only the caller's own organization answers at /organizations/{id}.
		for _, p := range []string{e.orgPath(e.orgB), "/api/v1/organizations/abc", "/api/v1/organizations/0"} {
			e.mustDo("GET", p, e.keyA, nil, 404)
			e.mustDo("PUT", p, e.keyA, burkiOrgSIP(), 404)
		}
		if n := len(e.listOf("/api/v1/sip-trunks", e.keyB)); n != 0 {
			t.Fatalf("org B got %d trunks from org A's request for its id", n)
		}
		e.mustDo("PUT", e.orgPath(e.orgA), "", burkiOrgSIP(), 401)

		r := e.mustDo("PUT", e.orgPath(e.orgA), e.keyA, burkiOrgSIP(), 200)
		cfg := r.Body["sip_trunk_config"].(map[string]any)
		plan := cfg["auth_plan"].(map[string]any)
		if r.Body["sip_gateway"] != "sip.zadarma.com" || r.Body["sip_username"] != "15551234567" || r.Body["sip_password_set"] != true ||
			cfg["sip_domain"] != "zadarma.com" || cfg["inbound_enabled"] != true || cfg["outbound_leading_plus_enabled"] != true ||
			plan["type"] != "credentials" || plan["username"] != "15551234567" || plan["password_set"] != true ||
			r.Body["sip_trunk_source"] != "organization" || r.Body["sip_trunk_id"] == nil {
			t.Fatalf("PUT organization: %s", r.Raw)
		}
		if g := e.mustDo("GET", e.orgPath(e.orgA), e.keyA, nil, 200); g.Body["sip_trunk_id"] != r.Body["sip_trunk_id"] || g.Body["sip_gateway"] != "sip.zadarma.com" {
			t.Fatalf("GET organization: %s", g.Raw)
		}
		trunks := e.listOf("/api/v1/sip-trunks", e.keyA)
		if len(trunks) != 1 {
			t.Fatalf("trunks: %v", trunks)
		}
		tr := trunks[0]
		if tr["id"] != r.Body["sip_trunk_id"] || tr["source"] != "organization" || tr["gateway"] != "sip.zadarma.com" || tr["username"] != "15551234567" ||
			tr["register"] != true || tr["realm"] != "zadarma.com" || tr["inbound_enabled"] != true || tr["password_set"] != true || tr["enabled"] != true {
			t.Fatalf("the organization's trunk: %v", tr)
		}
		// The same PUT again changes nothing: still one trunk.
		e.mustDo("PUT", e.orgPath(e.orgA), e.keyA, burkiOrgSIP(), 200)
		if n := len(e.listOf("/api/v1/sip-trunks", e.keyA)); n != 1 {
			t.Fatalf("%d trunks after a second PUT", n)
		}

		// The next documented step: the number goes on the organization's trunk.
		num := e.mustDo("POST", "/api/v1/phone-numbers/purchase", e.keyA, byo, 200)
		if num.Body["success"] != true || num.Body["purchase_details"].(map[string]any)["sip_trunk_id"] != tr["id"] {
			t.Fatalf("byo number: %s", num.Raw)
		}
		if nums := e.listOf("/api/v1/phone-numbers", e.keyA); len(nums) != 1 || nums[0]["sip_trunk_id"] != tr["id"] {
			t.Fatalf("number record: %v", nums)
		}

		// Edited through /sip-trunks: /organizations shows it.
		id := tr["id"].(string)
		e.mustDo("PUT", "/api/v1/sip-trunks/"+id, e.keyA, map[string]any{"username": "15550000000", "inbound_enabled": false}, 200)
		g := e.mustDo("GET", e.orgPath(e.orgA), e.keyA, nil, 200)
		cfg = g.Body["sip_trunk_config"].(map[string]any)
		if g.Body["sip_username"] != "15550000000" || cfg["inbound_enabled"] != false || cfg["auth_plan"].(map[string]any)["username"] != "15550000000" {
			t.Fatalf("organization after a trunk edit: %s", g.Raw)
		}
		// Edited through /organizations: /sip-trunks shows it.
		e.mustDo("PUT", e.orgPath(e.orgA), e.keyA, map[string]any{"sip_trunk_config": map[string]any{"inbound_enabled": true, "auth_plan": map[string]any{"type": "ip"}}}, 200)
		got := e.mustDo("GET", "/api/v1/sip-trunks/"+id, e.keyA, nil, 200)
		if got.Body["register"] != false || got.Body["inbound_enabled"] != true || got.Body["gateway"] != "sip.zadarma.com" || got.Body["username"] != "15550000000" {
			t.Fatalf("trunk after an organization edit: %s", got.Raw)
		}
		// The old singular route writes the same trunk.
		e.mustDo("PUT", "/api/v1/organization", e.keyA, map[string]any{"sip_gateway": "sip2.zadarma.com:5070"}, 200)
		if got := e.mustDo("GET", "/api/v1/sip-trunks/"+id, e.keyA, nil, 200); got.Body["gateway"] != "sip2.zadarma.com:5070" {
			t.Fatalf("trunk after PUT /organization: %s", got.Raw)
		}

		// Bad input names its field; nothing changes.
		for _, c := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"sip_gateway": "bad host!"}, "sip_gateway"},
			{map[string]any{"sip_gateway": "sip.zadarma.com\r\nX: y"}, "sip_gateway"},
			{map[string]any{"sip_gateway": "127.0.0.1"}, "sip_gateway"},
			{map[string]any{"sip_trunk_config": map[string]any{"auth_plan": map[string]any{"type": "token"}}}, "sip_trunk_config.auth_plan.type"},
			{map[string]any{"sip_username": "a", "sip_trunk_config": map[string]any{"auth_plan": map[string]any{"username": "b"}}}, "sip_trunk_config.auth_plan.username"},
			{map[string]any{"sip_password": "a", "sip_trunk_config": map[string]any{"auth_plan": map[string]any{"password": "b"}}}, "sip_trunk_config.auth_plan.password"},
			{map[string]any{"sip_trunk_config": map[string]any{"sip_domain": "zadarma.com/x"}}, "sip_trunk_config.sip_domain"},
			{map[string]any{"sip_trunk_config": map[string]any{"inbound_enabled": "yes"}}, "sip_trunk_config.inbound_enabled"},
		} {
			if got := e.do("PUT", e.orgPath(e.orgA), e.keyA, c.body); got.Status != 400 || got.errField() != c.field {
				t.Errorf("%v: %d %s", c.body, got.Status, got.Raw)
			}
		}
		if got := e.mustDo("GET", "/api/v1/sip-trunks/"+id, e.keyA, nil, 200); got.Body["gateway"] != "sip2.zadarma.com:5070" || got.Body["register"] != false {
			t.Fatalf("a refused PUT changed the trunk: %s", got.Raw)
		}
		// An organization without a trunk must name its gateway first.
		if got := e.do("PUT", e.orgPath(e.orgB), e.keyB, map[string]any{"sip_username": "x"}); got.Status != 400 || got.errField() != "sip_gateway" {
			t.Fatalf("no gateway: %d %s", got.Status, got.Raw)
		}
		// sip_gateway "" removes the trunk; its number stays, on no trunk.
		e.mustDo("PUT", e.orgPath(e.orgA), e.keyA, map[string]any{"sip_gateway": ""}, 200)
		if n := len(e.listOf("/api/v1/sip-trunks", e.keyA)); n != 0 {
			t.Fatalf("%d trunks after sip_gateway \"\"", n)
		}
		if g := e.mustDo("GET", e.orgPath(e.orgA), e.keyA, nil, 200); g.Body["sip_trunk_id"] != nil || g.Body["sip_gateway"] != "" {
			t.Fatalf("organization without its trunk: %s", g.Raw)
		}
		if nums := e.listOf("/api/v1/phone-numbers", e.keyA); len(nums) != 1 || nums[0]["sip_trunk_id"] != nil {
			t.Fatalf("number after its trunk went: %v", nums)
		}
		if strings.Contains(e.bodies.String(), "your_sip_password") || strings.Contains(e.logs.String(), "your_sip_password") {
			t.Fatal("the SIP password was returned or logged")
		}
	})
}

// TestOrganizationSIPSettingsStoredBefore: settings stored before they made
// a trunk become the trunk on the organization's next SIP change.
func TestOrganizationSIPSettingsStoredBefore(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		o, err := e.store.GetOrg(ctx, e.orgA)
		if err != nil {
			t.Fatal(err)
		}
		o.Settings.SIPGateway, o.Settings.SIPUsername = "sip.voip.ms", "100200"
		o.Settings.SIPTrunkConfig.SIPDomain, o.Settings.SIPTrunkConfig.AuthType = "voip.ms", "credentials"
		if err := e.store.UpdateOrg(ctx, o, db.OrgSecrets{SIPPassword: "stored-secret"}); err != nil {
			t.Fatal(err)
		}
		if g := e.mustDo("GET", e.orgPath(e.orgA), e.keyA, nil, 200); g.Body["sip_gateway"] != "sip.voip.ms" || g.Body["sip_trunk_id"] != nil {
			t.Fatalf("stored settings: %s", g.Raw)
		}
		e.mustDo("PUT", e.orgPath(e.orgA), e.keyA, map[string]any{"sip_trunk_config": map[string]any{"inbound_enabled": false}}, 200)
		trunks := e.listOf("/api/v1/sip-trunks", e.keyA)
		if len(trunks) != 1 || trunks[0]["gateway"] != "sip.voip.ms" || trunks[0]["username"] != "100200" || trunks[0]["realm"] != "voip.ms" ||
			trunks[0]["register"] != true || trunks[0]["inbound_enabled"] != false || trunks[0]["password_set"] != true {
			t.Fatalf("trunk from stored settings: %v", trunks)
		}
		tr, err := e.store.GetTrunk(ctx, e.orgA, trunks[0]["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		if pw, err := e.store.TrunkPassword(tr); err != nil || pw != "stored-secret" {
			t.Fatalf("password carried over: %q %v", pw, err)
		}
	})
}

// TestEnvironmentSIPTrunk: with SIP_GATEWAY set, an organization with no
// trunk registers a byo-sip-trunk number on its own copy of the
// environment's trunk; two organizations never share one.
func TestEnvironmentSIPTrunk(t *testing.T) {
	eachEnvWithTrunk(t, trunk.Env{Gateway: "sip.zadarma.com", Username: "15551234567", Password: "env-secret"}, func(t *testing.T, e *env) {
		e.mustDo("POST", "/api/v1/phone-numbers/purchase", e.keyA, map[string]any{"phone_number": "+15551234567", "provider": "byo-sip-trunk"}, 200)
		e.mustDo("POST", "/api/v1/phone-numbers/purchase", e.keyA, map[string]any{"phone_number": "+15551234568", "provider": "byo-sip-trunk"}, 200)
		e.mustDo("POST", "/api/v1/phone-numbers/purchase", e.keyB, map[string]any{"phone_number": "+15551234569", "provider": "byo-sip-trunk"}, 200)
		a, b := e.listOf("/api/v1/sip-trunks", e.keyA), e.listOf("/api/v1/sip-trunks", e.keyB)
		if len(a) != 1 || len(b) != 1 || a[0]["id"] == b[0]["id"] || a[0]["gateway_name"] == b[0]["gateway_name"] {
			t.Fatalf("environment trunks: A %v, B %v", a, b)
		}
		if a[0]["source"] != "environment" || a[0]["gateway"] != "sip.zadarma.com" || a[0]["register"] != true || a[0]["password_set"] != true {
			t.Fatalf("A's environment trunk: %v", a[0])
		}
		for _, n := range e.listOf("/api/v1/phone-numbers", e.keyA) {
			if n["sip_trunk_id"] != a[0]["id"] {
				t.Fatalf("A's number %v is not on A's trunk", n)
			}
		}
		if nums := e.listOf("/api/v1/phone-numbers", e.keyB); len(nums) != 1 || nums[0]["sip_trunk_id"] != b[0]["id"] {
			t.Fatalf("B's numbers: %v", nums)
		}
		id := a[0]["id"].(string)
		if got := e.do("PUT", "/api/v1/sip-trunks/"+id, e.keyA, map[string]any{"gateway": "elsewhere.example.com"}); got.Status != 409 || !strings.Contains(got.Raw, "organizations") {
			t.Fatalf("editing the environment's trunk: %d %s", got.Status, got.Raw)
		}
		e.mustDo("PUT", "/api/v1/sip-trunks/"+id, e.keyB, map[string]any{"gateway": "elsewhere.example.com"}, 404)
		if g := e.mustDo("GET", e.orgPath(e.orgA), e.keyA, nil, 200); g.Body["sip_trunk_source"] != "environment" || g.Body["sip_gateway"] != "" || g.Body["sip_username"] != "" {
			t.Fatalf("organization on the environment trunk: %s", g.Raw)
		}
		// The organization's own settings: must name the gateway, then the
		// trunk (and its numbers) becomes the organization's, without the
		// environment's credentials.
		if got := e.do("PUT", e.orgPath(e.orgA), e.keyA, map[string]any{"sip_password": "x"}); got.Status != 400 || got.errField() != "sip_gateway" {
			t.Fatalf("own settings without a gateway: %d %s", got.Status, got.Raw)
		}
		e.mustDo("PUT", e.orgPath(e.orgA), e.keyA, map[string]any{"sip_gateway": "pbx.example.com"}, 200)
		own := e.mustDo("GET", "/api/v1/sip-trunks/"+id, e.keyA, nil, 200)
		if own.Body["source"] != "organization" || own.Body["gateway"] != "pbx.example.com" || own.Body["username"] != "" || own.Body["password_set"] != false || own.Body["register"] != false {
			t.Fatalf("converted trunk: %s", own.Raw)
		}
		if got := e.listOf("/api/v1/sip-trunks", e.keyB); len(got) != 1 || got[0]["source"] != "environment" {
			t.Fatalf("B's trunk changed with A's: %v", got)
		}
		if strings.Contains(e.bodies.String(), "env-secret") || strings.Contains(e.logs.String(), "env-secret") {
			t.Fatal("the environment's SIP password was returned or logged")
		}
	})
}

// TestOrganizationSIPTrunkRules: PUT /organizations/{id} goes through the
// trunk rules, a refusal naming its own field and storing nothing of the
// request (the organization's name sent with it included).
func TestOrganizationSIPTrunkRules(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		before := e.mustDo("GET", e.orgPath(e.orgA), e.keyA, nil, 200)
		put := map[string]any{"name": "renamed-org", "sip_gateway": "pbx.example.com", "sip_username": "u1"}
		if r := e.do("PUT", e.orgPath(e.orgA), e.keyA, put); r.Status != 400 || r.errField() != "sip_password" {
			t.Fatalf("registration trunk without a password: %d %s", r.Status, r.Raw)
		}
		g := e.mustDo("GET", e.orgPath(e.orgA), e.keyA, nil, 200)
		if g.Body["name"] != before.Body["name"] || g.Body["sip_trunk_id"] != nil || len(e.listOf("/api/v1/sip-trunks", e.keyA)) != 0 {
			t.Fatalf("a refused PUT stored something: %s", g.Raw)
		}
		put["sip_password"] = "p1"
		r := e.mustDo("PUT", e.orgPath(e.orgA), e.keyA, put, 200)
		if r.Body["name"] != "renamed-org" || r.Body["sip_gateway"] != "pbx.example.com" || r.Body["sip_username"] != "u1" || r.Body["sip_password_set"] != true {
			t.Fatalf("valid PUT: %s", r.Raw)
		}
	})
}
