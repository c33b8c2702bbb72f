package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/cluster"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/nodes"
	"github.com/sipbridge/sipbridge/web/httpapi"
)

// Replica shares the FreeSWITCH nodes with the other sipbridge replicas
// on the same database: each node's calls are controlled by the replica
// holding its lease (node_leases).
type Replica struct {
	Name string // REPLICA_NAME, unique among the replicas
	// Addr is this replica's base URL as the others reach it
	// (REPLICA_ADDR, e.g. http://10.0.0.5:8080): a request about a live
	// call of a node it holds is forwarded there.
	Addr string
	// Nodes are the nodes this replica takes from its start (REPLICA_NODES;
	// empty: all); the others once it has run for a lease TTL.
	Nodes      []string
	TTL, Renew time.Duration // zero: cluster.DefaultLeaseTTL, DefaultLeaseRenew
	// Client forwards the requests (nil: one with a 15 s timeout, above
	// the owner's own 10 s for a provider's answer).
	Client *http.Client
	// AllowFrom are the addresses besides loopback and private ones the
	// other replicas' requests may come from (REPLICA_ALLOW_FROM).
	AllowFrom []netip.Prefix
}

// forwardedHeader marks a request another replica forwarded: it is
// answered here, never forwarded again.
const forwardedHeader = "X-Sipbridge-Forwarded-By"

// leaseName is the node's name in node_leases (the one node at
// FS_ESL_ADDR is nodes.DefaultName).
func (n *CallNode) leaseName() string {
	if n.Name == "" {
		return nodes.DefaultName
	}
	return n.Name
}

// buildLeases makes the replica's leases (Start runs them) when Replica
// is set; otherwise this process controls every node's calls. Trunk sync
// stays on every replica: its passes are idempotent and already safe to
// run from several processes.
func (a *App) buildLeases() {
	r := a.cfg.Replica
	if r == nil || a.cfg.Switch == nil {
		return
	}
	names := make([]string, len(a.CallNodes))
	for i, cn := range a.CallNodes {
		names[i] = cn.leaseName()
	}
	a.Leases = cluster.NewLeases(a.Store, cluster.LeaseOptions{Owner: r.Name, Addr: r.Addr, Nodes: names, Prefer: r.Nodes, TTL: r.TTL, Renew: r.Renew,
		Log: a.log.With("component", "leases"), Gained: a.nodeGained, Lost: a.nodeLost})
	for _, cn := range a.CallNodes {
		cn.leases = a.Leases
	}
	client := a.forwarder.client
	a.Calls.NoNode = a.initiateWithoutNode
	a.Calls.Remote = a.forwarder
	a.Web.Echo().Use(markForwarded, a.forwardInitiate(client))
}

// controlsANode tells whether this replica controls any node's calls.
func (a *App) controlsANode() bool {
	for _, cn := range a.CallNodes {
		if cn.controlled() {
			return true
		}
	}
	return false
}

// forwardInitiate sends an outbound call asked of a replica that controls
// no node, whole, to one that does (the holder of the first node's lease
// that has an address): its answer is the answer. With no such replica the
// call is this one's (a provider-hosted number's goes on, any other is
// 503).
func (a *App) forwardInitiate(client *http.Client) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.Method != http.MethodPost || (r.URL.Path != "/api/v1/calls/initiate" && r.URL.Path != "/calls/initiate") ||
				r.Header.Get(forwardedHeader) != "" || a.controlsANode() {
				return next(c)
			}
			target := a.nodeOwner(r.Context())
			if target == nil {
				return next(c)
			}
			proxy := &httputil.ReverseProxy{Transport: client.Transport,
				Rewrite: func(pr *httputil.ProxyRequest) {
					pr.SetURL(target)
					pr.Out.Header.Set(forwardedHeader, a.cfg.Replica.Name)
				},
				ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
					a.log.Warn("outbound call not forwarded: the replica controlling the nodes did not answer", "owner", target.String(), "err", err)
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusServiceUnavailable)
					_, _ = io.WriteString(w, `{"error":{"code":"switch_unavailable","message":"the replica controlling the FreeSWITCH nodes did not answer"}}`)
				}}
			// wait=true answers once the call is answered.
			_ = http.NewResponseController(c.Response().Writer).SetWriteDeadline(time.Now().Add(10 * time.Minute))
			proxy.ServeHTTP(c.Response(), r)
			return nil
		}
	}
}

// nodeOwner returns the base URL of another replica holding a live node
// lease, the first node's first (nil: none).
func (a *App) nodeOwner(ctx context.Context) *url.URL {
	leases, err := a.Store.Leases(ctx)
	if err != nil {
		return nil
	}
	for _, cn := range a.CallNodes {
		if l, ok := heldElsewhere(leases, cn.leaseName(), a.cfg.Replica.Name); ok {
			if u, err := url.Parse(l.OwnerAddr); err == nil {
				return u
			}
		}
	}
	return nil
}

// heldElsewhere returns the node's live lease when another replica than
// me holds it and can be reached (its address known).
func heldElsewhere(leases []db.NodeLease, node, me string) (db.NodeLease, bool) {
	for _, l := range leases {
		if l.Node == node && l.Owner != me && l.OwnerAddr != "" && time.Now().Before(l.ExpiresAt) {
			return l, true
		}
	}
	return db.NodeLease{}, false
}

// initiateWithoutNode places an outbound call while this replica holds no
// node's lease: a number hosted at a provider needs no node (the first
// node's call control hands it to the hosted path), any other is refused
// with 503 (cluster.ErrNoNodeUp).
func (a *App) initiateWithoutNode(ctx context.Context, req call.InitiateRequest) (*call.InitiateResult, error) {
	active := true
	nums, _, err := a.Store.ListNumbers(ctx, req.OrgID, db.NumberFilter{Exact: req.From, Active: &active}, db.Page{Limit: 1, NoTotal: true})
	if err == nil && len(nums) == 1 && nums[0].Provider != db.ProviderBYOSIP {
		return a.CallNodes[0].Calls.Initiate(ctx, req)
	}
	return nil, cluster.ErrNoNodeUp
}

// callNode returns the node of a lease name.
func (a *App) callNode(lease string) *CallNode {
	for _, cn := range a.CallNodes {
		if cn.leaseName() == lease {
			return cn
		}
	}
	return nil
}

// nodeGained: this replica now controls the node's calls: its events are
// handled from now on, and the live calls a previous holder left there are
// adopted (adoptCalls). Once the lease is lost (CallNode.controlled) its
// events are not handled, and no outbound call is placed there.
func (a *App) nodeGained(lease string) {
	if cn := a.callNode(lease); cn != nil {
		cn.Calls.SwitchReconnected()
		a.wg.Add(1) // from Leases.Run, itself in wg
		go func() { defer a.wg.Done(); a.adoptCalls(cn) }()
	}
}

// nodeLost: this replica no longer controls the node's calls while it
// runs (a renewal refused or failed): its live calls there are let go
// (sip.Calls.Release), for the next holder to adopt, never controlled by
// two replicas. At a stop (the leases released) Close decides instead.
func (a *App) nodeLost(lease string) {
	if cn := a.callNode(lease); cn != nil && a.ctx.Err() == nil {
		cn.Calls.Release()
	}
}

type ctxKey int

const forwardedKey ctxKey = iota

// markForwarded marks an API request another replica forwarded (an
// outbound call, forwardInitiate): a live call it asks about is this
// replica's or none, never forwarded again.
func markForwarded(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/") && r.Header.Get(forwardedHeader) != "" {
			c.SetRequest(r.WithContext(context.WithValue(r.Context(), forwardedKey, true)))
		}
		return next(c)
	}
}

// forwarder sends a hangup or transfer of a live call that no node here
// holds to the replica holding the lease of the call's node, whoever asked
// (an API key, the console, the Twilio-compatible route): at its internal
// route (internalCallPath), signed by this replica for the caller's
// organization.
type forwarder struct {
	store  *db.Store
	me     string
	client *http.Client
	signer *cluster.Signer
}

func (f *forwarder) Hangup(ctx context.Context, orgID int64, callID string) error {
	return f.forward(ctx, orgID, callID, "hangup", nil)
}

func (f *forwarder) Transfer(ctx context.Context, orgID int64, callID, to string, mode call.TransferMode) error {
	return f.forward(ctx, orgID, callID, "transfer", map[string]string{"to": to, "mode": string(mode)})
}

// owner returns the name and base URL of the replica that holds the live
// call ("" when none other does): a SIP call's, the holder of its node's
// lease; a hosted call's, the replica its record names while its presence
// lasts.
func (f *forwarder) owner(ctx context.Context, orgID int64, callID string) (name, base string, err error) {
	rec, err := f.store.GetCall(ctx, orgID, callID)
	if err != nil || rec.EndedAt != nil {
		return "", "", err
	}
	if rec.Provider != "" && rec.Provider != "sip" {
		if rec.Replica == "" || rec.Replica == f.me {
			return "", "", nil
		}
		r, err := f.store.LiveReplica(ctx, rec.Replica, time.Now())
		if err != nil {
			return "", "", err
		}
		return r.Name, strings.TrimRight(r.Addr, "/"), nil
	}
	if rec.Node == "" {
		return "", "", nil
	}
	leases, err := f.store.Leases(ctx)
	if err != nil {
		return "", "", err
	}
	if l, ok := heldElsewhere(leases, rec.Node, f.me); ok {
		return l.Owner, strings.TrimRight(l.OwnerAddr, "/"), nil
	}
	return "", "", nil
}

func (f *forwarder) forward(ctx context.Context, orgID int64, callID, op string, body any) error {
	if ctx.Value(forwardedKey) != nil {
		return call.ErrCallNotFound
	}
	owner, base, err := f.owner(ctx, orgID, callID)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return err
	}
	if base == "" {
		return call.ErrCallNotFound
	}
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	path := internalCallPath + url.PathEscape(callID) + "/" + op
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(forwardedHeader, f.me)
	req.Header.Set(cluster.SignatureHeader, f.signer.Sign(http.MethodPost, path, orgID, owner, b))
	res, err := f.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: the replica holding the call did not answer", call.ErrSwitchUnavailable)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusAccepted {
		return nil
	}
	return forwardedError(res)
}

// forwardedError is the owner's refusal, answered as it is: its status,
// code, field and message (the owner words them as this replica would).
// A 404 is the call gone meanwhile; a 401 or 403 is the owner refusing
// this replica's signature, and an answer that is not the API's error
// shape the owner failing (503, as an owner that does not answer).
func forwardedError(res *http.Response) error {
	var e struct {
		Error *httpapi.APIError `json:"error"`
	}
	err := json.NewDecoder(io.LimitReader(res.Body, 64<<10)).Decode(&e)
	switch {
	case res.StatusCode == http.StatusNotFound:
		return call.ErrCallNotFound
	case res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden:
		// Its refusal of this replica's signature is not the caller's.
		return fmt.Errorf("%w: the replica holding the call refused this replica's signature (%d: is SECRET_KEY the same on every replica?)",
			call.ErrSwitchUnavailable, res.StatusCode)
	case err != nil || e.Error == nil || e.Error.Code == "" || res.StatusCode < 400:
		return fmt.Errorf("%w: the replica holding the call answered %d", call.ErrSwitchUnavailable, res.StatusCode)
	}
	e.Error.Status = res.StatusCode
	return e.Error
}

// leaseOwners are the owners of the nodes' live leases, by node (nil
// without Replica).
func (a *App) leaseOwners() map[string]string {
	if a.Leases == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(a.ctx, 5*time.Second)
	defer cancel()
	leases, err := a.Store.Leases(ctx)
	if err != nil {
		a.log.Warn("node leases not read", "err", err)
		return nil
	}
	out := map[string]string{}
	for _, l := range leases {
		if time.Now().Before(l.ExpiresAt) {
			out[l.Node] = l.Owner
		}
	}
	return out
}
