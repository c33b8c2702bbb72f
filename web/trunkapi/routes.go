// Package trunkapi serves the SIP trunk routes (/api/v1/sip-trunks) and the
// BYOC numbers with their own carrier trunks (/api/v1/byoc and TalkifAI's
// /v1/byoc paths), with the policy bounding trunks' allowed_addresses.
package trunkapi

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/changes"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/trunk"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// Reconciler is what the trunk routes need of the trunk reconciler.
type Reconciler interface {
	// GatewayName picks the FreeSWITCH gateway (and ACL list) name for a
	// trunk of the organization; exceptID is the trunk being renamed.
	GatewayName(ctx context.Context, orgID int64, trunkName, exceptID string) (string, error)
	// Changed tells the reconciler that the organization's trunks changed.
	Changed(orgID int64)
}

// NodeStates is the trunks' state on each FreeSWITCH node (the trunk
// reconciler's, with FS_NODES).
type NodeStates interface {
	// TrunkNodes is the trunk's state on each node, nil when it is not
	// kept per node.
	TrunkNodes(trunkID, gateway string) []trunk.NodeState
	// NodesVersion changes whenever a node's state of a trunk changes.
	NodesVersion() uint64
}

// Deps are the trunk routes' collaborators.
type Deps struct {
	Store  *db.Store
	Trunks Reconciler
	// BYOC manages BYOC numbers, each with a trunk of its own.
	BYOC *numbers.BYOC
	// ACL bounds trunks' allowed_addresses (nil: DefaultACLPolicy).
	ACL *ACLPolicy
	// LegTimeout is the platform's ring time per trunk (LEG_TIMEOUT), shown
	// as the ring_timeout_seconds of trunks that set none (zero: 30 s).
	LegTimeout time.Duration
	// Changes lets the trunk reads be answered from a cache while the
	// trunks and their statuses are unchanged (nil: no cache).
	Changes *changes.Feed
	// Nodes adds each node's state to the trunk answers (nil: none).
	Nodes NodeStates
}

// Server serves the trunk and BYOC routes on the server core.
type Server struct {
	*httpapi.Server
	store  *db.Store
	trunks Reconciler
	byoc   *numbers.BYOC

	// acl bounds trunks' allowed_addresses; trunkAddrMu serializes the
	// check of a trunk's new addresses with its write (api_trunks.go).
	acl         ACLPolicy
	trunkAddrMu sync.Mutex
	// ringDefault: Deps.LegTimeout in seconds.
	ringDefault int
	// lists and ones are the answers of GET /sip-trunks and
	// GET /sip-trunks/{id}, by organization and query (cache.go).
	lists *changes.Cache[trunkList]
	ones  *changes.Cache[[]byte]
	// nodes is Deps.Nodes.
	nodes NodeStates
}

// Register adds the trunk and BYOC routes to core; the Editor it returns
// writes trunks under the same rules for other front ends.
func Register(core *httpapi.Server, d Deps) *Editor {
	s := &Server{Server: core, store: d.Store, trunks: d.Trunks, byoc: d.BYOC, acl: DefaultACLPolicy(), nodes: d.Nodes}
	s.ringDefault = int(d.LegTimeout / time.Second)
	if d.Changes != nil {
		s.lists = changes.NewCache[trunkList](d.Changes, listCacheMax, changes.Trunks, changes.TrunkStatus)
		s.ones = changes.NewCache[[]byte](d.Changes, trunkCacheMax, changes.Trunks, changes.TrunkStatus)
	}
	if s.ringDefault <= 0 {
		s.ringDefault = 30
	}
	if d.ACL != nil {
		s.acl = *d.ACL
	}
	s.routes()
	return &Editor{s: s}
}

func (s *Server) routes() {
	pageQ := httpapi.PageQuery()
	s.Route(http.MethodGet, "/sip-trunks", "List SIP trunks by priority, then name", "sip-trunks", nil, httpapi.ListBody[trunkView]{}, 200, s.listTrunks, pageQ...)
	s.Route(http.MethodPost, "/sip-trunks", "Create a SIP trunk", "sip-trunks", trunkInput{}, trunkView{}, 201, s.createTrunk)
	s.Route(http.MethodPost, "/sip-trunks/sync", "Reconcile the organization's trunks with FreeSWITCH now", "sip-trunks", nil, syncAccepted{}, 202, s.syncTrunks)
	s.Route(http.MethodGet, "/sip-trunks/:id", "Get a SIP trunk with its sync and gateway state", "sip-trunks", nil, trunkView{}, 200, s.getTrunk)
	s.Route(http.MethodPut, "/sip-trunks/:id", "Update a SIP trunk (fields sent only; the organization's default trunk also changes what /organizations/{id} shows; 409 for a BYOC number's trunk or the environment's)", "sip-trunks", trunkInput{}, trunkView{}, 200, s.putTrunk)
	s.Route(http.MethodDelete, "/sip-trunks/:id", "Delete a SIP trunk (409 for a BYOC number's trunk: DELETE /api/v1/byoc/phone-numbers/{number})", "sip-trunks", nil, nil, 204, s.deleteTrunk)
	s.Route(http.MethodPost, "/sip-trunks/:id/enable", "Enable a SIP trunk", "sip-trunks", nil, trunkView{}, 200, s.enableTrunk)
	s.Route(http.MethodPost, "/sip-trunks/:id/disable", "Disable a SIP trunk", "sip-trunks", nil, trunkView{}, 200, s.disableTrunk)

	s.Route(http.MethodPost, "/byoc/phone-numbers", "Create a BYOC number with its own carrier trunk", "byoc", byocInput{}, byocView{}, 201, s.createBYOC)
	s.Route(http.MethodPut, "/byoc/phone-numbers/:id", "Update a BYOC number (id is the E.164 number)", "byoc", byocInput{}, byocView{}, 200, s.putBYOC)
	s.Route(http.MethodDelete, "/byoc/phone-numbers/:id", "Delete a BYOC number and its trunk", "byoc", nil, nil, 204, s.deleteBYOC)
	s.Route(http.MethodPost, "/byoc/trunks/refresh", "Re-apply one BYOC number's gateway (no profile restart)", "byoc", byocRefreshInput{}, byocRefreshResult{}, 202, s.refreshBYOC)
	s.Route(http.MethodPost, "/byoc/trunks/refresh-all", "Re-apply every BYOC gateway of the organization", "byoc", nil, byocRefreshResult{}, 202, s.refreshAllBYOC)
	// TalkifAI's paths for the same operations, with the same Bearer API key.
	v1 := func(method, path, summary string, req, resp any, status int, h echo.HandlerFunc) {
		s.Handle(httpapi.Operation{Method: method, Path: "/v1" + path, Summary: summary, Tag: "byoc", Auth: true, Req: req, Resp: resp, Status: status}, h, s.Auth)
	}
	v1(http.MethodPost, "/byoc/phone-numbers", "Alias of POST /api/v1/byoc/phone-numbers (TalkifAI path)", byocInput{}, byocView{}, 201, s.createBYOC)
	v1(http.MethodPut, "/byoc/phone-numbers/:phoneNumber", "Alias of PUT /api/v1/byoc/phone-numbers/{id} (TalkifAI path; phoneNumber is the E.164 number)", byocInput{}, byocView{}, 200, s.putBYOC)
	v1(http.MethodDelete, "/byoc/phone-numbers/:phoneNumber", "Alias of DELETE /api/v1/byoc/phone-numbers/{id} (TalkifAI path)", nil, nil, 204, s.deleteBYOC)
	v1(http.MethodPost, "/byoc/trunks/refresh", "Alias of POST /api/v1/byoc/trunks/refresh (TalkifAI path)", byocRefreshInput{}, byocRefreshResult{}, 202, s.refreshBYOC)
	v1(http.MethodPost, "/byoc/trunks/refresh-all", "Alias of POST /api/v1/byoc/trunks/refresh-all (TalkifAI path)", nil, byocRefreshResult{}, 202, s.refreshAllBYOC)
}
