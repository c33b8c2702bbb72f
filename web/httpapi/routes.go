package httpapi

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// routes registers the operations routes.
func (s *Server) routes() {
	s.Handle(Operation{Method: http.MethodGet, Path: "/healthz", Summary: "Liveness: the process answers", Tag: "ops", Resp: map[string]string{}}, s.healthz)
	s.Handle(Operation{Method: http.MethodGet, Path: "/readyz", Summary: "Readiness: database and FreeSWITCH reachable (503 otherwise)", Tag: "ops", Resp: readyBody{}}, s.readyz)
	s.Handle(Operation{Method: http.MethodGet, Path: "/metrics", Summary: "Prometheus metrics", Tag: "ops", Raw: "text/plain"}, s.metrics())
	s.Handle(Operation{Method: http.MethodGet, Path: "/openapi.json", Summary: "This OpenAPI document", Tag: "ops", Resp: map[string]any{}}, func(c echo.Context) error {
		return c.JSON(http.StatusOK, s.OpenAPI())
	})
}

// Route registers a route of the REST API: path under /api/v1, the
// caller's API key required (Auth), req and resp the body types the
// OpenAPI document shows, status the success status.
func (s *Server) Route(method, path, summary, tag string, req, resp any, status int, h echo.HandlerFunc, query ...QueryParam) {
	s.add(s.api, Operation{Method: method, Path: "/api/v1" + path, Summary: summary, Tag: tag, Auth: true, Req: req, Resp: resp, Status: status, Query: query}, h)
}

// PageQuery are the paging parameters of a list route (Page).
func PageQuery() []QueryParam {
	return []QueryParam{{"skip", "integer", "items to skip (default 0)"}, {"limit", "integer", "page size, 1–500 (default 50)"}}
}

// Query documents a query parameter: its name, its type in the OpenAPI
// document (string, integer, boolean) and what it does.
func Query(name, typ, desc string) QueryParam { return QueryParam{name, typ, desc} }
