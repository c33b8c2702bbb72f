package orgapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

type twilioView struct {
	AccountSID   string `json:"account_sid"`
	AuthTokenSet bool   `json:"auth_token_set"`
}

type telnyxView struct {
	APIKeySet          bool   `json:"api_key_set"`
	ConnectionID       string `json:"connection_id"`
	PublicKey          string `json:"public_key"`
	MessagingProfileID string `json:"messaging_profile_id"`
}

type vonageView struct {
	APIKey             string `json:"api_key"`
	APISecretSet       bool   `json:"api_secret_set"`
	ApplicationID      string `json:"application_id"`
	PrivateKeySet      bool   `json:"private_key_set"`
	SignatureSecretSet bool   `json:"signature_secret_set"`
}

type authPlanView struct {
	Type        string `json:"type"`
	Username    string `json:"username"`
	PasswordSet bool   `json:"password_set"`
}

type sipTrunkConfigView struct {
	SIPDomain                  string       `json:"sip_domain"`
	InboundEnabled             bool         `json:"inbound_enabled"`
	OutboundLeadingPlusEnabled bool         `json:"outbound_leading_plus_enabled"`
	AuthPlan                   authPlanView `json:"auth_plan"`
}

type callLimitsView struct {
	MaxConcurrentCalls          int      `json:"max_concurrent_calls" doc:"0: the platform default"`
	CallsPerSecond              float64  `json:"calls_per_second" doc:"0: the platform default"`
	EffectiveMaxConcurrentCalls int      `json:"effective_max_concurrent_calls" doc:"what applies: the organization's value, else the platform default (DEFAULT_MAX_CONCURRENT_CALLS); 0 = no cap"`
	EffectiveCallsPerSecond     float64  `json:"effective_calls_per_second" doc:"what applies: the organization's value, else the platform default (DEFAULT_CALLS_PER_SECOND); 0 = no cap"`
	OutboundCountries           []string `json:"outbound_countries"`
	AllowNumberTypes            []string `json:"allow_number_types" doc:"premium_rate, shared_cost, satellite: costly numbers calls, transfers and messages may reach"`
}

type callLimitsInput struct {
	MaxConcurrentCalls *int     `json:"max_concurrent_calls" doc:"0: the platform default (DEFAULT_MAX_CONCURRENT_CALLS)"`
	CallsPerSecond     *float64 `json:"calls_per_second" doc:"0: the platform default (DEFAULT_CALLS_PER_SECOND)"`
	OutboundCountries  []string `json:"outbound_countries" doc:"ISO 3166-1 alpha-2 codes; [] = the default country only; [\"*\"] = any; applies to calls, transfers and SMS/MMS"`
	AllowNumberTypes   []string `json:"allow_number_types" doc:"costly number types allowed for calls, transfers and SMS/MMS: premium_rate, shared_cost, satellite (+870/+881/+882/+883); [] = none"`
}

type orgView struct {
	ID             int64              `json:"id"`
	Name           string             `json:"name"`
	DefaultCountry string             `json:"default_country"`
	Twilio         twilioView         `json:"twilio"`
	Telnyx         telnyxView         `json:"telnyx"`
	Vonage         vonageView         `json:"vonage"`
	SIPGateway     string             `json:"sip_gateway"`
	SIPUsername    string             `json:"sip_username"`
	SIPPasswordSet bool               `json:"sip_password_set"`
	SIPTrunkConfig sipTrunkConfigView `json:"sip_trunk_config"`
	SIPTrunkID     *string            `json:"sip_trunk_id" doc:"the organization's default trunk in /api/v1/sip-trunks (made from these settings, or from the environment's SIP_GATEWAY); null: none"`
	SIPTrunkSource string             `json:"sip_trunk_source" doc:"organization | environment | \"\" (none)"`
	CallLimits     callLimitsView     `json:"call_limits"`
	// TwilioCompatAccountSID is the username (and path AccountSid) of the
	// Twilio-compatible call-control route, also start.accountSid; not the
	// organization's own Twilio account (twilio.account_sid).
	TwilioCompatAccountSID string    `json:"twilio_compat_account_sid" doc:"AccountSid of the Twilio-compatible call-control route (/2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json) and of start.accountSid; the password is an API key"`
	CreatedAt              time.Time `json:"created_at"`
	UpdatedAt              time.Time `json:"updated_at"`
}

type twilioInput struct {
	AccountSID *string `json:"account_sid"`
	AuthToken  *string `json:"auth_token" doc:"write-only"`
}

type telnyxInput struct {
	APIKey             *string `json:"api_key" doc:"write-only"`
	ConnectionID       *string `json:"connection_id"`
	PublicKey          *string `json:"public_key"`
	MessagingProfileID *string `json:"messaging_profile_id"`
}

type vonageInput struct {
	APIKey          *string `json:"api_key"`
	APISecret       *string `json:"api_secret" doc:"write-only"`
	ApplicationID   *string `json:"application_id"`
	PrivateKey      *string `json:"private_key" doc:"write-only, PEM"`
	SignatureSecret *string `json:"signature_secret" doc:"write-only"`
}

type authPlanInput struct {
	Type     *string `json:"type" doc:"credentials | ip"`
	Username *string `json:"username"`
	Password *string `json:"password" doc:"write-only"`
}

type sipTrunkConfigInput struct {
	SIPDomain                  *string        `json:"sip_domain"`
	InboundEnabled             *bool          `json:"inbound_enabled"`
	OutboundLeadingPlusEnabled *bool          `json:"outbound_leading_plus_enabled"`
	AuthPlan                   *authPlanInput `json:"auth_plan"`
}

type orgInput struct {
	Name           *string              `json:"name"`
	DefaultCountry *string              `json:"default_country" doc:"ISO 3166-1 alpha-2"`
	Twilio         *twilioInput         `json:"twilio"`
	Telnyx         *telnyxInput         `json:"telnyx"`
	Vonage         *vonageInput         `json:"vonage"`
	SIPGateway     *string              `json:"sip_gateway"`
	SIPUsername    *string              `json:"sip_username"`
	SIPPassword    *string              `json:"sip_password" doc:"write-only"`
	SIPTrunkConfig *sipTrunkConfigInput `json:"sip_trunk_config"`
	CallLimits     *callLimitsInput     `json:"call_limits"`
}

func (s *Server) orgView(ctx context.Context, o *db.Organization) (orgView, error) {
	sec, err := s.store.OrgSecrets(o)
	if err != nil {
		return orgView{}, err
	}
	st := o.Settings
	trunk, err := s.store.DefaultTrunk(ctx, o.ID)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return orgView{}, err
	}
	maxConcurrent, perSecond := s.callDefaults.Effective(st.CallLimits)
	v := orgView{
		ID: o.ID, Name: o.Name, DefaultCountry: o.DefaultCountry, TwilioCompatAccountSID: call.TwilioAccountSID(o.ID),
		Twilio: twilioView{AccountSID: st.TwilioAccountSID, AuthTokenSet: sec.TwilioAuthToken != ""},
		Telnyx: telnyxView{APIKeySet: sec.TelnyxAPIKey != "", ConnectionID: st.TelnyxConnectionID, PublicKey: st.TelnyxPublicKey, MessagingProfileID: st.TelnyxMessagingProfID},
		Vonage: vonageView{APIKey: st.VonageAPIKey, APISecretSet: sec.VonageAPISecret != "", ApplicationID: st.VonageApplicationID,
			PrivateKeySet: sec.VonagePrivateKey != "", SignatureSecretSet: sec.VonageSignatureSecret != ""},
		SIPGateway: st.SIPGateway, SIPUsername: st.SIPUsername, SIPPasswordSet: sec.SIPPassword != "",
		SIPTrunkConfig: sipTrunkConfigView{
			SIPDomain: st.SIPTrunkConfig.SIPDomain, InboundEnabled: st.SIPTrunkConfig.InboundEnabled,
			OutboundLeadingPlusEnabled: st.SIPTrunkConfig.OutboundLeadingPlusEnabled,
			AuthPlan:                   authPlanView{Type: st.SIPTrunkConfig.AuthType, Username: st.SIPTrunkConfig.AuthUsername, PasswordSet: sec.SIPAuthPassword != ""},
		},
		CallLimits: callLimitsView{MaxConcurrentCalls: st.CallLimits.MaxConcurrentCalls, CallsPerSecond: st.CallLimits.CallsPerSecond,
			EffectiveMaxConcurrentCalls: maxConcurrent, EffectiveCallsPerSecond: perSecond,
			OutboundCountries: append([]string{}, st.CallLimits.OutboundCountries...),
			AllowNumberTypes:  append([]string{}, st.CallLimits.AllowNumberTypes...)},
		CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
	}
	if trunk != nil { // the trunk is where the organization-level SIP settings live
		v.SIPTrunkID, v.SIPTrunkSource = &trunk.ID, trunk.Source
		v.SIPTrunkConfig.InboundEnabled = !trunk.InboundDisabled
		if trunk.Source == db.TrunkSourceOrganization {
			authType := "ip"
			if trunk.Register {
				authType = "credentials"
			}
			v.SIPGateway, v.SIPUsername, v.SIPPasswordSet = trunk.Gateway, trunk.Username, trunk.PasswordEnc != ""
			v.SIPTrunkConfig.SIPDomain = trunk.Realm
			v.SIPTrunkConfig.AuthPlan = authPlanView{Type: authType, Username: trunk.Username, PasswordSet: trunk.PasswordEnc != ""}
		}
	}
	return v, nil
}

// orgCacheMax bounds the cached organization answers (about 1 KB each).
const orgCacheMax = 4096

// getOrg answers from the cache while the organization and its trunks are
// unchanged (package db/changes); the key is the caller's organization, and
// the view holds no secret (only whether each is set).
func (s *Server) getOrg(c echo.Context) error {
	orgID := httpapi.OrgID(c)
	key := strconv.FormatInt(orgID, 10)
	if _, pretty := c.QueryParams()["pretty"]; pretty {
		key = "" // echo indents: not the cached bytes
	}
	hit, stamp, valid, ok := s.orgs.Get(key)
	if ok && key != "" {
		return c.JSONBlob(http.StatusOK, hit)
	}
	o, err := s.store.GetOrg(c.Request().Context(), orgID)
	if err != nil {
		return err
	}
	v, err := s.orgView(c.Request().Context(), o)
	if err != nil {
		return err
	}
	if !valid || key == "" {
		return c.JSON(http.StatusOK, v)
	}
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	body = append(body, '\n')
	s.orgs.Put(key, stamp, body)
	return c.JSONBlob(http.StatusOK, body)
}

// credentialPair is one provider credential of an organization update:
// where it is stored, what was sent, the field it came from, whether it is
// write-only, and its longest length.
type credentialPair struct {
	dst    *string
	src    *string
	field  string
	secret bool
	max    int
}

// credentialPairs lists the provider credentials sent in an organization
// update (assigned, once all are valid, by httpapi.SetText or httpapi.SetSecret); the Vonage
// private key is checked and assigned here.
func credentialPairs(in *orgInput, st *db.OrgSettings, sec *db.OrgSecrets) ([]credentialPair, error) {
	var pairs []credentialPair
	if t := in.Twilio; t != nil {
		pairs = append(pairs, credentialPair{&st.TwilioAccountSID, t.AccountSID, "twilio.account_sid", false, 64}, credentialPair{&sec.TwilioAuthToken, t.AuthToken, "twilio.auth_token", true, 256})
	}
	if t := in.Telnyx; t != nil {
		pairs = append(pairs, credentialPair{&sec.TelnyxAPIKey, t.APIKey, "telnyx.api_key", true, 512}, credentialPair{&st.TelnyxConnectionID, t.ConnectionID, "telnyx.connection_id", false, 128},
			credentialPair{&st.TelnyxPublicKey, t.PublicKey, "telnyx.public_key", false, 512}, credentialPair{&st.TelnyxMessagingProfID, t.MessagingProfileID, "telnyx.messaging_profile_id", false, 128})
	}
	if v := in.Vonage; v != nil {
		pairs = append(pairs, credentialPair{&st.VonageAPIKey, v.APIKey, "vonage.api_key", false, 64}, credentialPair{&sec.VonageAPISecret, v.APISecret, "vonage.api_secret", true, 256},
			credentialPair{&st.VonageApplicationID, v.ApplicationID, "vonage.application_id", false, 128}, credentialPair{&sec.VonageSignatureSecret, v.SignatureSecret, "vonage.signature_secret", true, 256})
		if v.PrivateKey != nil { // PEM: newlines allowed
			if len(*v.PrivateKey) > 16384 || (*v.PrivateKey != "" && !strings.Contains(*v.PrivateKey, "PRIVATE KEY")) {
				return nil, httpapi.Invalid("vonage.private_key", "vonage.private_key must be a PEM private key")
			}
			sec.VonagePrivateKey = *v.PrivateKey
		}
	}
	return pairs, nil
}

// applyCallLimits validates and assigns the call limits of an organization
// update (nil: none sent).
func applyCallLimits(cl *db.CallLimits, l *callLimitsInput) error {
	if l == nil {
		return nil
	}
	if l.MaxConcurrentCalls != nil {
		if *l.MaxConcurrentCalls < 0 || *l.MaxConcurrentCalls > 100000 {
			return httpapi.Invalid("call_limits.max_concurrent_calls", "call_limits.max_concurrent_calls must be 0 (the platform default) to 100000")
		}
		cl.MaxConcurrentCalls = *l.MaxConcurrentCalls
	}
	if l.CallsPerSecond != nil {
		if *l.CallsPerSecond < 0 || *l.CallsPerSecond > 1000 {
			return httpapi.Invalid("call_limits.calls_per_second", "call_limits.calls_per_second must be 0 (the platform default) to 1000")
		}
		cl.CallsPerSecond = *l.CallsPerSecond
	}
	if l.OutboundCountries != nil {
		var cc []string
		for _, c := range l.OutboundCountries {
			c = strings.ToUpper(strings.TrimSpace(c))
			if c != "*" {
				if err := httpapi.CheckCountry("call_limits.outbound_countries", c); err != nil {
					return err
				}
			}
			cc = append(cc, c)
		}
		cl.OutboundCountries = cc
	}
	if l.AllowNumberTypes != nil {
		types := []string{}
		for _, v := range l.AllowNumberTypes {
			v = strings.ToLower(strings.TrimSpace(v))
			if !slices.Contains(call.NumberTypes, v) {
				return httpapi.Invalid("call_limits.allow_number_types", "call_limits.allow_number_types: %q is not one of %s", v, strings.Join(call.NumberTypes, ", "))
			}
			if !slices.Contains(types, v) {
				types = append(types, v)
			}
		}
		cl.AllowNumberTypes = types
	}
	return nil
}

func (s *Server) putOrg(c echo.Context) error {
	var in orgInput
	if err := httpapi.BindJSON(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	o, err := s.store.GetOrg(ctx, httpapi.OrgID(c))
	if err != nil {
		return err
	}
	sec, err := s.store.OrgSecrets(o)
	if err != nil {
		return err
	}
	st := &o.Settings
	if in.Name != nil {
		if strings.TrimSpace(*in.Name) == "" {
			return httpapi.Invalid("name", "name must not be empty")
		}
		if err := httpapi.SetText(&o.Name, in.Name, "name", 200); err != nil {
			return err
		}
	}
	if in.DefaultCountry != nil {
		cc := strings.ToUpper(strings.TrimSpace(*in.DefaultCountry))
		if err := httpapi.CheckCountry("default_country", cc); err != nil {
			return err
		}
		o.DefaultCountry = cc
	}
	pairs, err := credentialPairs(&in, st, &sec)
	if err != nil {
		return err
	}
	if cfg := in.SIPTrunkConfig; cfg != nil && cfg.OutboundLeadingPlusEnabled != nil {
		st.SIPTrunkConfig.OutboundLeadingPlusEnabled = *cfg.OutboundLeadingPlusEnabled
	}
	trunkIn, err := s.orgTrunkSettings(ctx, o, sec, &in)
	if err != nil {
		return err
	}
	if err := applyCallLimits(&st.CallLimits, in.CallLimits); err != nil {
		return err
	}
	for _, p := range pairs {
		var err error
		if p.secret {
			err = httpapi.SetSecret(p.dst, p.src, p.field, p.max)
		} else {
			err = httpapi.SetText(p.dst, p.src, p.field, p.max)
		}
		if err != nil {
			return err
		}
	}
	if trunkIn != nil {
		// The organization-level SIP settings now live on the trunk alone.
		st.SIPGateway, st.SIPUsername, sec.SIPPassword, sec.SIPAuthPassword = "", "", "", ""
		st.SIPTrunkConfig.SIPDomain, st.SIPTrunkConfig.AuthType, st.SIPTrunkConfig.AuthUsername = "", "", ""
	}
	if err := s.store.UpdateOrg(ctx, o, sec); err != nil {
		if httpapi.IsConflict(err) { // the name is another organization's: say no more than that it is refused
			return httpapi.Conflict("name", "the name cannot be used")
		}
		return err
	}
	if trunkIn != nil {
		if _, err := s.trunks.SetOrgTrunk(ctx, o.ID, *trunkIn); err != nil {
			return httpapi.AsInvalid(err)
		}
	}
	v, err := s.orgView(c.Request().Context(), o)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// --- API keys ---

type apiKeyView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

type apiKeyCreated struct {
	apiKeyView
	Key string `json:"key" doc:"shown once"`
}

type apiKeyInput struct {
	Name *string `json:"name"`
}

func keyView(k *db.APIKey) apiKeyView {
	return apiKeyView{ID: k.ID, Name: k.Name, Prefix: k.Prefix, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt}
}

func (s *Server) listKeys(c echo.Context) error {
	keys, err := s.store.ListAPIKeys(c.Request().Context(), httpapi.OrgID(c))
	if err != nil {
		return err
	}
	out := make([]apiKeyView, 0, len(keys))
	for i := range keys {
		out = append(out, keyView(&keys[i]))
	}
	return httpapi.WriteList(c, out, int64(len(out)), 0, 0)
}

func (s *Server) createKey(c echo.Context) error {
	var in apiKeyInput
	if err := httpapi.BindJSON(c, &in); err != nil {
		return err
	}
	name := ""
	if err := httpapi.SetText(&name, in.Name, "name", 100); err != nil {
		return err
	}
	key, rec, err := s.store.CreateAPIKey(c.Request().Context(), httpapi.OrgID(c), name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, apiKeyCreated{apiKeyView: keyView(rec), Key: key})
}

func (s *Server) revokeKey(c echo.Context) error {
	if _, err := s.store.RevokeAPIKey(c.Request().Context(), httpapi.OrgID(c), c.Param("id")); err != nil {
		if err == db.ErrNotFound {
			return httpapi.NotFound("API key")
		}
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
