// Package smsapi serves the SMS/MMS routes (/api/v1/sms and the /sms/send
// alias), the providers' SMS webhooks and the SMS metrics.
package smsapi

import (
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/smsdb"
	"github.com/sipbridge/sipbridge/sms"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// Deps are the SMS routes' collaborators.
type Deps struct {
	Store *db.Store
	Log   *slog.Logger
	// SMS sends, receives and forwards messages (nil: SMS routes answer 503).
	SMS *sms.Service
}

// Server serves the SMS routes on the server core.
type Server struct {
	*httpapi.Server
	store *smsdb.Store
	log   *slog.Logger
	sms   *sms.Service
	// smsRejected counts refused SMS webhooks (webhooks_sms.go).
	smsRejected *prometheus.CounterVec
}

// Register adds the SMS routes and metrics to core.
func Register(core *httpapi.Server, d Deps) {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{Server: core, store: smsdb.New(d.Store), log: d.Log, sms: d.SMS}
	s.routes()
}

func (s *Server) routes() {
	a := func(method, path, summary string, req, resp any, status int, h echo.HandlerFunc, query ...httpapi.QueryParam) {
		s.Route(method, path, summary, "sms", req, resp, status, h, query...)
	}
	pageQ := httpapi.PageQuery()
	s.Handle(httpapi.Operation{Method: http.MethodPost, Path: "/sms/send", Summary: "Send an SMS or MMS (alias of /api/v1/sms/send)", Tag: "sms",
		Auth: true, Req: smsSendInput{}, Resp: smsSendResult{}}, s.sendSMS, s.Auth)
	a(http.MethodPost, "/sms/send", "Send an SMS or MMS through the sender number's provider (durable queue)", smsSendInput{}, smsSendResult{}, 200, s.sendSMS)
	a(http.MethodGet, "/sms/queue/stats", "The organization's send queue and forwarding outbox", nil, smsQueueStats{}, 200, s.smsQueueStats)
	a(http.MethodGet, "/sms/stats", "Message counts: sent, delivered, failed, … overall and per provider", nil, smsStats{}, 200, s.smsStats)
	a(http.MethodGet, "/sms/conversations", "Conversations (assistant number, customer number), most recent first", nil, httpapi.ListBody[conversationView]{}, 200, s.listConversations, pageQ...)
	a(http.MethodGet, "/sms/conversations/:id/messages", "A conversation's messages, oldest first", nil, httpapi.ListBody[smsView]{}, 200, s.conversationMessages, pageQ...)
	a(http.MethodGet, "/sms/:id", "A message with its status", nil, smsView{}, 200, s.getSMS)
	a(http.MethodDelete, "/sms/:id", "Cancel a queued message (409 once it left the queue)", nil, smsView{}, 200, s.cancelSMS)
	a(http.MethodPost, "/assistants/:id/sms-webhook-secret", "Create or rotate the secret signing forwarded SMS (X-Sipbridge-Signature); shown once", nil, webhookSecretView{}, 201, s.rotateSMSSecret)
	s.smsWebhookRoutes()
	s.smsRejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sipbridge_sms_webhooks_rejected_total", Help: "Provider SMS webhooks refused (bad or missing signature, unknown number) by provider.",
	}, []string{"provider"})
	s.Registry().MustRegister(s.smsRejected, newSMSCollector(s.store))
}
