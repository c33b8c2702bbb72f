package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/sipbridge/sipbridge/provider"
)

func (s *Server) routes() {
	s.handle(nil, operation{Method: http.MethodGet, Path: "/healthz", Summary: "Liveness: the process answers", Tag: "ops", Resp: map[string]string{}}, s.healthz)
	s.handle(nil, operation{Method: http.MethodGet, Path: "/readyz", Summary: "Readiness: database and FreeSWITCH reachable (503 otherwise)", Tag: "ops", Resp: readyBody{}}, s.readyz)
	s.handle(nil, operation{Method: http.MethodGet, Path: "/metrics", Summary: "Prometheus metrics", Tag: "ops", Raw: "text/plain"}, s.metrics())
	s.handle(nil, operation{Method: http.MethodGet, Path: "/openapi.json", Summary: "This OpenAPI document", Tag: "ops", Resp: map[string]any{}}, func(c echo.Context) error {
		return c.JSON(http.StatusOK, s.OpenAPI())
	})

	for _, p := range []string{"/fs/stream/:id", "/fs/stream/:id/"} {
		s.handle(nil, operation{Method: http.MethodGet, Path: p, Summary: "mod_audio_stream websocket of a live call (token in ?token=)", Tag: "calls", Raw: "websocket"}, s.fsStream)
	}

	s.hostedRoutes()
	s.twilioCompatRoutes()

	api := s.e.Group("/api/v1", s.auth)
	a := func(method, path, summary, tag string, req, resp any, status int, h echo.HandlerFunc, query ...queryParam) {
		s.handle(api, operation{Method: method, Path: "/api/v1" + path, Summary: summary, Tag: tag, Auth: true, Req: req, Resp: resp, Status: status, Query: query}, h)
	}
	pageQ := []queryParam{{"skip", "integer", "items to skip (default 0)"}, {"limit", "integer", "page size, 1–500 (default 50)"}}

	a(http.MethodGet, "/organization", "The caller's organization", "organization", nil, orgView{}, 200, s.getOrg)
	a(http.MethodPut, "/organization", "Update the organization (fields sent only; secrets write-only, \"\" clears)", "organization", orgInput{}, orgView{}, 200, s.putOrg)
	a(http.MethodGet, "/organizations/:id", "The caller's organization by id (another id: 404)", "organization", nil, orgView{}, 200, s.getOrgByID)
	a(http.MethodPut, "/organizations/:id", "Update the caller's organization by id (another id: 404); sip_gateway, sip_username, sip_password and sip_trunk_config make its default SIP trunk", "organization", orgInput{}, orgView{}, 200, s.putOrgByID)

	a(http.MethodGet, "/api-keys", "List API keys (never the keys themselves)", "api-keys", nil, listBody[apiKeyView]{}, 200, s.listKeys)
	a(http.MethodPost, "/api-keys", "Create an API key; the key is shown once", "api-keys", apiKeyInput{}, apiKeyCreated{}, 201, s.createKey)
	a(http.MethodDelete, "/api-keys/:id", "Revoke an API key (409 for the organization's last active key)", "api-keys", nil, nil, 204, s.revokeKey)

	a(http.MethodGet, "/assistants", "List assistants", "assistants", nil, listBody[assistantView]{}, 200, s.listAssistants, pageQ...)
	a(http.MethodPost, "/assistants", "Create an assistant", "assistants", assistantInput{}, assistantView{}, 201, s.createAssistant)
	a(http.MethodGet, "/assistants/:id", "Get an assistant", "assistants", nil, assistantView{}, 200, s.getAssistant)
	a(http.MethodPut, "/assistants/:id", "Update an assistant (fields sent only)", "assistants", assistantInput{}, assistantView{}, 200, s.putAssistant)
	a(http.MethodDelete, "/assistants/:id", "Delete an assistant (its numbers become unassigned)", "assistants", nil, nil, 204, s.deleteAssistant)

	a(http.MethodGet, "/sip-trunks", "List SIP trunks by priority, then name", "sip-trunks", nil, listBody[trunkView]{}, 200, s.listTrunks, pageQ...)
	a(http.MethodPost, "/sip-trunks", "Create a SIP trunk", "sip-trunks", trunkInput{}, trunkView{}, 201, s.createTrunk)
	a(http.MethodPost, "/sip-trunks/sync", "Reconcile the organization's trunks with FreeSWITCH now", "sip-trunks", nil, syncAccepted{}, 202, s.syncTrunks)
	a(http.MethodGet, "/sip-trunks/:id", "Get a SIP trunk with its sync and gateway state", "sip-trunks", nil, trunkView{}, 200, s.getTrunk)
	a(http.MethodPut, "/sip-trunks/:id", "Update a SIP trunk (fields sent only; the organization's default trunk also changes what /organizations/{id} shows; 409 for a BYOC number's trunk or the environment's)", "sip-trunks", trunkInput{}, trunkView{}, 200, s.putTrunk)
	a(http.MethodDelete, "/sip-trunks/:id", "Delete a SIP trunk (409 for a BYOC number's trunk: DELETE /api/v1/byoc/phone-numbers/{number})", "sip-trunks", nil, nil, 204, s.deleteTrunk)
	a(http.MethodPost, "/sip-trunks/:id/enable", "Enable a SIP trunk", "sip-trunks", nil, trunkView{}, 200, s.enableTrunk)
	a(http.MethodPost, "/sip-trunks/:id/disable", "Disable a SIP trunk", "sip-trunks", nil, trunkView{}, 200, s.disableTrunk)

	numQ := append([]queryParam{
		{"provider", "string", "twilio|telnyx|vonage|byo-sip-trunk"}, {"assistant_id", "string", "inbound or outbound assistant"},
		{"sip_trunk_id", "string", "trunk"}, {"is_active", "boolean", "active or not"}, {"q", "string", "part of the number or friendly name, in any case"},
	}, pageQ...)
	a(http.MethodPost, "/phone-numbers/search", "Search numbers available at a provider", "phone-numbers", searchInput{}, listBody[provider.AvailableNumber]{}, 200, s.searchNumbers)
	a(http.MethodPost, "/phone-numbers/purchase", "Buy a number (webhooks pointed at sipbridge) or register a byo-sip-trunk number", "phone-numbers", purchaseInput{}, purchaseResult{}, 200, s.purchaseNumber)
	a(http.MethodPost, "/phone-numbers/release", "Release a number at its provider and delete its record", "phone-numbers", releaseInput{}, releaseResult{}, 200, s.releaseNumber)
	a(http.MethodPut, "/phone-numbers/webhooks", "Change a number's webhooks at its provider", "phone-numbers", webhooksInput{}, webhooksView{}, 200, s.putWebhooks)
	a(http.MethodPost, "/phone-numbers/sync", "Import the numbers the organization owns at its providers", "phone-numbers", nil, syncNumbersResult{}, 200, s.syncNumbers)
	a(http.MethodGet, "/phone-numbers/:id/webhooks", "A number's webhooks at its provider (id or E.164 number)", "phone-numbers", nil, webhooksView{}, 200, s.getWebhooks)
	a(http.MethodPost, "/byoc/phone-numbers", "Create a BYOC number with its own carrier trunk", "byoc", byocInput{}, byocView{}, 201, s.createBYOC)
	a(http.MethodPut, "/byoc/phone-numbers/:id", "Update a BYOC number (id is the E.164 number)", "byoc", byocInput{}, byocView{}, 200, s.putBYOC)
	a(http.MethodDelete, "/byoc/phone-numbers/:id", "Delete a BYOC number and its trunk", "byoc", nil, nil, 204, s.deleteBYOC)
	a(http.MethodPost, "/byoc/trunks/refresh", "Re-apply one BYOC number's gateway (no profile restart)", "byoc", byocRefreshInput{}, byocRefreshResult{}, 202, s.refreshBYOC)
	a(http.MethodPost, "/byoc/trunks/refresh-all", "Re-apply every BYOC gateway of the organization", "byoc", nil, byocRefreshResult{}, 202, s.refreshAllBYOC)
	// TalkifAI's paths for the same operations, with the same Bearer API key.
	v1 := func(method, path, summary string, req, resp any, status int, h echo.HandlerFunc) {
		s.handle(nil, operation{Method: method, Path: "/v1" + path, Summary: summary, Tag: "byoc", Auth: true, Req: req, Resp: resp, Status: status}, h, s.auth)
	}
	v1(http.MethodPost, "/byoc/phone-numbers", "Alias of POST /api/v1/byoc/phone-numbers (TalkifAI path)", byocInput{}, byocView{}, 201, s.createBYOC)
	v1(http.MethodPut, "/byoc/phone-numbers/:phoneNumber", "Alias of PUT /api/v1/byoc/phone-numbers/{id} (TalkifAI path; phoneNumber is the E.164 number)", byocInput{}, byocView{}, 200, s.putBYOC)
	v1(http.MethodDelete, "/byoc/phone-numbers/:phoneNumber", "Alias of DELETE /api/v1/byoc/phone-numbers/{id} (TalkifAI path)", nil, nil, 204, s.deleteBYOC)
	v1(http.MethodPost, "/byoc/trunks/refresh", "Alias of POST /api/v1/byoc/trunks/refresh (TalkifAI path)", byocRefreshInput{}, byocRefreshResult{}, 202, s.refreshBYOC)
	v1(http.MethodPost, "/byoc/trunks/refresh-all", "Alias of POST /api/v1/byoc/trunks/refresh-all (TalkifAI path)", nil, byocRefreshResult{}, 202, s.refreshAllBYOC)

	a(http.MethodGet, "/phone-numbers", "List phone numbers", "phone-numbers", nil, listBody[numberView]{}, 200, s.listNumbers, numQ...)
	a(http.MethodPost, "/phone-numbers", "Register a number the organization already owns (no purchase)", "phone-numbers", numberInput{}, numberView{}, 201, s.createNumber)
	a(http.MethodGet, "/phone-numbers/:id", "Get a phone number", "phone-numbers", nil, numberView{}, 200, s.getNumber)
	a(http.MethodPatch, "/phone-numbers/:id", "Update a phone number (assistant_id: null unassigns, sip_trunk_id: \"\" clears)", "phone-numbers", numberInput{}, numberView{}, 200, s.patchNumber)
	a(http.MethodDelete, "/phone-numbers/:id", "Delete a phone number record", "phone-numbers", nil, nil, 204, s.deleteNumber)

	callQ := append([]queryParam{
		{"status", "string", "ringing|in-progress|completed|failed|refused"}, {"assistant_id", "string", "assistant"},
		{"phone_number", "string", "E.164 number (from, to or resolved DID)"}, {"direction", "string", "inbound|outbound"},
		{"from", "string", "started at or after (RFC 3339 or YYYY-MM-DD)"}, {"to", "string", "started before (RFC 3339 or YYYY-MM-DD)"},
	}, pageQ...)
	a(http.MethodPost, "/calls/initiate", "Place an outbound call from one of the organization's numbers to an assistant: answers once the call is placed (wait=true: once answered); status_callback receives its progress; no enabled SIP trunk: 422 no_trunk", "calls", initiateInput{}, initiateResult{}, 200, s.initiateCall)
	s.handle(nil, operation{Method: http.MethodPost, Path: "/calls/initiate", Summary: "Alias of /api/v1/calls/initiate (same API key)", Tag: "calls", Auth: true,
		Req: initiateInput{}, Resp: initiateResult{}, Status: 200}, s.initiateCall, s.auth)
	a(http.MethodGet, "/calls", "List calls, newest first", "calls", nil, listBody[callView]{}, 200, s.listCalls, callQ...)
	a(http.MethodGet, "/calls/:id", "Get a call record by its id or its call_sid (channel UUID or provider id)", "calls", nil, callView{}, 200, s.getCall)
	a(http.MethodGet, "/calls/:id/events", "A call's timeline", "calls", nil, listBody[callEventView]{}, 200, s.callEvents)
	a(http.MethodPost, "/calls/:id/hangup", "Hang up a live call", "calls", nil, callAccepted{}, 202, s.hangupCall)
	a(http.MethodPost, "/calls/:id/transfer", "Transfer a live call: sip: URI by REFER, E.164 number bridged out through the trunks; if nobody takes it the caller stays with the assistant (transfer_failed); no enabled SIP trunk to bridge through: 422 no_trunk", "calls", callTransferInput{}, callAccepted{}, 202, s.transferCall)
	a(http.MethodGet, "/calls/:id/recording", "Download the call's stereo WAV recording (caller left, assistant right)", "calls", nil, nil, 200, s.callRecording)
	s.smsRoutes(api)
}
