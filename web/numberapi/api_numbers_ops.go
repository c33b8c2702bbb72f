package numberapi

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

func validNumberProvider(field, p string, allowBYO bool) error {
	if p == db.ProviderBYOSIP && allowBYO || p == db.ProviderTwilio || p == db.ProviderTelnyx || p == db.ProviderVonage {
		return nil
	}
	valid := []string{db.ProviderTwilio, db.ProviderTelnyx, db.ProviderVonage}
	if allowBYO {
		valid = db.Providers
	}
	return httpapi.Invalid(field, "unknown provider %q: valid providers are %s", p, strings.Join(valid, ", "))
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
	if err := httpapi.BindJSON(c, &in); err != nil {
		return err
	}
	if err := validNumberProvider("provider", in.Provider, false); err != nil {
		return err
	}
	ctx := c.Request().Context()
	org, err := s.store.GetOrg(ctx, httpapi.OrgID(c))
	if err != nil {
		return err
	}
	q := provider.SearchQuery{CountryCode: org.DefaultCountry, Limit: 20}
	if in.CountryCode != nil {
		q.CountryCode = strings.ToUpper(strings.TrimSpace(*in.CountryCode))
		if err := httpapi.CheckCountry("country_code", q.CountryCode); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		dst   *string
		src   *string
		field string
	}{{&q.AreaCode, in.AreaCode, "area_code"}, {&q.Contains, in.Contains, "contains"}, {&q.Locality, in.Locality, "locality"}, {&q.Region, in.Region, "region"}} {
		if err := httpapi.SetText(f.dst, f.src, f.field, 64); err != nil {
			return err
		}
	}
	if q.AreaCode != "" && strings.Trim(q.AreaCode, "0123456789") != "" {
		return httpapi.Invalid("area_code", "area_code must be digits")
	}
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 50 {
			return httpapi.Invalid("limit", "limit must be from 1 to 50")
		}
		q.Limit = *in.Limit
	}
	found, err := s.numbers.Search(ctx, httpapi.OrgID(c), in.Provider, q)
	if err != nil {
		return err
	}
	// One answer, no pages: the limit is the request body's.
	return httpapi.WriteList(c, found, int64(len(found)), 0, 0)
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
	if err := httpapi.BindJSON(c, &in); err != nil {
		return err
	}
	if err := validNumberProvider("provider", in.Provider, true); err != nil {
		return err
	}
	num, cc, err := httpapi.NormalizeE164("phone_number", strings.TrimSpace(in.PhoneNumber))
	if err != nil {
		return err
	}
	p := numbers.PurchaseInput{PhoneNumber: num, Provider: in.Provider, CountryCode: cc}
	if in.CountryCode != nil {
		p.CountryCode = strings.ToUpper(strings.TrimSpace(*in.CountryCode))
		if err := httpapi.CheckCountry("country_code", p.CountryCode); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		dst   *string
		src   *string
		field string
	}{{&p.AssistantID, in.AssistantID, "assistant_id"}, {&p.FriendlyName, in.FriendlyName, "friendly_name"},
		{&p.MessagingProfileID, in.MessagingProfileID, "messaging_profile_id"}, {&p.SIPTrunkID, in.SIPTrunkID, "sip_trunk_id"}} {
		if err := httpapi.SetText(f.dst, f.src, f.field, 200); err != nil {
			return err
		}
	}
	if p.SIPTrunkID != "" && in.Provider != db.ProviderBYOSIP {
		return httpapi.Invalid("sip_trunk_id", "sip_trunk_id applies to byo-sip-trunk numbers")
	}
	res, err := s.numbers.Purchase(c.Request().Context(), httpapi.OrgID(c), p)
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
	if err := httpapi.BindJSON(c, &in); err != nil {
		return err
	}
	num, _, err := httpapi.NormalizeE164("phone_number", strings.TrimSpace(in.PhoneNumber))
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
	rec, err := s.numbers.Release(c.Request().Context(), httpapi.OrgID(c), num, prov)
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

func (s *Server) getWebhooks(c echo.Context) error {
	num, err := s.NumberParam(c)
	if err != nil {
		return err
	}
	rec, w, err := s.numbers.Webhooks(c.Request().Context(), httpapi.OrgID(c), num)
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
	if err := httpapi.BindJSON(c, &in); err != nil {
		return err
	}
	num, _, err := httpapi.NormalizeE164("phone_number", strings.TrimSpace(in.PhoneNumber))
	if err != nil {
		return err
	}
	u := numbers.WebhookUpdate{}
	if in.VoiceWebhookURL != nil {
		if err := httpapi.CheckURL("voice_webhook_url", *in.VoiceWebhookURL, "https", "http"); err != nil {
			return err
		}
		u.VoiceURL = *in.VoiceWebhookURL
	}
	u.EnableSMS = in.EnableSMS != nil && *in.EnableSMS
	u.DisableSMS = in.DisableSMS != nil && *in.DisableSMS
	if u.EnableSMS && u.DisableSMS {
		return httpapi.Invalid("disable_sms", "enable_sms and disable_sms cannot both be true")
	}
	if u == (numbers.WebhookUpdate{}) {
		return httpapi.Invalid("", "send voice_webhook_url, enable_sms or disable_sms")
	}
	rec, w, err := s.numbers.SetWebhooks(c.Request().Context(), httpapi.OrgID(c), num, u)
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
	n, err := s.numbers.Sync(c.Request().Context(), httpapi.OrgID(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, syncNumbersResult{Success: true, SyncedCount: n})
}
