package trunkapi

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/trunk"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

type syncStatusView struct {
	State     string     `json:"state" doc:"pending | applied | error"`
	Message   string     `json:"message"`
	AppliedAt *time.Time `json:"applied_at"`
}

type trunkView struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	GatewayName      string         `json:"gateway_name" doc:"FreeSWITCH gateway and ACL list name, as fs_cli shows it"`
	Gateway          string         `json:"gateway"`
	Username         string         `json:"username"`
	PasswordSet      bool           `json:"password_set"`
	Priority         int            `json:"priority"`
	Enabled          bool           `json:"enabled"`
	Register         bool           `json:"register"`
	Realm            string         `json:"realm"`
	Proxy            string         `json:"proxy"`
	Transport        string         `json:"transport"`
	SRTP             string         `json:"srtp" doc:"off | optional | mandatory: SDES SRTP on the trunk's calls"`
	FromUser         string         `json:"from_user"`
	FromDomain       string         `json:"from_domain"`
	CallerIDInFrom   bool           `json:"caller_id_in_from"`
	ExpireSeconds    int            `json:"expire_seconds"`
	RetrySeconds     int            `json:"retry_seconds"`
	PingSeconds      int            `json:"ping_seconds"`
	AllowedAddresses []string       `json:"allowed_addresses"`
	Codecs           []string       `json:"codecs"`
	Provider         string         `json:"provider"`
	Source           string         `json:"source" doc:"who owns the settings: api (this API), organization (PUT /api/v1/organizations/{id}: the organization's default trunk, editable here too), environment (SIP_GATEWAY: read-only), byoc (the BYOC routes)"`
	InboundEnabled   bool           `json:"inbound_enabled" doc:"false refuses the trunk's inbound calls with 480, recorded as refused"`
	TransferMode     string         `json:"transfer_mode" doc:"bridge | refer: how calls from this trunk are moved to a phone number"`
	ReferToTemplate  string         `json:"refer_to_template" doc:"Refer-To for transfer_mode=refer, with {e164}: tel:{e164} or sip:{e164}@host"`
	RingTimeout      int            `json:"ring_timeout_seconds" doc:"how long this trunk's leg rings in outbound calls, bridged transfers and fallbacks before the next trunk is tried (the platform's LEG_TIMEOUT, default 30, when the trunk sets none)"`
	SyncStatus       syncStatusView `json:"sync_status"`
	GatewayState     string         `json:"gateway_state" doc:"live FreeSWITCH state: REGED, FAILED, NOREG, DOWN, …"`
	PingStatus       string         `json:"ping_status"`
	LastStatusCode   int            `json:"last_status_code"`
	CreatedAt        time.Time      `json:"created_at"`
	UpdatedAt        time.Time      `json:"updated_at"`
	Nodes            []nodeView     `json:"nodes,omitempty" doc:"with FS_NODES only: the trunk on each FreeSWITCH node, one entry per node; gateway_state above is then REGED (or NOREG) only when every node says so, else the worst node's state (DOWN, FAILED/FAIL_WAIT, UNREGED, no report yet, TRYING/REGISTER), and sync_status the worst node's (error naming the node, pending, applied)"`
}

// nodeView is a trunk's state on one FreeSWITCH node.
type nodeView struct {
	Node           string         `json:"node"`
	GatewayState   string         `json:"gateway_state" doc:"as the node last reported it; empty before its first report"`
	LastStatusCode int            `json:"last_status_code"`
	SyncStatus     nodeSyncStatus `json:"sync_status"`
}

type nodeSyncStatus struct {
	State   string `json:"state" doc:"pending | applied | error"`
	Message string `json:"message"`
}

type trunkInput struct {
	Name             *string   `json:"name" required:"true" doc:"free text, unique per organization"`
	Gateway          *string   `json:"gateway" required:"true" doc:"host[:port] of the carrier or PBX"`
	Username         *string   `json:"username"`
	Password         *string   `json:"password" doc:"write-only"`
	Priority         *int      `json:"priority" doc:"≥ 0, lower first (default 1)"`
	Enabled          *bool     `json:"enabled" doc:"default true"`
	Register         *bool     `json:"register" doc:"true = registration trunk (default), false = IP-auth"`
	Realm            *string   `json:"realm"`
	Proxy            *string   `json:"proxy" doc:"host[:port]"`
	Transport        *string   `json:"transport" doc:"udp | tcp | tls"`
	SRTP             *string   `json:"srtp" doc:"off (default) | optional (offer SDES crypto, accept plain RTP) | mandatory (SRTP only: an offer without crypto is refused with 488)"`
	FromUser         *string   `json:"from_user"`
	FromDomain       *string   `json:"from_domain"`
	CallerIDInFrom   *bool     `json:"caller_id_in_from"`
	ExpireSeconds    *int      `json:"expire_seconds"`
	RetrySeconds     *int      `json:"retry_seconds"`
	PingSeconds      *int      `json:"ping_seconds"`
	AllowedAddresses *[]string `json:"allowed_addresses" doc:"addresses or CIDRs (written as their network, no host bits; /16 IPv4 and /32 IPv6 at the broadest unless the platform sets MAX_ACL_PREFIX) allowed to send INVITEs; an address another organization's trunk allows is 409 unless it is shared carrier space"`
	Codecs           *[]string `json:"codecs" doc:"at most 16, each a codec FreeSWITCH knows (PCMU, PCMA, G722, OPUS, G729, …; any case) with optional @params (8000h, 20i, 1c), none twice"`
	Provider         *string   `json:"provider" doc:"free label"`
	InboundEnabled   *bool     `json:"inbound_enabled" doc:"default true; false refuses the trunk's inbound calls with 480"`
	TransferMode     *string   `json:"transfer_mode" doc:"bridge (default) | refer"`
	ReferToTemplate  *string   `json:"refer_to_template" doc:"tel:{e164} (carriers such as Twilio) or sip:{e164}@host (PBXs)"`
	RingTimeout      *int      `json:"ring_timeout_seconds" doc:"5–120 seconds this trunk's leg rings before the next trunk is tried (default: the platform's LEG_TIMEOUT, 30)"`
}

type syncAccepted struct {
	Status string `json:"status"`
}

func (s *Server) trunkView(t *db.SIPTrunk) trunkView {
	v := trunkView{
		ID: t.ID, Name: t.Name, GatewayName: t.GatewayName, Gateway: t.Gateway, Username: t.Username,
		PasswordSet: t.PasswordEnc != "", Priority: t.Priority, Enabled: t.Enabled, Register: t.Register,
		Realm: t.Realm, Proxy: t.Proxy, Transport: t.Transport, SRTP: t.SRTP, FromUser: t.FromUser, FromDomain: t.FromDomain,
		CallerIDInFrom: t.CallerIDInFrom, ExpireSeconds: t.ExpireSeconds, RetrySeconds: t.RetrySeconds,
		PingSeconds: t.PingSeconds, AllowedAddresses: httpapi.NonNil(t.AllowedAddresses), Codecs: httpapi.NonNil(t.Codecs),
		Provider: t.Provider, Source: trunkSource(t), InboundEnabled: !t.InboundDisabled, TransferMode: t.TransferMode, ReferToTemplate: t.ReferToTemplate, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
		RingTimeout: t.RingTimeoutSeconds, SyncStatus: syncStatusView{State: "pending"},
	}
	if v.RingTimeout == 0 {
		v.RingTimeout = s.ringDefault
	}
	if v.SRTP == "" {
		v.SRTP = "off"
	}
	if st := t.Status; st != nil {
		v.SyncStatus = syncStatusView{State: st.SyncState, Message: st.SyncMessage, AppliedAt: st.AppliedAt}
		v.GatewayState, v.PingStatus, v.LastStatusCode = st.GatewayState, st.PingStatus, st.LastStatusCode
	}
	if s.nodes != nil {
		for _, n := range s.nodes.TrunkNodes(t.ID, t.GatewayName) {
			v.Nodes = append(v.Nodes, nodeView{Node: n.Node, GatewayState: n.GatewayState, LastStatusCode: n.LastStatusCode,
				SyncStatus: nodeSyncStatus{State: n.SyncState, Message: n.SyncMessage}})
		}
	}
	return v
}

// addedPrefixes returns the entries of now that are not in before.
func addedPrefixes(now, before []string) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range now {
		if pf, err := netip.ParsePrefix(a); err == nil && !slices.Contains(before, a) {
			out = append(out, pf)
		}
	}
	return out
}

// applyTrunk merges the fields sent into t under the trunk rules
// (trunk.Apply). It returns the new password when one was sent.
func applyTrunk(t *db.SIPTrunk, in *trunkInput, passwordSet bool, acl ACLPolicy) (newPassword *string, err error) {
	pw, err := trunk.Apply(t, in.settings(), passwordSet, trunk.Rules{ACL: acl.Limits(), ReferTemplate: call.CheckReferTemplate})
	return pw, httpapi.AsInvalid(err)
}

// settings are the fields sent, under the trunk rules' names.
func (in *trunkInput) settings() *trunk.Settings {
	return &trunk.Settings{
		Name: in.Name, Gateway: in.Gateway, Username: in.Username, Password: in.Password, Priority: in.Priority,
		Enabled: in.Enabled, Register: in.Register, Realm: in.Realm, Proxy: in.Proxy, Transport: in.Transport, SRTP: in.SRTP,
		FromUser: in.FromUser, FromDomain: in.FromDomain, CallerIDInFrom: in.CallerIDInFrom,
		ExpireSeconds: in.ExpireSeconds, RetrySeconds: in.RetrySeconds, PingSeconds: in.PingSeconds,
		AllowedAddresses: in.AllowedAddresses, Codecs: in.Codecs, Provider: in.Provider, InboundEnabled: in.InboundEnabled,
		TransferMode: in.TransferMode, ReferToTemplate: in.ReferToTemplate, RingTimeout: in.RingTimeout,
	}
}

// checkTrunkAddresses checks the hosts FreeSWITCH will send SIP to (and
// a registration trunk's ACL is made from) against the address policy:
// gateway, proxy and realm.
func (s *Server) checkTrunkAddresses(ctx context.Context, t *db.SIPTrunk) error {
	for _, f := range []struct{ field, v string }{{"gateway", t.Gateway}, {"proxy", t.Proxy}, {"realm", t.Realm}, {"refer_to_template", call.ReferTemplateHostPort(t.ReferToTemplate)}} {
		if err := s.CheckHostPortAddress(ctx, f.field, f.v, false); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) listTrunks(c echo.Context) error {
	skip, limit, err := httpapi.Page(c)
	if err != nil {
		return err
	}
	orgID := httpapi.OrgID(c)
	key := s.nodesKey(listKey(orgID, skip, limit))
	hit, stamp, valid, ok := s.lists.Get(key)
	if ok {
		return httpapi.WriteListJSON(c, hit.body, hit.total, skip, limit)
	}
	items, total, err := s.store.ListTrunks(c.Request().Context(), orgID, db.Page{Skip: skip, Limit: limit})
	if err != nil {
		return err
	}
	out := make([]trunkView, 0, len(items))
	for i := range items {
		out = append(out, s.trunkView(&items[i]))
	}
	body := make([]byte, 0, 1024*len(out)+3)
	body = append(body, '[')
	for i := range out {
		if !out[i].timesEncodable() {
			return httpapi.WriteList(c, out, total, skip, limit) // encoding/json's error
		}
		if i > 0 {
			body = append(body, ',')
		}
		body = out[i].appendJSON(body)
	}
	body = append(body, "]\n"...)
	if valid {
		s.lists.Put(key, stamp, trunkList{body: body, total: total})
	}
	return httpapi.WriteListJSON(c, body, total, skip, limit)
}

func (s *Server) createTrunk(c echo.Context) error {
	var in trunkInput
	if err := httpapi.BindJSON(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	t := &db.SIPTrunk{ID: db.NewID(), OrgID: httpapi.OrgID(c), Priority: 1, Enabled: true, Register: true, Transport: "udp"}
	pw, err := applyTrunk(t, &in, false, s.acl)
	if err != nil {
		return err
	}
	if err := s.checkTrunkAddresses(ctx, t); err != nil {
		return err
	}
	if err := s.saveTrunk(ctx, t, pw, true, nil); err != nil {
		return err
	}
	t, err = s.store.GetTrunk(ctx, t.OrgID, t.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, s.trunkView(t))
}

// saveTrunk checks the name, picks the gateway name, seals the password and
// writes the trunk, then tells the reconciler. Addresses that were not in
// before (the trunk's allowed_addresses as stored) are checked against the
// other organizations' trunks in the same transaction as the write.
func (s *Server) saveTrunk(ctx context.Context, t *db.SIPTrunk, pw *string, create bool, before []string) error {
	except := ""
	if !create {
		except = t.ID
	}
	taken, err := s.store.TrunkNameTaken(ctx, t.OrgID, t.Name, except)
	if err != nil {
		return err
	}
	if taken {
		return httpapi.Conflict("name", "a SIP trunk named %q already exists", t.Name)
	}
	gw, err := s.trunks.GatewayName(ctx, t.OrgID, t.Name, except)
	if err != nil {
		return err
	}
	t.GatewayName = gw
	if pw != nil {
		if err := s.store.SetTrunkPassword(t, *pw); err != nil {
			return err
		}
	}
	switch added := addedPrefixes(t.AllowedAddresses, before); {
	case len(added) > 0:
		s.trunkAddrMu.Lock() // the embedded SQLite: one check-and-write at a time
		err = s.store.SaveTrunkChecked(ctx, t, create, func(others []db.SIPTrunk) error {
			return s.acl.checkAddressesFree(added, others)
		})
		s.trunkAddrMu.Unlock()
	case create:
		err = s.store.CreateTrunk(ctx, t)
	default:
		err = s.store.UpdateTrunk(ctx, t)
	}
	if httpapi.IsConflict(err) {
		return httpapi.Conflict("name", "a SIP trunk named %q already exists", t.Name)
	}
	if err != nil {
		return err
	}
	s.trunks.Changed(t.OrgID)
	return nil
}

func (s *Server) loadTrunk(c echo.Context) (*db.SIPTrunk, error) {
	t, err := s.store.GetTrunk(c.Request().Context(), httpapi.OrgID(c), c.Param("id"))
	if errors.Is(err, db.ErrNotFound) {
		return nil, httpapi.NotFound("SIP trunk")
	}
	return t, err
}

func (s *Server) getTrunk(c echo.Context) error {
	key := s.nodesKey(trunkKey(httpapi.OrgID(c), c.Param("id")))
	hit, stamp, valid, ok := s.ones.Get(key)
	if ok {
		return c.JSONBlob(http.StatusOK, hit)
	}
	t, err := s.loadTrunk(c)
	if err != nil {
		return err
	}
	v := s.trunkView(t)
	if !v.timesEncodable() {
		return c.JSON(http.StatusOK, v) // encoding/json's error
	}
	body := append(v.appendJSON(make([]byte, 0, 1024)), '\n')
	if valid {
		s.ones.Put(key, stamp, body)
	}
	return c.JSONBlob(http.StatusOK, body)
}

func (s *Server) putTrunk(c echo.Context) error {
	t, err := s.loadTrunk(c)
	if err != nil {
		return err
	}
	if err := s.refuseBYOCTrunk(c.Request().Context(), t, false); err != nil {
		return err
	}
	if err := refuseEnvironmentTrunk(t); err != nil {
		return err
	}
	var in trunkInput
	if err := httpapi.BindJSON(c, &in); err != nil {
		return err
	}
	before := slices.Clone(t.AllowedAddresses)
	pw, err := applyTrunk(t, &in, t.PasswordEnc != "", s.acl)
	if err != nil {
		return err
	}
	if err := s.checkTrunkAddresses(c.Request().Context(), t); err != nil {
		return err
	}
	return s.finishTrunkUpdate(c, t, pw, before)
}

func (s *Server) finishTrunkUpdate(c echo.Context, t *db.SIPTrunk, pw *string, before []string) error {
	t.Status = nil
	if err := s.saveTrunk(c.Request().Context(), t, pw, false, before); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return httpapi.NotFound("SIP trunk")
		}
		return err
	}
	t, err := s.store.GetTrunk(c.Request().Context(), t.OrgID, t.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.trunkView(t))
}

func (s *Server) setTrunkEnabled(c echo.Context, enabled bool) error {
	t, err := s.loadTrunk(c)
	if err != nil {
		return err
	}
	t.Enabled = enabled
	return s.finishTrunkUpdate(c, t, nil, t.AllowedAddresses)
}

func (s *Server) enableTrunk(c echo.Context) error  { return s.setTrunkEnabled(c, true) }
func (s *Server) disableTrunk(c echo.Context) error { return s.setTrunkEnabled(c, false) }

func (s *Server) deleteTrunk(c echo.Context) error {
	t, err := s.loadTrunk(c)
	if err != nil {
		return err
	}
	if err := s.refuseBYOCTrunk(c.Request().Context(), t, true); err != nil {
		return err
	}
	if err := s.store.DeleteTrunk(c.Request().Context(), httpapi.OrgID(c), c.Param("id")); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return httpapi.NotFound("SIP trunk")
		}
		return err
	}
	s.trunks.Changed(httpapi.OrgID(c))
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) syncTrunks(c echo.Context) error {
	s.trunks.Changed(httpapi.OrgID(c))
	return c.JSON(http.StatusAccepted, syncAccepted{Status: "accepted"})
}

// refuseEnvironmentTrunk is the 409 for editing through /api/v1/sip-trunks
// a trunk the environment's SIP_GATEWAY settings own.
func refuseEnvironmentTrunk(t *db.SIPTrunk) error {
	if t.Source != db.TrunkSourceEnvironment {
		return nil
	}
	return httpapi.Conflict("", "this trunk is the platform's SIP_GATEWAY/SIP_USERNAME/SIP_PASSWORD, set by the environment: give the organization its own with PUT /api/v1/organizations/%d (sip_gateway, sip_username, sip_password), and its numbers stay on it", t.OrgID)
}

// trunkSource names who owns a trunk's settings in its view.
func trunkSource(t *db.SIPTrunk) string {
	switch {
	case t.Source != db.TrunkSourceAPI:
		return t.Source
	case t.Provider == "byoc":
		return "byoc"
	}
	return "api"
}
