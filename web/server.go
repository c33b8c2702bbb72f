// Package web is the HTTP side of sipbridge: the REST API under /api/v1, the
// health, readiness and metrics endpoints, and the OpenAPI document.
package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/netpolicy"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/sms"
	"github.com/sipbridge/sipbridge/trunk"
)

// TrunkService is what the API needs from the trunk reconciler.
type TrunkService interface {
	// GatewayName picks the FreeSWITCH gateway (and ACL list) name for a
	// trunk of the organization; exceptID is the trunk being renamed.
	GatewayName(ctx context.Context, orgID int64, trunkName, exceptID string) (string, error)
	// Changed tells the reconciler that the organization's trunks changed.
	Changed(orgID int64)
	// SetOrgTrunk writes the organization's default trunk from its
	// organization-level SIP settings (nil: it has none).
	SetOrgTrunk(ctx context.Context, orgID int64, in trunk.OrgSettings) (*db.SIPTrunk, error)
}

// ReadyCheck is one dependency /readyz reports on.
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// Deps are the server's collaborators.
type Deps struct {
	Store  *db.Store
	Log    *slog.Logger
	Trunks TrunkService
	// Numbers buys, registers and configures phone numbers.
	Numbers *numbers.Service
	// BYOC manages BYOC numbers, each with a trunk of its own.
	BYOC *numbers.BYOC
	// Calls is call control (nil: the calls API reads records only).
	Calls CallService
	Ready []ReadyCheck

	// SMS sends, receives and forwards messages (nil: SMS routes answer 503).
	SMS *sms.Service
	// Hosted is the hosted-provider voice path (nil: its webhooks answer 503).
	Hosted HostedService
	// AddressPolicy checks the hosts tenants give sipbridge to connect to
	// (stream_url, sms_webhook_url, trunk gateway, proxy and realm, …) when
	// they are written: a refused one is 400 naming the field (nil:
	// netpolicy.Default()). Connections are checked again when made.
	AddressPolicy *netpolicy.Policy
	// ACL bounds trunks' allowed_addresses (nil: DefaultACLPolicy).
	ACL *ACLPolicy
	// CallDefaults are the platform's call limits for organizations that
	// set 0, shown in the organization's effective limits (zero: no cap);
	// call control applies them (CallsOptions.DefaultLimits).
	CallDefaults call.PlatformLimits
	// LegTimeout is the platform's ring time per trunk (LEG_TIMEOUT), shown
	// as the ring_timeout_seconds of trunks that set none (zero: 30 s).
	LegTimeout time.Duration
}

// Server is the HTTP server.
type Server struct {
	e       *echo.Echo
	store   *db.Store
	log     *slog.Logger
	trunks  TrunkService
	numbers *numbers.Service
	byoc    *numbers.BYOC
	calls   CallService
	sms     *sms.Service
	hosted  HostedService
	// paths picks the path of a live call from its record (hangup,
	// transfer).
	paths   call.Chooser
	ready   []ReadyCheck
	policy  netpolicy.Policy
	reg     *prometheus.Registry
	reqs    *prometheus.CounterVec
	latency *prometheus.HistogramVec
	ops     []operation

	// smsRejected counts refused SMS webhooks (api_sms.go).
	smsRejected *prometheus.CounterVec

	// acl bounds trunks' allowed_addresses; trunkAddrMu serializes the
	// check of a trunk's new addresses with its write (api_trunks.go).
	acl         ACLPolicy
	trunkAddrMu sync.Mutex
	// callDefaults: Deps.CallDefaults.
	callDefaults call.PlatformLimits
	// ringDefault: Deps.LegTimeout in seconds.
	ringDefault int
}

// New builds the server and its routes.
func New(d Deps) *Server {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{e: echo.New(), store: d.Store, log: d.Log, trunks: d.Trunks, numbers: d.Numbers, byoc: d.BYOC, calls: d.Calls, sms: d.SMS, hosted: d.Hosted, ready: d.Ready, reg: prometheus.NewRegistry()}
	if d.Calls != nil {
		s.paths.SIP = d.Calls
	}
	if d.Hosted != nil {
		s.paths.Hosted = d.Hosted
	}
	s.policy = netpolicy.Default()
	if d.AddressPolicy != nil {
		s.policy = *d.AddressPolicy
	}
	s.acl, s.callDefaults = DefaultACLPolicy(), d.CallDefaults
	s.ringDefault = int(d.LegTimeout / time.Second)
	if s.ringDefault <= 0 {
		s.ringDefault = 30
	}
	if d.ACL != nil {
		s.acl = *d.ACL
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
	s.routes()
	return s
}

// Registry exposes the metrics registry so other packages can add collectors.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.e }

// Echo returns the underlying router (tests list its routes).
func (s *Server) Echo() *echo.Echo { return s.e }

type ctxKey int

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
		if org, ok := c.Get(keyOrg).(int64); ok {
			attrs = append(attrs, "org_id", org)
		}
		reqLogger(c, s.log).Info("request", attrs...)
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
				reqLogger(c, s.log).Error("panic in handler", "panic", r)
				err = &APIError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}
			}
		}()
		return next(c)
	}
}

func reqLogger(c echo.Context, fallback *slog.Logger) *slog.Logger {
	if l, ok := c.Get(keyLogger).(*slog.Logger); ok {
		return l
	}
	return fallback
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// auth requires "Authorization: Bearer sb_…" and puts the organization in the context.
func (s *Server) auth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		scheme, key, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="sipbridge"`)
			return &APIError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "missing API key: send Authorization: Bearer sb_…"}
		}
		k, err := s.store.Authenticate(c.Request().Context(), strings.TrimSpace(key))
		if err != nil {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="sipbridge", error="invalid_token"`)
			if err == db.ErrInvalidKey {
				return &APIError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "invalid or revoked API key"}
			}
			return err
		}
		c.Set(keyOrg, k.OrgID)
		c.Set(keyLogger, reqLogger(c, s.log).With("org_id", k.OrgID))
		return next(c)
	}
}

func orgID(c echo.Context) int64 { return c.Get(keyOrg).(int64) }

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
