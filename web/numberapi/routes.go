// Package numberapi serves the phone number routes (/api/v1/phone-numbers):
// the organization's number records, and searching, buying, releasing,
// syncing and pointing the webhooks of numbers at their providers.
package numberapi

import (
	"net/http"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// Deps are the number routes' collaborators.
type Deps struct {
	Store *db.Store
	// Numbers buys, registers and configures phone numbers.
	Numbers *numbers.Service
}

// Server serves the number routes on the server core.
type Server struct {
	*httpapi.Server
	store   *db.Store
	numbers *numbers.Service
}

// Register adds the number routes to core; the Editor it returns assigns
// numbers under the same rules for other front ends.
func Register(core *httpapi.Server, d Deps) *Editor {
	s := &Server{Server: core, store: d.Store, numbers: d.Numbers}
	s.routes()
	return &Editor{s: s}
}

func (s *Server) routes() {
	numQ := append([]httpapi.QueryParam{
		httpapi.Query("provider", "string", "twilio|telnyx|vonage|byo-sip-trunk"), httpapi.Query("assistant_id", "string", "inbound or outbound assistant"),
		httpapi.Query("sip_trunk_id", "string", "trunk"), httpapi.Query("is_active", "boolean", "active or not"), httpapi.Query("q", "string", "part of the number or friendly name, in any case"),
	}, httpapi.PageQuery()...)
	s.Route(http.MethodPost, "/phone-numbers/search", "Search numbers available at a provider", "phone-numbers", searchInput{}, httpapi.ListBody[provider.AvailableNumber]{}, 200, s.searchNumbers)
	s.Route(http.MethodPost, "/phone-numbers/purchase", "Buy a number (webhooks pointed at sipbridge) or register a byo-sip-trunk number", "phone-numbers", purchaseInput{}, purchaseResult{}, 200, s.purchaseNumber)
	s.Route(http.MethodPost, "/phone-numbers/release", "Release a number at its provider and delete its record", "phone-numbers", releaseInput{}, releaseResult{}, 200, s.releaseNumber)
	s.Route(http.MethodPut, "/phone-numbers/webhooks", "Change a number's webhooks at its provider", "phone-numbers", webhooksInput{}, webhooksView{}, 200, s.putWebhooks)
	s.Route(http.MethodPost, "/phone-numbers/sync", "Import the numbers the organization owns at its providers", "phone-numbers", nil, syncNumbersResult{}, 200, s.syncNumbers)
	s.Route(http.MethodGet, "/phone-numbers/:id/webhooks", "A number's webhooks at its provider (id or E.164 number)", "phone-numbers", nil, webhooksView{}, 200, s.getWebhooks)

	s.Route(http.MethodGet, "/phone-numbers", "List phone numbers", "phone-numbers", nil, httpapi.ListBody[numberView]{}, 200, s.listNumbers, numQ...)
	s.Route(http.MethodPost, "/phone-numbers", "Register a number the organization already owns (no purchase)", "phone-numbers", numberInput{}, numberView{}, 201, s.createNumber)
	s.Route(http.MethodGet, "/phone-numbers/:id", "Get a phone number", "phone-numbers", nil, numberView{}, 200, s.getNumber)
	s.Route(http.MethodPatch, "/phone-numbers/:id", "Update a phone number (assistant_id: null unassigns, sip_trunk_id: \"\" clears)", "phone-numbers", numberInput{}, numberView{}, 200, s.patchNumber)
	s.Route(http.MethodDelete, "/phone-numbers/:id", "Delete a phone number record", "phone-numbers", nil, nil, 204, s.deleteNumber)
}
