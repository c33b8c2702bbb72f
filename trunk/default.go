package trunk

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sipbridge/sipbridge/db"
)

// An organization's default trunk is one ordinary trunk (one gateway, one
// ACL list, synced like any other) whose settings come from elsewhere than
// the SIP trunks API:
//
//   - source "organization": the organization-level SIP settings written
//     with PUT /api/v1/organizations/{id} (sip_gateway, sip_username,
//     sip_password, sip_trunk_config). The trunk row is where they live:
//     the organization's view reads them back from it, and editing the
//     trunk through /api/v1/sip-trunks changes what the organization shows.
//   - source "environment": SIP_GATEWAY, SIP_USERNAME, SIP_PASSWORD, for an
//     organization with no trunk at all. Each such organization gets its
//     own copy (its own gateway, ACL list and numbers): a trunk never
//     belongs to two organizations, so the inbound router's tenancy rules
//     apply unchanged and one organization's numbers never route to
//     another. The environment owns the settings: the copies follow it at
//     start-up and cannot be edited through the API.

// ErrNoTrunk: a byo-sip-trunk number needs a trunk and the organization has none.
var ErrNoTrunk = errors.New("the organization has no SIP trunk to put the number on")

// ErrGatewayRequired: the organization has no SIP trunk of its own yet, so
// its first organization-level SIP settings must name the gateway.
var ErrGatewayRequired = errors.New("sip_gateway is required: the organization has no SIP trunk of its own yet")

// Env is the environment-level SIP trunk (SIP_GATEWAY, SIP_USERNAME,
// SIP_PASSWORD); a zero Gateway means none.
type Env struct {
	Gateway  string
	Username string
	Password string
}

// WithEnvironment sets the environment-level SIP trunk; call before serving.
func (t *Service) WithEnvironment(env Env) *Service {
	t.env = env
	return t
}

// OrgSettings are the organization-level SIP settings sent; nil
// fields are left as they are.
type OrgSettings struct {
	Gateway  *string // host[:port]; "" removes the organization's trunk
	Username *string
	Password *string
	Domain   *string // the registrar's domain (the gateway's realm); "" = the gateway's host
	Register *bool   // auth_plan.type: credentials = true, ip = false; default: true with a username
	Inbound  *bool   // false refuses the trunk's inbound calls (480)
}

func (s OrgSettings) empty() bool {
	return s.Gateway == nil && s.Username == nil && s.Password == nil && s.Domain == nil && s.Register == nil && s.Inbound == nil
}

// orgRules are the trunk rules as PUT /api/v1/organizations/{id} names
// its fields; the trunk's ACL is its gateway's address.
var orgRules = Rules{ACLFromGateway: true, Fields: map[string]string{
	"gateway": "sip_gateway", "username": "sip_username", "password": "sip_password",
	"realm": "sip_trunk_config.sip_domain", "register": "sip_trunk_config.auth_plan.type"}}

// envRules are the trunk rules naming the environment's variables.
var envRules = Rules{ACLFromGateway: true, Fields: map[string]string{
	"gateway": "SIP_GATEWAY", "username": "SIP_USERNAME", "password": "SIP_PASSWORD"}}

// orgChange is what SetOrgTrunk is about to write.
type orgChange struct {
	cur    *db.SIPTrunk // the default trunk as it is (nil: none)
	tr     *db.SIPTrunk // the trunk to write; nil with remove: none
	create bool
	remove bool // Gateway "": the organization's own trunk goes
}

// CheckOrgTrunk refuses the organization-level SIP settings SetOrgTrunk
// would refuse (a *field.Error naming the route's field, or
// ErrGatewayRequired), writing nothing.
func (t *Service) CheckOrgTrunk(ctx context.Context, orgID int64, in OrgSettings) error {
	_, err := t.orgChange(ctx, orgID, in)
	return err
}

// SetOrgTrunk creates, changes or (Gateway "") removes the organization's
// default trunk from its organization-level SIP settings, under the trunk
// rules (a refusal names the route's field and writes nothing). An
// environment trunk the organization was using becomes the organization's
// own (same id: its numbers stay on it), with none of the environment's
// credentials. It returns the trunk, nil when there is none.
func (t *Service) SetOrgTrunk(ctx context.Context, orgID int64, in OrgSettings) (*db.SIPTrunk, error) {
	ch, err := t.orgChange(ctx, orgID, in)
	if err != nil {
		return nil, err
	}
	switch {
	case ch.remove && ch.tr == nil:
		return ch.cur, nil
	case ch.remove:
		if err := t.store.DeleteTrunk(ctx, orgID, ch.tr.ID); err != nil {
			return nil, err
		}
		t.Changed(orgID)
		return nil, nil
	case ch.tr == nil:
		return ch.cur, nil
	case ch.create:
		gw, err := t.GatewayName(ctx, orgID, ch.tr.Name, "")
		if err != nil {
			return nil, err
		}
		ch.tr.GatewayName = gw
		err = t.store.CreateTrunk(ctx, ch.tr)
		if err != nil {
			return nil, err
		}
	default:
		ch.tr.Status = nil
		if err := t.store.UpdateTrunk(ctx, ch.tr); err != nil {
			return nil, err
		}
	}
	t.Changed(orgID)
	return t.store.GetTrunk(ctx, orgID, ch.tr.ID)
}

// orgChange reads the organization's default trunk and merges the settings
// sent into it (or into a new one) under the trunk rules. Nothing is written.
func (t *Service) orgChange(ctx context.Context, orgID int64, in OrgSettings) (orgChange, error) {
	cur, err := t.store.DefaultTrunk(ctx, orgID)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return orgChange{}, err
	}
	if err == nil {
		cp := *cur
		cur = &cp
	} else {
		cur = nil
	}
	ch := orgChange{cur: cur}
	if in.empty() {
		return ch, nil
	}
	if in.Gateway != nil && *in.Gateway == "" {
		ch.remove = true
		if cur != nil && cur.Source == db.TrunkSourceOrganization {
			ch.tr = cur
		}
		return ch, nil
	}
	tr, err := t.orgBase(ctx, orgID, cur, in)
	if err != nil {
		return orgChange{}, err
	}
	convert := cur == nil || cur.Source == db.TrunkSourceEnvironment
	tr.Source = db.TrunkSourceOrganization
	s := &Settings{Gateway: in.Gateway, Username: in.Username, Password: in.Password, Realm: in.Domain,
		Register: in.Register, InboundEnabled: in.Inbound}
	if s.Register == nil && convert {
		user := tr.Username
		if in.Username != nil {
			user = *in.Username
		}
		reg := strings.TrimSpace(user) != ""
		s.Register = &reg
	}
	pw, err := Apply(tr, s, tr.PasswordEnc != "", orgRules)
	if err != nil {
		return orgChange{}, err
	}
	if pw != nil {
		if err := t.store.SetTrunkPassword(tr, *pw); err != nil {
			return orgChange{}, err
		}
	}
	return orgChange{cur: cur, tr: tr, create: cur == nil}, nil
}

// orgBase is the trunk the organization-level settings are merged into:
// a new one, the organization's own, or its copy of the environment's
// without the environment's credentials (the platform's, not carried
// over). Either of the first and the last needs a gateway.
func (t *Service) orgBase(ctx context.Context, orgID int64, cur *db.SIPTrunk, in OrgSettings) (*db.SIPTrunk, error) {
	switch {
	case cur == nil:
		if in.Gateway == nil {
			return nil, ErrGatewayRequired
		}
		name, err := t.freeName(ctx, orgID, "Organization SIP trunk")
		if err != nil {
			return nil, err
		}
		return &db.SIPTrunk{ID: db.NewID(), OrgID: orgID, Name: name, Priority: 1, Enabled: true, Transport: "udp"}, nil
	case cur.Source == db.TrunkSourceEnvironment:
		if in.Gateway == nil {
			return nil, ErrGatewayRequired
		}
		tr := *cur
		tr.Username, tr.PasswordEnc, tr.Realm, tr.Register = "", "", "", false
		return &tr, nil
	}
	tr := *cur
	return &tr, nil
}

// freeName is base, or base with a number, that none of the
// organization's trunks is called.
func (t *Service) freeName(ctx context.Context, orgID int64, base string) (string, error) {
	name := base
	for i := 2; ; i++ {
		taken, err := t.store.TrunkNameTaken(ctx, orgID, name, "")
		if err != nil || !taken {
			return name, err
		}
		name = fmt.Sprintf("%s %d", base, i)
	}
}

// DefaultFor is the trunk a byo-sip-trunk number goes on when none is
// named: the organization's default trunk, else its first by priority,
// else (no trunk at all) its copy of the environment-level trunk, made on
// first use. ErrNoTrunk when there is none of these.
func (t *Service) DefaultFor(ctx context.Context, orgID int64) (*db.SIPTrunk, error) {
	if d, err := t.store.DefaultTrunk(ctx, orgID); err == nil {
		return d, nil
	} else if !errors.Is(err, db.ErrNotFound) {
		return nil, err
	}
	trunks, _, err := t.store.ListTrunks(ctx, orgID, db.Page{Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(trunks) > 0 {
		return &trunks[0], nil
	}
	if t.env.Gateway == "" {
		return nil, ErrNoTrunk
	}
	tr := &db.SIPTrunk{ID: db.NewID(), OrgID: orgID, Name: "Environment SIP trunk", Priority: 1, Enabled: true,
		Transport: "udp", Source: db.TrunkSourceEnvironment}
	if err := t.applyEnv(tr); err != nil {
		return nil, err
	}
	gw, err := t.GatewayName(ctx, orgID, tr.Name, "")
	if err != nil {
		return nil, err
	}
	tr.GatewayName = gw
	if err := t.store.CreateTrunk(ctx, tr); err != nil {
		if errors.Is(err, db.ErrConflict) { // made at the same moment by another request
			return t.store.DefaultTrunk(ctx, orgID)
		}
		return nil, err
	}
	t.log.Info("environment SIP trunk made for the organization", "org_id", orgID, "trunk", gw)
	t.Changed(orgID)
	return tr, nil
}

// applyEnv merges SIP_GATEWAY, SIP_USERNAME and SIP_PASSWORD into tr under
// the trunk rules (a refusal names the variable).
func (t *Service) applyEnv(tr *db.SIPTrunk) error {
	gw, user, pw := strings.TrimSpace(t.env.Gateway), strings.TrimSpace(t.env.Username), t.env.Password
	reg := user != ""
	s := &Settings{Gateway: &gw, Username: &user, Password: &pw, Register: &reg}
	if _, err := Apply(tr, s, false, envRules); err != nil {
		return err
	}
	return t.store.SetTrunkPassword(tr, pw)
}

// ApplyEnvironment brings every organization's copy of the
// environment-level trunk in line with SIP_GATEWAY, SIP_USERNAME and
// SIP_PASSWORD (run at start-up); with no SIP_GATEWAY the copies are
// disabled. It returns how many it changed.
func (t *Service) ApplyEnvironment(ctx context.Context) (int, error) {
	trunks, err := t.store.EnvironmentTrunks(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range trunks {
		tr := &trunks[i]
		before := *tr
		oldPw, _ := t.store.TrunkPassword(tr)
		if t.env.Gateway == "" {
			tr.Enabled = false
		} else if err := t.applyEnv(tr); err != nil {
			return n, err
		}
		if before.Gateway == tr.Gateway && before.Username == tr.Username && before.Register == tr.Register &&
			before.Enabled == tr.Enabled && (t.env.Gateway == "" || oldPw == t.env.Password) {
			continue
		}
		if err := t.store.UpdateTrunk(ctx, tr); err != nil {
			return n, err
		}
		n++
		t.Changed(tr.OrgID)
	}
	return n, nil
}
