package orgapi

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/trunk"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// The organization-level SIP settings (Burki's "Organization-Level
// Configuration") are the organization's default trunk: PUT
// /api/v1/organizations/{id} writes that trunk and GET reads it back, as
// /api/v1/sip-trunks does (see trunk/default.go).

// orgParam is the caller's organization when {id} names it; any other id
// is 404, like every resource of another organization.
func (s *Server) orgParam(c echo.Context) error {
	id, err := strconv.ParseInt(strings.TrimSpace(c.Param("id")), 10, 64)
	if err != nil || id != httpapi.OrgID(c) {
		return httpapi.NotFound("organization")
	}
	return nil
}

func (s *Server) getOrgByID(c echo.Context) error {
	if err := s.orgParam(c); err != nil {
		return err
	}
	return s.getOrg(c)
}

func (s *Server) putOrgByID(c echo.Context) error {
	if err := s.orgParam(c); err != nil {
		return err
	}
	return s.putOrg(c)
}

// oneOf returns the value sent under either of two names for one setting
// (sip_username and auth_plan.username: the trunk has one credential);
// two different values are refused naming the second field.
func oneOf(a, b *string, fieldB, fieldA string) (*string, error) {
	switch {
	case a == nil:
		return b, nil
	case b == nil || *a == *b:
		return a, nil
	}
	return nil, httpapi.Invalid(fieldB, "%s must equal %s when both are sent: the organization trunk has one credential", fieldB, fieldA)
}

// orgTrunkSettings validates the organization-level SIP fields of a PUT,
// under the trunk rules too (their refusals name the route's fields), so a
// refused PUT stores nothing; nil when none was sent.
func (s *Server) orgTrunkSettings(ctx context.Context, o *db.Organization, sec db.OrgSecrets, in *orgInput) (*trunk.OrgSettings, error) {
	out, err := s.orgTrunkInput(ctx, o, sec, in)
	if err != nil || out == nil {
		return out, err
	}
	if err := s.trunks.CheckOrgTrunk(ctx, o.ID, *out); err != nil {
		return nil, httpapi.AsInvalid(err)
	}
	return out, nil
}

// orgTrunkInput reads the organization-level SIP fields of a PUT; nil when
// none was sent. The first settings of an organization without a
// trunk of its own must name sip_gateway, unless the organization had
// stored some before they became a trunk (they are carried over).
func (s *Server) orgTrunkInput(ctx context.Context, o *db.Organization, sec db.OrgSecrets, in *orgInput) (*trunk.OrgSettings, error) {
	var out trunk.OrgSettings
	var authUser, authPass, authType *string
	if cfg := in.SIPTrunkConfig; cfg != nil {
		out.Domain, out.Inbound = cfg.SIPDomain, cfg.InboundEnabled
		if ap := cfg.AuthPlan; ap != nil {
			authUser, authPass, authType = ap.Username, ap.Password, ap.Type
		}
	}
	for _, f := range []struct {
		v     **string
		field string
		max   int
		trim  bool
	}{
		{&in.SIPGateway, "sip_gateway", 255, true}, {&in.SIPUsername, "sip_username", 128, true}, {&in.SIPPassword, "sip_password", 128, false},
		{&out.Domain, "sip_trunk_config.sip_domain", 255, true}, {&authUser, "sip_trunk_config.auth_plan.username", 128, true},
		{&authPass, "sip_trunk_config.auth_plan.password", 128, false}, {&authType, "sip_trunk_config.auth_plan.type", 16, true},
	} {
		if *f.v == nil {
			continue
		}
		if err := httpapi.CheckText(f.field, **f.v, f.max); err != nil {
			return nil, err
		}
		if f.trim {
			v := strings.TrimSpace(**f.v)
			*f.v = &v
		}
	}
	if in.SIPGateway != nil && *in.SIPGateway != "" {
		if err := s.CheckHostPortAddress(ctx, "sip_gateway", *in.SIPGateway, false); err != nil {
			return nil, err
		}
	}
	if out.Domain != nil && *out.Domain != "" {
		if err := httpapi.CheckHostPort("sip_trunk_config.sip_domain", *out.Domain, false); err != nil {
			return nil, err
		}
	}
	if authType != nil {
		switch *authType {
		case "credentials", "ip":
			reg := *authType == "credentials"
			out.Register = &reg
		case "":
		default:
			return nil, httpapi.Invalid("sip_trunk_config.auth_plan.type", "sip_trunk_config.auth_plan.type must be credentials or ip")
		}
	}
	var err error
	if out.Username, err = oneOf(in.SIPUsername, authUser, "sip_trunk_config.auth_plan.username", "sip_username"); err != nil {
		return nil, err
	}
	if out.Password, err = oneOf(in.SIPPassword, authPass, "sip_trunk_config.auth_plan.password", "sip_password"); err != nil {
		return nil, err
	}
	out.Gateway = in.SIPGateway
	if out == (trunk.OrgSettings{}) {
		return nil, nil
	}
	cur, err := s.store.DefaultTrunk(ctx, o.ID)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return nil, err
	}
	if out.Gateway != nil || (cur != nil && cur.Source == db.TrunkSourceOrganization) {
		return &out, nil
	}
	if cur != nil || o.Settings.SIPGateway == "" {
		return nil, httpapi.Invalid("sip_gateway", "%s", trunk.ErrGatewayRequired.Error())
	}
	legacyOrgSettings(&out, o.Settings, sec)
	return &out, nil
}

// legacyOrgSettings fills the fields not sent from the settings an
// organization stored before they made a trunk.
func legacyOrgSettings(out *trunk.OrgSettings, st db.OrgSettings, sec db.OrgSecrets) {
	legacy := func(v *string, old string) *string {
		if v != nil || old == "" {
			return v
		}
		return &old
	}
	out.Gateway = legacy(out.Gateway, st.SIPGateway)
	out.Username = legacy(legacy(out.Username, st.SIPTrunkConfig.AuthUsername), st.SIPUsername)
	out.Password = legacy(legacy(out.Password, sec.SIPAuthPassword), sec.SIPPassword)
	out.Domain = legacy(out.Domain, st.SIPTrunkConfig.SIPDomain)
	if out.Register == nil && st.SIPTrunkConfig.AuthType != "" {
		reg := st.SIPTrunkConfig.AuthType == "credentials"
		out.Register = &reg
	}
	if out.Inbound == nil {
		inbound := st.SIPTrunkConfig.InboundEnabled
		out.Inbound = &inbound
	}
}
