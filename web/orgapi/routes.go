// Package orgapi serves the organization routes: the caller's organization
// (with its organization-level SIP settings, which make its default trunk),
// its API keys and its assistants.
package orgapi

import (
	"context"
	"net/http"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/changes"
	"github.com/sipbridge/sipbridge/numbers"
	"github.com/sipbridge/sipbridge/trunk"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// OrgTrunks is what the organization routes need of the trunk reconciler.
type OrgTrunks interface {
	// SetOrgTrunk writes the organization's default trunk from its
	// organization-level SIP settings (nil: it has none).
	SetOrgTrunk(ctx context.Context, orgID int64, in trunk.OrgSettings) (*db.SIPTrunk, error)
	// CheckOrgTrunk refuses what SetOrgTrunk would refuse, writing nothing.
	CheckOrgTrunk(ctx context.Context, orgID int64, in trunk.OrgSettings) error
}

// Deps are the organization routes' collaborators.
type Deps struct {
	Store  *db.Store
	Trunks OrgTrunks
	// Numbers holds the credentials an assistant's provider calls use.
	Numbers *numbers.Service
	// CallDefaults are the platform's call limits for organizations that
	// set 0, shown in the organization's effective limits (zero: no cap).
	CallDefaults call.PlatformLimits
	// WelcomeAudioDir is where an assistant's welcome_audio files are
	// (WELCOME_AUDIO_DIR; "": none can be set).
	WelcomeAudioDir string
	// Changes lets GET /organization be answered from a cache while the
	// organizations and trunks are unchanged (nil: no cache).
	Changes *changes.Feed
}

// Server serves the organization, API key and assistant routes on the
// server core.
type Server struct {
	*httpapi.Server
	store   *db.Store
	trunks  OrgTrunks
	numbers *numbers.Service
	// callDefaults: Deps.CallDefaults.
	callDefaults call.PlatformLimits
	welcomeDir   string // Deps.WelcomeAudioDir
	// orgs are the encoded answers of GET /organization, by organization.
	orgs *changes.Cache[[]byte]
}

// Register adds the organization, API key and assistant routes to core.
func Register(core *httpapi.Server, d Deps) {
	s := &Server{Server: core, store: d.Store, trunks: d.Trunks, numbers: d.Numbers, callDefaults: d.CallDefaults, welcomeDir: d.WelcomeAudioDir}
	if d.Changes != nil {
		// The view reads the organization and its default trunk with its status.
		s.orgs = changes.NewCache[[]byte](d.Changes, orgCacheMax, changes.Organizations, changes.Trunks, changes.TrunkStatus)
	}
	s.routes()
}

func (s *Server) routes() {
	s.Route(http.MethodGet, "/organization", "The caller's organization", "organization", nil, orgView{}, 200, s.getOrg)
	s.Route(http.MethodPut, "/organization", "Update the organization (fields sent only; secrets write-only, \"\" clears)", "organization", orgInput{}, orgView{}, 200, s.putOrg)
	s.Route(http.MethodGet, "/organizations/:id", "The caller's organization by id (another id: 404)", "organization", nil, orgView{}, 200, s.getOrgByID)
	s.Route(http.MethodPut, "/organizations/:id", "Update the caller's organization by id (another id: 404); sip_gateway, sip_username, sip_password and sip_trunk_config make its default SIP trunk", "organization", orgInput{}, orgView{}, 200, s.putOrgByID)
	s.Route(http.MethodGet, "/api-keys", "List API keys (never the keys themselves)", "api-keys", nil, httpapi.ListBody[apiKeyView]{}, 200, s.listKeys)
	s.Route(http.MethodPost, "/api-keys", "Create an API key; the key is shown once", "api-keys", apiKeyInput{}, apiKeyCreated{}, 201, s.createKey)
	s.Route(http.MethodDelete, "/api-keys/:id", "Revoke an API key (409 for the organization's last active key)", "api-keys", nil, nil, 204, s.revokeKey)
	s.Route(http.MethodGet, "/assistants", "List assistants", "assistants", nil, httpapi.ListBody[assistantView]{}, 200, s.listAssistants, httpapi.PageQuery()...)
	s.Route(http.MethodPost, "/assistants", "Create an assistant", "assistants", assistantInput{}, assistantView{}, 201, s.createAssistant)
	s.Route(http.MethodGet, "/assistants/:id", "Get an assistant", "assistants", nil, assistantView{}, 200, s.getAssistant)
	s.Route(http.MethodPut, "/assistants/:id", "Update an assistant (fields sent only)", "assistants", assistantInput{}, assistantView{}, 200, s.putAssistant)
	s.Route(http.MethodDelete, "/assistants/:id", "Delete an assistant (its numbers become unassigned)", "assistants", nil, nil, 204, s.deleteAssistant)
}
