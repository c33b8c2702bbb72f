package numberapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

type capabilities struct {
	Voice bool `json:"voice"`
	SMS   bool `json:"sms"`
	MMS   bool `json:"mms"`
}

type numberView struct {
	ID                  string       `json:"id"`
	PhoneNumber         string       `json:"phone_number"`
	Provider            string       `json:"provider"`
	FriendlyName        string       `json:"friendly_name"`
	CountryCode         string       `json:"country_code"`
	AssistantID         *string      `json:"assistant_id"`
	OutboundAssistantID *string      `json:"outbound_assistant_id"`
	SIPTrunkID          *string      `json:"sip_trunk_id"`
	Capabilities        capabilities `json:"capabilities"`
	AllowedCountryCodes []string     `json:"allowed_country_codes" doc:"caller countries allowed to reach this number (empty = all)"`
	IsActive            bool         `json:"is_active"`
	CreatedAt           time.Time    `json:"created_at"`
	UpdatedAt           time.Time    `json:"updated_at"`
}

type capabilitiesInput struct {
	Voice *bool `json:"voice"`
	SMS   *bool `json:"sms"`
	MMS   *bool `json:"mms"`
}

type numberInput struct {
	PhoneNumber         *string             `json:"phone_number" doc:"E.164; required on create, immutable"`
	Provider            *string             `json:"provider" doc:"twilio | telnyx | vonage | byo-sip-trunk; required on create, immutable"`
	FriendlyName        *string             `json:"friendly_name"`
	CountryCode         *string             `json:"country_code" doc:"derived from the number when absent"`
	AssistantID         httpapi.Opt[string] `json:"assistant_id" doc:"null unassigns"`
	OutboundAssistantID httpapi.Opt[string] `json:"outbound_assistant_id" doc:"null unassigns"`
	SIPTrunkID          httpapi.Opt[string] `json:"sip_trunk_id" doc:"\"\" or null clears"`
	Capabilities        *capabilitiesInput  `json:"capabilities"`
	AllowedCountryCodes *[]string           `json:"allowed_country_codes"`
	IsActive            *bool               `json:"is_active"`
}

func numberViewOf(n *db.PhoneNumber) numberView {
	return numberView{
		ID: n.ID, PhoneNumber: n.PhoneNumber, Provider: n.Provider, FriendlyName: n.FriendlyName, CountryCode: n.CountryCode,
		AssistantID: n.AssistantID, OutboundAssistantID: n.OutboundAssistantID, SIPTrunkID: n.SIPTrunkID,
		Capabilities:        capabilities{Voice: n.CapVoice, SMS: n.CapSMS, MMS: n.CapMMS},
		AllowedCountryCodes: httpapi.NonNil(n.AllowedCountryCodes), IsActive: n.IsActive, CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt,
	}
}

// applyNumber merges the fields sent into n, checking that referenced
// assistants and trunks belong to the same organization.
func (s *Server) applyNumber(c echo.Context, n *db.PhoneNumber, in *numberInput, create bool) error {
	ctx := c.Request().Context()
	if !create && in.PhoneNumber != nil && *in.PhoneNumber != n.PhoneNumber {
		return httpapi.Invalid("phone_number", "phone_number cannot be changed; delete the record and create another")
	}
	if !create && in.Provider != nil && *in.Provider != n.Provider {
		return httpapi.Invalid("provider", "provider cannot be changed")
	}
	if create {
		if in.PhoneNumber == nil || *in.PhoneNumber == "" {
			return httpapi.Invalid("phone_number", "phone_number is required")
		}
		num, cc, err := httpapi.NormalizeE164("phone_number", strings.TrimSpace(*in.PhoneNumber))
		if err != nil {
			return err
		}
		n.PhoneNumber, n.CountryCode = num, cc
		if in.Provider == nil || !httpapi.ValidProvider(*in.Provider) {
			return httpapi.Invalid("provider", "provider must be one of %s", strings.Join(db.Providers, ", "))
		}
		n.Provider = *in.Provider
	}
	if in.CountryCode != nil {
		cc := strings.ToUpper(strings.TrimSpace(*in.CountryCode))
		if err := httpapi.CheckCountry("country_code", cc); err != nil {
			return err
		}
		n.CountryCode = cc
	}
	if err := httpapi.SetText(&n.FriendlyName, in.FriendlyName, "friendly_name", 200); err != nil {
		return err
	}
	if err := s.applyNumberRefs(ctx, n, in); err != nil {
		return err
	}
	if cp := in.Capabilities; cp != nil {
		if cp.Voice != nil {
			n.CapVoice = *cp.Voice
		}
		if cp.SMS != nil {
			n.CapSMS = *cp.SMS
		}
		if cp.MMS != nil {
			n.CapMMS = *cp.MMS
		}
	}
	if in.AllowedCountryCodes != nil {
		out := db.StringList{}
		for _, cc := range *in.AllowedCountryCodes {
			cc = strings.ToUpper(strings.TrimSpace(cc))
			if err := httpapi.CheckCountry("allowed_country_codes", cc); err != nil {
				return err
			}
			out = append(out, cc)
		}
		n.AllowedCountryCodes = out
	}
	if in.IsActive != nil {
		n.IsActive = *in.IsActive
	}
	return nil
}

// applyNumberRefs sets the assistants and the trunk a number update names,
// each of the number's own organization (404 naming the field otherwise).
func (s *Server) applyNumberRefs(ctx context.Context, n *db.PhoneNumber, in *numberInput) error {
	for _, ref := range []struct {
		opt   httpapi.Opt[string]
		dst   **string
		field string
	}{{in.AssistantID, &n.AssistantID, "assistant_id"}, {in.OutboundAssistantID, &n.OutboundAssistantID, "outbound_assistant_id"}} {
		if !ref.opt.Set {
			continue
		}
		if ref.opt.Null || ref.opt.Value == "" {
			*ref.dst = nil
			continue
		}
		if _, err := s.store.GetAssistant(ctx, n.OrgID, ref.opt.Value); err != nil {
			if errors.Is(err, db.ErrNotFound) {
				return httpapi.NotFoundField(ref.field, "assistant "+strconv.Quote(ref.opt.Value))
			}
			return err
		}
		v := ref.opt.Value
		*ref.dst = &v
	}
	if in.SIPTrunkID.Set {
		if in.SIPTrunkID.Null || in.SIPTrunkID.Value == "" {
			n.SIPTrunkID = nil
		} else {
			if _, err := s.store.GetTrunk(ctx, n.OrgID, in.SIPTrunkID.Value); err != nil {
				if errors.Is(err, db.ErrNotFound) {
					return httpapi.NotFoundField("sip_trunk_id", "SIP trunk "+strconv.Quote(in.SIPTrunkID.Value))
				}
				return err
			}
			v := in.SIPTrunkID.Value
			n.SIPTrunkID = &v
		}
	}
	return nil
}

func (s *Server) listNumbers(c echo.Context) error {
	skip, limit, err := httpapi.Page(c)
	if err != nil {
		return err
	}
	f := db.NumberFilter{Provider: c.QueryParam("provider"), AssistantID: c.QueryParam("assistant_id"), SIPTrunkID: c.QueryParam("sip_trunk_id"), Search: c.QueryParam("q")}
	if f.Provider != "" && !httpapi.ValidProvider(f.Provider) {
		return httpapi.Invalid("provider", "provider must be one of %s", strings.Join(db.Providers, ", "))
	}
	if v := c.QueryParam("is_active"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return httpapi.Invalid("is_active", "is_active must be true or false")
		}
		f.Active = &b
	}
	for field, v := range map[string]string{"q": f.Search, "assistant_id": f.AssistantID, "sip_trunk_id": f.SIPTrunkID} {
		if err := httpapi.CheckText(field, v, 100); err != nil {
			return err
		}
	}
	items, total, err := s.store.ListNumbers(c.Request().Context(), httpapi.OrgID(c), f, db.Page{Skip: skip, Limit: limit})
	if err != nil {
		return err
	}
	out := make([]numberView, 0, len(items))
	for i := range items {
		out = append(out, numberViewOf(&items[i]))
	}
	return httpapi.WriteList(c, out, total, skip, limit)
}

func (s *Server) createNumber(c echo.Context) error {
	var in numberInput
	if err := httpapi.BindJSON(c, &in); err != nil {
		return err
	}
	n := &db.PhoneNumber{OrgID: httpapi.OrgID(c), IsActive: true, CapVoice: true}
	if err := s.applyNumber(c, n, &in, true); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, owned, err := s.store.NumberOwner(ctx, n.PhoneNumber); err != nil {
		return err
	} else if owned {
		return httpapi.Conflict("phone_number", "%s is already registered", n.PhoneNumber)
	}
	if err := s.store.SaveNumber(ctx, n); err != nil {
		if httpapi.IsConflict(err) {
			return httpapi.Conflict("phone_number", "%s is already registered", n.PhoneNumber)
		}
		return err
	}
	return c.JSON(http.StatusCreated, numberViewOf(n))
}

func (s *Server) loadNumber(c echo.Context) (*db.PhoneNumber, error) {
	n, err := s.store.GetNumber(c.Request().Context(), httpapi.OrgID(c), c.Param("id"))
	if errors.Is(err, db.ErrNotFound) {
		return nil, httpapi.NotFound("phone number")
	}
	return n, err
}

func (s *Server) getNumber(c echo.Context) error {
	n, err := s.loadNumber(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, numberViewOf(n))
}

func (s *Server) patchNumber(c echo.Context) error {
	n, err := s.loadNumber(c)
	if err != nil {
		return err
	}
	var in numberInput
	if err := httpapi.BindJSON(c, &in); err != nil {
		return err
	}
	if err := s.applyNumber(c, n, &in, false); err != nil {
		return err
	}
	if err := s.saveNumber(c.Request().Context(), n); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, numberViewOf(n))
}

// saveNumber writes an existing number (404 if it went meanwhile).
func (s *Server) saveNumber(ctx context.Context, n *db.PhoneNumber) error {
	err := s.store.SaveNumber(ctx, n)
	if errors.Is(err, db.ErrNotFound) {
		return httpapi.NotFound("phone number")
	}
	return err
}

func (s *Server) deleteNumber(c echo.Context) error {
	if err := s.store.DeleteNumber(c.Request().Context(), httpapi.OrgID(c), c.Param("id")); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return httpapi.NotFound("phone number")
		}
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
