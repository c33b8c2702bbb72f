// Package web is the HTTP side of sipbridge: the REST API under /api/v1, the
// providers' webhooks, the health, readiness and metrics endpoints, and the
// OpenAPI document. It puts together the server core (httpapi) and the
// handler packages, each of which registers its routes on the core.
package web

import (
	"log/slog"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/changes"
	"github.com/sipbridge/sipbridge/netpolicy"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/sms"
	"github.com/sipbridge/sipbridge/web/callapi"
	"github.com/sipbridge/sipbridge/web/httpapi"
	"github.com/sipbridge/sipbridge/web/numberapi"
	"github.com/sipbridge/sipbridge/web/orgapi"
	"github.com/sipbridge/sipbridge/web/smsapi"
	"github.com/sipbridge/sipbridge/web/trunkapi"
)

// TrunkService is what the API needs from the trunk reconciler: the trunk
// routes' and the organization routes' needs.
type TrunkService interface {
	trunkapi.Reconciler
	orgapi.OrgTrunks
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
	Calls callapi.CallService
	Ready []httpapi.ReadyCheck

	// SMS sends, receives and forwards messages (nil: SMS routes answer 503).
	SMS *sms.Service
	// Hosted is the hosted-provider voice path (nil: its webhooks answer 503).
	Hosted callapi.HostedService
	// AddressPolicy checks the hosts tenants give sipbridge to connect to
	// (stream_url, sms_webhook_url, trunk gateway, proxy and realm, …) when
	// they are written: a refused one is 400 naming the field (nil:
	// netpolicy.Default()). Connections are checked again when made.
	AddressPolicy *netpolicy.Policy
	// ACL bounds trunks' allowed_addresses (nil: trunkapi.DefaultACLPolicy).
	ACL *trunkapi.ACLPolicy
	// CallDefaults are the platform's call limits for organizations that
	// set 0, shown in the organization's effective limits (zero: no cap);
	// call control applies them (CallsOptions.DefaultLimits).
	CallDefaults call.PlatformLimits
	// WelcomeAudioDir holds the assistants' welcome_audio files
	// (WELCOME_AUDIO_DIR).
	WelcomeAudioDir string
	// LegTimeout is the platform's ring time per trunk (LEG_TIMEOUT), shown
	// as the ring_timeout_seconds of trunks that set none (zero: 30 s).
	LegTimeout time.Duration
	// Changes is the database's change feed: API keys, and the trunk and
	// organization reads, are answered from caches it validates (nil: no
	// cache).
	Changes *changes.Feed
	// Nodes adds each FreeSWITCH node's state to the trunk answers
	// (FS_NODES; nil: none).
	Nodes trunkapi.NodeStates
}

// Server is the HTTP server: the core with every handler package's routes.
type Server struct {
	*httpapi.Server
	// Trunks writes trunks under the trunk routes' rules (the console uses it).
	Trunks *trunkapi.Editor
	// Numbers assigns numbers under the number routes' rules (the console uses it).
	Numbers *numberapi.Editor
}

// New builds the server and its routes.
func New(d Deps) *Server {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	core := httpapi.New(httpapi.Options{Store: d.Store, Log: d.Log, Ready: d.Ready, AddressPolicy: d.AddressPolicy, Changes: d.Changes})
	callapi.Register(core, callapi.Deps{Store: d.Store, Log: d.Log, Calls: d.Calls, Hosted: d.Hosted})
	orgapi.Register(core, orgapi.Deps{Store: d.Store, Trunks: d.Trunks, Numbers: d.Numbers, CallDefaults: d.CallDefaults, WelcomeAudioDir: d.WelcomeAudioDir, Changes: d.Changes})
	trunks := trunkapi.Register(core, trunkapi.Deps{Store: d.Store, Trunks: d.Trunks, BYOC: d.BYOC, ACL: d.ACL, LegTimeout: d.LegTimeout, Changes: d.Changes, Nodes: d.Nodes})
	numbers := numberapi.Register(core, numberapi.Deps{Store: d.Store, Numbers: d.Numbers})
	smsapi.Register(core, smsapi.Deps{Store: d.Store, Log: d.Log, SMS: d.SMS})
	return &Server{Server: core, Trunks: trunks, Numbers: numbers}
}
