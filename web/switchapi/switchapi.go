// Package switchapi serves the operator's view of the FreeSWITCH nodes
// (GET /api/v1/switch/nodes). The route is the platform operator's, not a
// tenant's: it answers to the operator token (OPERATOR_TOKEN) only, never
// to an organization's API key (401, as while no token is set).
package switchapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// Node is one FreeSWITCH node as the operator sees it.
type Node struct {
	Name            string         `json:"name" doc:"as in FS_NODES (fs1 for the one node at FS_ESL_ADDR)"`
	ESLAddress      string         `json:"esl_address" doc:"Event Socket host:port"`
	Connected       bool           `json:"connected" doc:"every connection sipbridge keeps to the node is up"`
	LastError       string         `json:"last_error" doc:"why it is not connected (the last connect attempt's error; never a password); empty when connected"`
	Gateways        int            `json:"gateways" doc:"sipbridge's gateways the node reports in the profile"`
	GatewaysByState map[string]int `json:"gateways_by_state" doc:"those gateways by their last reported state (REGED, NOREG, FAILED, …)"`
	// LeaseOwner is set with replicas only.
	LeaseOwner string `json:"lease_owner,omitempty" doc:"with replicas (REPLICA_ADDR): the replica whose lease controls the node's calls (absent: none holds it)"`
}

// Deps are the route's collaborators.
type Deps struct {
	// Nodes lists the nodes in their configured order.
	Nodes func() []Node
	// Token is the operator token (OPERATOR_TOKEN); empty: the route
	// answers 401 to every request.
	Token string
}

// Register adds GET /api/v1/switch/nodes to core.
func Register(core *httpapi.Server, d Deps) {
	op := httpapi.Operation{Method: http.MethodGet, Path: "/api/v1/switch/nodes", Tag: "switch", Auth: true,
		Summary: "List the FreeSWITCH nodes with their connection and gateway counts (operator token only: Authorization: Bearer $OPERATOR_TOKEN)",
		Resp:    httpapi.ListBody[Node]{}}
	core.Handle(op, func(c echo.Context) error {
		ns := d.Nodes()
		return c.JSON(http.StatusOK, ns)
	}, operator(d.Token))
}

// operator lets through the requests that carry the operator token.
func operator(token string) echo.MiddlewareFunc {
	want := sha256.Sum256([]byte(token))
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if token == "" {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="sipbridge operator"`)
				return &httpapi.APIError{Status: http.StatusUnauthorized, Code: "unauthorized",
					Message: "the nodes route answers to the operator token only, and OPERATOR_TOKEN is not set"}
			}
			scheme, key, ok := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
			got := sha256.Sum256([]byte(strings.TrimSpace(key)))
			if !ok || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="sipbridge operator"`)
				return &httpapi.APIError{Status: http.StatusUnauthorized, Code: "unauthorized",
					Message: "the nodes route needs the operator token (OPERATOR_TOKEN), not an organization's API key"}
			}
			return next(c)
		}
	}
}
