package trunkapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/trunk"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

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
		if err := httpapi.CheckToken("terminationUri", *in.TerminationURI, 255); err != nil {
			return out, err
		}
		hp, _, err := trunk.ParseTerminationURI(*in.TerminationURI)
		if err != nil {
			return out, httpapi.Invalid("terminationUri", "%s", err.Error())
		}
		if err := s.CheckHostPortAddress(ctx, "terminationUri", hp, true); err != nil {
			return out, err
		}
	} else if create {
		return out, httpapi.Invalid("terminationUri", "terminationUri is required")
	}
	for _, f := range []struct {
		v     *string
		field string
	}{{in.InboundAgentID, "inboundAgentId"}, {in.OutboundAgentID, "outboundAgentId"}, {in.SIPUsername, "sipUsername"}, {in.SIPPassword, "sipPassword"}} {
		if f.v != nil {
			if err := httpapi.CheckToken(f.field, *f.v, 128); err != nil {
				return out, err
			}
		}
	}
	if in.FriendlyName != nil {
		if err := httpapi.CheckText("friendlyName", *in.FriendlyName, 200); err != nil {
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
			return out, httpapi.NotFoundField(f.field, "assistant")
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
var byocWording = httpapi.Wording{Fields: map[string]string{"phone_number": "phoneNumber", "assistant_id": ""},
	Field: map[error]string{numbers.ErrNumberNotFound: ""}}

// byocError is the API error of a BYOC route; the trunk rules' refusals
// already name the route's field.
func byocError(err error) error { return httpapi.ErrorIn(httpapi.AsInvalid(err), byocWording) }

func (s *Server) createBYOC(c echo.Context) error {
	var in byocInput
	if err := httpapi.BindJSON(c, &in); err != nil {
		return err
	}
	if in.PhoneNumber == nil {
		return httpapi.Invalid("phoneNumber", "phoneNumber is required")
	}
	num, cc, err := httpapi.NormalizeE164("phoneNumber", strings.TrimSpace(*in.PhoneNumber))
	if err != nil {
		return err
	}
	bi, err := s.byocFromInput(c.Request().Context(), httpapi.OrgID(c), &in, true)
	if err != nil {
		return err
	}
	bi.PhoneNumber, bi.CountryCode = num, cc
	rec, t, err := s.byoc.CreateBYOC(c.Request().Context(), httpapi.OrgID(c), bi)
	if err != nil {
		return byocError(err)
	}
	return c.JSON(http.StatusCreated, s.byocView(rec, t))
}

func (s *Server) putBYOC(c echo.Context) error {
	num, err := s.NumberParam(c)
	if err != nil {
		return err
	}
	if _, _, err := s.byoc.GetBYOC(c.Request().Context(), httpapi.OrgID(c), num); err != nil {
		return byocError(err)
	}
	var in byocInput
	if err := httpapi.BindJSON(c, &in); err != nil {
		return err
	}
	if in.PhoneNumber != nil && *in.PhoneNumber != num {
		return httpapi.Invalid("phoneNumber", "phoneNumber cannot be changed")
	}
	bi, err := s.byocFromInput(c.Request().Context(), httpapi.OrgID(c), &in, false)
	if err != nil {
		return err
	}
	bi.PhoneNumber = num
	rec, t, err := s.byoc.UpdateBYOC(c.Request().Context(), httpapi.OrgID(c), bi)
	if err != nil {
		return byocError(err)
	}
	t, err = s.store.GetTrunk(c.Request().Context(), httpapi.OrgID(c), t.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.byocView(rec, t))
}

func (s *Server) deleteBYOC(c echo.Context) error {
	num, err := s.NumberParam(c)
	if err != nil {
		return err
	}
	if err := s.byoc.DeleteBYOC(c.Request().Context(), httpapi.OrgID(c), num); err != nil {
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
	if err := httpapi.BindJSON(c, &in); err != nil {
		return err
	}
	num, _, err := httpapi.NormalizeE164("phoneNumber", strings.TrimSpace(in.PhoneNumber))
	if err != nil {
		return err
	}
	names, err := s.byoc.RefreshBYOC(c.Request().Context(), httpapi.OrgID(c), num)
	if err != nil {
		return byocError(err)
	}
	return c.JSON(http.StatusAccepted, byocRefreshResult{Success: true, Gateways: names})
}

func (s *Server) refreshAllBYOC(c echo.Context) error {
	names, err := s.byoc.RefreshBYOC(c.Request().Context(), httpapi.OrgID(c), "")
	if err != nil {
		return byocError(err)
	}
	if names == nil {
		names = []string{}
	}
	return c.JSON(http.StatusAccepted, byocRefreshResult{Success: true, Gateways: names})
}
