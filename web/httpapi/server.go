// Package httpapi is the core of sipbridge's HTTP server that the handler
// packages share: the router and its middleware (request id, one log line
// and metrics per request, recovery, API key authentication), the health,
// readiness and metrics endpoints, strict JSON binding, list writing,
// validation helpers whose errors name the field, the one error table, and
// the OpenAPI document of every route registered through Handle or Route.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/changes"
	"github.com/sipbridge/sipbridge/netpolicy"
)

// ReadyCheck is one dependency /readyz reports on.
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// Options are what the core of the server needs.
type Options struct {
	Store *db.Store
	Log   *slog.Logger
	Ready []ReadyCheck
	// AddressPolicy checks the hosts tenants give sipbridge to connect to
	// (stream_url, sms_webhook_url, trunk gateway, proxy and realm, …) when
	// they are written: a refused one is 400 naming the field (nil:
	// netpolicy.Default()). Connections are checked again when made.
	AddressPolicy *netpolicy.Policy
	// Changes is the database's change feed, which validates the cache of
	// verified API keys (nil: every request reads the database).
	Changes *changes.Feed
}

// Server is the HTTP server's core: the router with its middleware, the
// error handler, the operations routes (/healthz, /readyz, /metrics,
// /openapi.json) and the register of every route for the OpenAPI
// document. The handler packages add their routes with Handle and Route.
type Server struct {
	e       *echo.Echo
	api     *echo.Group
	store   *db.Store
	keys    *changes.Cache[db.APIKey]
	log     *slog.Logger
	ready   []ReadyCheck
	policy  netpolicy.Policy
	reg     *prometheus.Registry
	reqs    *prometheus.CounterVec
	latency *prometheus.HistogramVec
	ops     []Operation
}

// New builds the server core and its operations routes.
func New(o Options) *Server {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{e: echo.New(), store: o.Store, keys: newKeyCache(o.Changes), log: o.Log, ready: o.Ready, reg: prometheus.NewRegistry()}
	s.policy = netpolicy.Default()
	if o.AddressPolicy != nil {
		s.policy = *o.AddressPolicy
	}
	s.reqs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sipbridge_http_requests_total", Help: "HTTP requests by method, route and status.",
	}, []string{"method", "route", "status"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "sipbridge_http_request_duration_seconds", Help: "HTTP request latency by method and route.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"method", "route"})
	s.reg.MustRegister(s.reqs, s.latency, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	e := s.e
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.Use(s.requestContext, s.recoverer)
	s.api = e.Group("/api/v1", s.Auth)
	s.routes()
	return s
}

// Registry exposes the metrics registry so other packages can add collectors.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.e }

// Echo returns the underlying router (tests list its routes).
func (s *Server) Echo() *echo.Echo { return s.e }

const (
	keyLogger = "logger"
	keyOrg    = "org_id"
)

// requestContext assigns a request id, a child logger, and records metrics
// and one log line per request (never bodies or headers: they hold secrets).
func (s *Server) requestContext(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		rid := c.Request().Header.Get(echo.HeaderXRequestID)
		if rid == "" || len(rid) > 64 || strings.ContainsAny(rid, "\r\n") {
			rid = uuid.NewString()
		}
		c.Response().Header().Set(echo.HeaderXRequestID, rid)
		c.Set(keyLogger, s.log.With("req_id", rid))
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		status := c.Response().Status
		dur := time.Since(start)
		method := methodLabel(c.Request().Method)
		s.reqs.WithLabelValues(method, route, itoa(status)).Inc()
		s.latency.WithLabelValues(method, route).Observe(dur.Seconds())
		attrs := []any{"method", c.Request().Method, "route", route, "status", status, "duration_ms", float64(dur.Microseconds()) / 1000}
		// An authenticated request's logger names its org_id already (SetOrg).
		Logger(c, s.log).Info("request", attrs...)
		return nil
	}
}

// methodLabel is the method as a metrics label: the standard methods
// clients send, anything else OTHER, so made-up methods cannot grow the
// number of series (and memory) without bound.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions:
		return m
	}
	return "OTHER"
}

func (s *Server) recoverer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				Logger(c, s.log).Error("panic in handler", "panic", r)
				err = &APIError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}
			}
		}()
		return next(c)
	}
}

// Logger is the request's logger (request id, organization), else fallback.
func Logger(c echo.Context, fallback *slog.Logger) *slog.Logger {
	if l, ok := c.Get(keyLogger).(*slog.Logger); ok {
		return l
	}
	return fallback
}

func itoa(n int) string { return strconv.Itoa(n) }

// Auth requires "Authorization: Bearer sb_…" and puts the organization in the context.
func (s *Server) Auth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		scheme, key, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="sipbridge"`)
			return &APIError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "missing API key: send Authorization: Bearer sb_…"}
		}
		k, err := s.Authenticate(c.Request().Context(), strings.TrimSpace(key))
		if err != nil {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="sipbridge", error="invalid_token"`)
			if err == db.ErrInvalidKey {
				return &APIError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "invalid or revoked API key"}
			}
			return err
		}
		SetOrg(c, k.OrgID, s.log)
		return next(c)
	}
}

// SetOrg puts an authenticated organization in the request's context, and
// its org_id on the request's log lines.
func SetOrg(c echo.Context, orgID int64, fallback *slog.Logger) {
	c.Set(keyOrg, orgID)
	c.Set(keyLogger, Logger(c, fallback).With("org_id", orgID))
}

// OrgID is the organization the request authenticated as.
func OrgID(c echo.Context) int64 { return c.Get(keyOrg).(int64) }

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

type readyBody struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	body := readyBody{Status: "ok", Checks: map[string]string{}}
	checks := append([]ReadyCheck{{Name: "database", Check: func(ctx context.Context) error { return db.Ping(ctx, s.store.DB) }}}, s.ready...)
	for _, ch := range checks {
		if err := ch.Check(ctx); err != nil {
			body.Status = "unavailable"
			body.Checks[ch.Name] = err.Error()
		} else {
			body.Checks[ch.Name] = "ok"
		}
	}
	if body.Status != "ok" {
		return c.JSON(http.StatusServiceUnavailable, body)
	}
	return c.JSON(http.StatusOK, body)
}

func (s *Server) metrics() echo.HandlerFunc {
	return echo.WrapHandler(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
}
