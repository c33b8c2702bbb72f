package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/trunk"
)

func validNumberProvider(field, p string, allowBYO bool) error {
	if p == db.ProviderBYOSIP && allowBYO || p == db.ProviderTwilio || p == db.ProviderTelnyx || p == db.ProviderVonage {
		return nil
	}
	valid := []string{db.ProviderTwilio, db.ProviderTelnyx, db.ProviderVonage}
	if allowBYO {
		valid = db.Providers
	}
	return invalid(field, "unknown provider %q: valid providers are %s", p, strings.Join(valid, ", "))
}

// --- search ---

type searchInput struct {
	Provider    string  `json:"provider" required:"true" doc:"twilio | telnyx | vonage"`
	CountryCode *string `json:"country_code" doc:"ISO-2; default the organization's default_country"`
	AreaCode    *string `json:"area_code"`
	Contains    *string `json:"contains"`
	Locality    *string `json:"locality"`
	Region      *string `json:"region"`
	Limit       *int    `json:"limit" doc:"1–50, default 20"`
}

func (s *Server) searchNumbers(c echo.Context) error {
	var in searchInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := validNumberProvider("provider", in.Provider, false); err != nil {
		return err
	}
	ctx := c.Request().Context()
	org, err := s.store.GetOrg(ctx, orgID(c))
	if err != nil {
		return err
	}
	q := provider.SearchQuery{CountryCode: org.DefaultCountry, Limit: 20}
	if in.CountryCode != nil {
		q.CountryCode = strings.ToUpper(strings.TrimSpace(*in.CountryCode))
		if err := checkCountry("country_code", q.CountryCode); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		dst   *string
		src   *string
		field string
	}{{&q.AreaCode, in.AreaCode, "area_code"}, {&q.Contains, in.Contains, "contains"}, {&q.Locality, in.Locality, "locality"}, {&q.Region, in.Region, "region"}} {
		if err := setText(f.dst, f.src, f.field, 64); err != nil {
			return err
		}
	}
	if q.AreaCode != "" && strings.Trim(q.AreaCode, "0123456789") != "" {
		return invalid("area_code", "area_code must be digits")
	}
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 50 {
			return invalid("limit", "limit must be from 1 to 50")
		}
		q.Limit = *in.Limit
	}
	found, err := s.numbers.Search(ctx, orgID(c), in.Provider, q)
	if err != nil {
		return err
	}
	// One answer, no pages: the limit is the request body's.
	return writeList(c, found, int64(len(found)), 0, 0)
}

// --- purchase / release ---

type purchaseInput struct {
	PhoneNumber        string  `json:"phone_number" required:"true" doc:"E.164"`
	Provider           string  `json:"provider" required:"true" doc:"twilio | telnyx | vonage | byo-sip-trunk"`
	CountryCode        *string `json:"country_code" doc:"derived from the number when absent"`
	AssistantID        *string `json:"assistant_id"`
	FriendlyName       *string `json:"friendly_name"`
	MessagingProfileID *string `json:"messaging_profile_id" doc:"Telnyx"`
	SIPTrunkID         *string `json:"sip_trunk_id" doc:"byo-sip-trunk: the trunk (default: the organization's default trunk from its SIP settings, else its highest-priority trunk, else its copy of the environment's SIP_GATEWAY trunk)"`
}

type purchaseResult struct {
	Success         bool           `json:"success"`
	PhoneNumber     string         `json:"phone_number"`
	Provider        string         `json:"provider"`
	PurchaseDetails map[string]any `json:"purchase_details" doc:"as the provider answered: Twilio {sid, friendly_name, voice_url, sms_url, capabilities, date_created}; Telnyx {id, status, connection_id, date_created}; Vonage {msisdn, country, status, webhooks_configured, date_created}; byo-sip-trunk {sip_trunk_id, date_created}"`
	Message         string         `json:"message"`
	Number          numberView     `json:"number"`
}

func (s *Server) purchaseNumber(c echo.Context) error {
	var in purchaseInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if err := validNumberProvider("provider", in.Provider, true); err != nil {
		return err
	}
	num, cc, err := normalizeE164("phone_number", strings.TrimSpace(in.PhoneNumber))
	if err != nil {
		return err
	}
	p := numbers.PurchaseInput{PhoneNumber: num, Provider: in.Provider, CountryCode: cc}
	if in.CountryCode != nil {
		p.CountryCode = strings.ToUpper(strings.TrimSpace(*in.CountryCode))
		if err := checkCountry("country_code", p.CountryCode); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		dst   *string
		src   *string
		field string
	}{{&p.AssistantID, in.AssistantID, "assistant_id"}, {&p.FriendlyName, in.FriendlyName, "friendly_name"},
		{&p.MessagingProfileID, in.MessagingProfileID, "messaging_profile_id"}, {&p.SIPTrunkID, in.SIPTrunkID, "sip_trunk_id"}} {
		if err := setText(f.dst, f.src, f.field, 200); err != nil {
			return err
		}
	}
	if p.SIPTrunkID != "" && in.Provider != db.ProviderBYOSIP {
		return invalid("sip_trunk_id", "sip_trunk_id applies to byo-sip-trunk numbers")
	}
	res, err := s.numbers.Purchase(c.Request().Context(), orgID(c), p)
	if res == nil {
		return err
	}
	out := purchaseResult{Success: err == nil, PhoneNumber: num, Provider: in.Provider, PurchaseDetails: res.Details, Number: numberViewOf(res.Number)}
	switch {
	case err != nil:
		out.Message = "number purchased, but its webhooks could not be configured: " + err.Error()
	case in.Provider == db.ProviderBYOSIP:
		out.Message = "number registered on SIP trunk " + *res.Number.SIPTrunkID
	default:
		out.Message = "number purchased and its webhooks point at sipbridge"
	}
	return c.JSON(http.StatusOK, out)
}

type releaseInput struct {
	PhoneNumber string  `json:"phone_number" required:"true"`
	Provider    *string `json:"provider" doc:"checked against the record when sent"`
}

type releaseResult struct {
	Success     bool   `json:"success"`
	PhoneNumber string `json:"phone_number"`
	Provider    string `json:"provider"`
	Message     string `json:"message"`
}

func (s *Server) releaseNumber(c echo.Context) error {
	var in releaseInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	num, _, err := normalizeE164("phone_number", strings.TrimSpace(in.PhoneNumber))
	if err != nil {
		return err
	}
	prov := ""
	if in.Provider != nil {
		prov = *in.Provider
		if err := validNumberProvider("provider", prov, true); err != nil {
			return err
		}
	}
	rec, err := s.numbers.Release(c.Request().Context(), orgID(c), num, prov)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, releaseResult{Success: true, PhoneNumber: rec.PhoneNumber, Provider: rec.Provider, Message: "number released"})
}

// --- webhooks ---

type webhooksView struct {
	PhoneNumber string            `json:"phone_number"`
	Provider    string            `json:"provider"`
	Webhooks    provider.Webhooks `json:"webhooks"`
	SMSEnabled  bool              `json:"sms_enabled"`
}

// numberParam accepts a record id or an E.164 number (URL-encoded or not).
func (s *Server) numberParam(c echo.Context) (string, error) {
	param := c.Param("id")
	if param == "" {
		param = c.Param("phoneNumber") // the TalkifAI BYOC paths
	}
	raw, _ := url.PathUnescape(param)
	raw = strings.TrimSpace(raw)
	if !strings.HasPrefix(raw, "+") {
		if n, err := s.store.GetNumber(c.Request().Context(), orgID(c), raw); err == nil {
			return n.PhoneNumber, nil
		}
		if strings.Trim(raw, "0123456789") == "" && raw != "" {
			raw = "+" + raw // a "+" lost to form-style decoding
		}
	}
	num, _, err := normalizeE164("phone_number", raw)
	if err != nil {
		return "", notFound("phone number")
	}
	return num, nil
}

func (s *Server) getWebhooks(c echo.Context) error {
	num, err := s.numberParam(c)
	if err != nil {
		return err
	}
	rec, w, err := s.numbers.Webhooks(c.Request().Context(), orgID(c), num)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, webhooksView{PhoneNumber: rec.PhoneNumber, Provider: rec.Provider, Webhooks: w, SMSEnabled: rec.CapSMS})
}

type webhooksInput struct {
	PhoneNumber     string  `json:"phone_number" required:"true"`
	VoiceWebhookURL *string `json:"voice_webhook_url"`
	EnableSMS       *bool   `json:"enable_sms"`
	DisableSMS      *bool   `json:"disable_sms"`
}

func (s *Server) putWebhooks(c echo.Context) error {
	var in webhooksInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	num, _, err := normalizeE164("phone_number", strings.TrimSpace(in.PhoneNumber))
	if err != nil {
		return err
	}
	u := numbers.WebhookUpdate{}
	if in.VoiceWebhookURL != nil {
		if err := checkURL("voice_webhook_url", *in.VoiceWebhookURL, "https", "http"); err != nil {
			return err
		}
		u.VoiceURL = *in.VoiceWebhookURL
	}
	u.EnableSMS = in.EnableSMS != nil && *in.EnableSMS
	u.DisableSMS = in.DisableSMS != nil && *in.DisableSMS
	if u.EnableSMS && u.DisableSMS {
		return invalid("disable_sms", "enable_sms and disable_sms cannot both be true")
	}
	if u == (numbers.WebhookUpdate{}) {
		return invalid("", "send voice_webhook_url, enable_sms or disable_sms")
	}
	rec, w, err := s.numbers.SetWebhooks(c.Request().Context(), orgID(c), num, u)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, webhooksView{PhoneNumber: rec.PhoneNumber, Provider: rec.Provider, Webhooks: w, SMSEnabled: rec.CapSMS})
}

type syncNumbersResult struct {
	Success     bool `json:"success"`
	SyncedCount int  `json:"synced_count"`
}

func (s *Server) syncNumbers(c echo.Context) error {
	n, err := s.numbers.Sync(c.Request().Context(), orgID(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, syncNumbersResult{Success: true, SyncedCount: n})
}

// --- BYOC ---

type byocInput struct {
	PhoneNumber     *string `json:"phoneNumber" doc:"E.164; required on create"`
	TerminationURI  *string `json:"terminationUri" doc:"sip:host[:port][;transport=tcp]; required on create"`
	InboundAgentID  *string `json:"inboundAgentId"`
	OutboundAgentID *string `json:"outboundAgentId"`
	SIPUsername     *string `json:"sipUsername"`
	SIPPassword     *string `json:"sipPassword" doc:"write-only"`
	FriendlyName    *string `json:"friendlyName"`
}

type byocView struct {
	PhoneNumber     string    `json:"phoneNumber"`
	TerminationURI  string    `json:"terminationUri"`
	InboundAgentID  *string   `json:"inboundAgentId"`
	OutboundAgentID *string   `json:"outboundAgentId"`
	SIPUsername     string    `json:"sipUsername"`
	SIPPasswordSet  bool      `json:"sipPasswordSet"`
	FriendlyName    string    `json:"friendlyName"`
	Trunk           trunkView `json:"trunk"`
}

func (s *Server) byocView(n *db.PhoneNumber, t *db.SIPTrunk) byocView {
	uri := "sip:" + t.Gateway
	if t.Transport != "udp" {
		uri += ";transport=" + t.Transport
	}
	return byocView{PhoneNumber: n.PhoneNumber, TerminationURI: uri, InboundAgentID: n.AssistantID, OutboundAgentID: n.OutboundAssistantID,
		SIPUsername: t.Username, SIPPasswordSet: t.PasswordEnc != "", FriendlyName: n.FriendlyName, Trunk: s.trunkView(t)}
}

func (s *Server) byocFromInput(ctx context.Context, orgID int64, in *byocInput, create bool) (numbers.BYOCInput, error) {
	var out numbers.BYOCInput
	if in.TerminationURI != nil {
		if err := checkToken("terminationUri", *in.TerminationURI, 255); err != nil {
			return out, err
		}
		hp, _, err := trunk.ParseTerminationURI(*in.TerminationURI)
		if err != nil {
			return out, invalid("terminationUri", "%s", err.Error())
		}
		if err := s.checkHostPortAddress(ctx, "terminationUri", hp, true); err != nil {
			return out, err
		}
	} else if create {
		return out, invalid("terminationUri", "terminationUri is required")
	}
	for _, f := range []struct {
		v     *string
		field string
	}{{in.InboundAgentID, "inboundAgentId"}, {in.OutboundAgentID, "outboundAgentId"}, {in.SIPUsername, "sipUsername"}, {in.SIPPassword, "sipPassword"}} {
		if f.v != nil {
			if err := checkToken(f.field, *f.v, 128); err != nil {
				return out, err
			}
		}
	}
	if in.FriendlyName != nil {
		if err := checkText("friendlyName", *in.FriendlyName, 200); err != nil {
			return out, err
		}
	}
	// Each agent is looked up here so a missing one is reported under its
	// own field (the controller's check cannot say which of the two it was).
	for _, f := range []struct {
		v     *string
		field string
	}{{in.InboundAgentID, "inboundAgentId"}, {in.OutboundAgentID, "outboundAgentId"}} {
		if f.v == nil || *f.v == "" {
			continue
		}
		if _, err := s.store.GetAssistant(ctx, orgID, *f.v); errors.Is(err, db.ErrNotFound) {
			return out, notFoundField(f.field, "assistant")
		} else if err != nil {
			return out, err
		}
	}
	out = numbers.BYOCInput{TerminationURI: in.TerminationURI, InboundAgentID: in.InboundAgentID, OutboundAgentID: in.OutboundAgentID,
		SIPUsername: in.SIPUsername, SIPPassword: in.SIPPassword, FriendlyName: in.FriendlyName}
	return out, nil
}

// byocWording: the BYOC routes name the number phoneNumber and have no
// assistant_id; a BYOC number that is not found is the path's.
var byocWording = errorWording{fields: map[string]string{"phone_number": "phoneNumber", "assistant_id": ""},
	field: map[error]string{numbers.ErrNumberNotFound: ""}}

func byocError(err error) error { return apiErrorIn(err, byocWording) }

func (s *Server) createBYOC(c echo.Context) error {
	var in byocInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if in.PhoneNumber == nil {
		return invalid("phoneNumber", "phoneNumber is required")
	}
	num, cc, err := normalizeE164("phoneNumber", strings.TrimSpace(*in.PhoneNumber))
	if err != nil {
		return err
	}
	bi, err := s.byocFromInput(c.Request().Context(), orgID(c), &in, true)
	if err != nil {
		return err
	}
	bi.PhoneNumber, bi.CountryCode = num, cc
	rec, t, err := s.byoc.CreateBYOC(c.Request().Context(), orgID(c), bi)
	if err != nil {
		return byocError(err)
	}
	return c.JSON(http.StatusCreated, s.byocView(rec, t))
}

func (s *Server) putBYOC(c echo.Context) error {
	num, err := s.numberParam(c)
	if err != nil {
		return err
	}
	if _, _, err := s.byoc.GetBYOC(c.Request().Context(), orgID(c), num); err != nil {
		return byocError(err)
	}
	var in byocInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	if in.PhoneNumber != nil && *in.PhoneNumber != num {
		return invalid("phoneNumber", "phoneNumber cannot be changed")
	}
	bi, err := s.byocFromInput(c.Request().Context(), orgID(c), &in, false)
	if err != nil {
		return err
	}
	bi.PhoneNumber = num
	rec, t, err := s.byoc.UpdateBYOC(c.Request().Context(), orgID(c), bi)
	if err != nil {
		return byocError(err)
	}
	t, err = s.store.GetTrunk(c.Request().Context(), orgID(c), t.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.byocView(rec, t))
}

func (s *Server) deleteBYOC(c echo.Context) error {
	num, err := s.numberParam(c)
	if err != nil {
		return err
	}
	if err := s.byoc.DeleteBYOC(c.Request().Context(), orgID(c), num); err != nil {
		return byocError(err)
	}
	return c.NoContent(http.StatusNoContent)
}

type byocRefreshInput struct {
	PhoneNumber string `json:"phoneNumber" required:"true"`
}

type byocRefreshResult struct {
	Success  bool     `json:"success"`
	Gateways []string `json:"gateways" doc:"gateways re-applied (killgw + rescan; the profile is never restarted)"`
}

func (s *Server) refreshBYOC(c echo.Context) error {
	var in byocRefreshInput
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	num, _, err := normalizeE164("phoneNumber", strings.TrimSpace(in.PhoneNumber))
	if err != nil {
		return err
	}
	names, err := s.byoc.RefreshBYOC(c.Request().Context(), orgID(c), num)
	if err != nil {
		return byocError(err)
	}
	return c.JSON(http.StatusAccepted, byocRefreshResult{Success: true, Gateways: names})
}

func (s *Server) refreshAllBYOC(c echo.Context) error {
	names, err := s.byoc.RefreshBYOC(c.Request().Context(), orgID(c), "")
	if err != nil {
		return byocError(err)
	}
	if names == nil {
		names = []string{}
	}
	return c.JSON(http.StatusAccepted, byocRefreshResult{Success: true, Gateways: names})
}
