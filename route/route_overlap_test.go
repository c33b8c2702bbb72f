package route_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/route"
)

// overlapStore is tableStore whose lookups each wait (at most partnerWait)
// for the lookup it is paired with to be under way too, and note whether
// it was: the rounds a call's routing waits for before its answer.
type overlapStore struct {
	*mapStore
	mu      sync.Mutex
	cond    *sync.Cond
	running map[string]int
	met     map[string]bool // lookup → its partner was under way with it
}

const partnerWait = 2 * time.Second

var partners = map[string]string{
	"TrunkByGatewayName": "EnabledTrunks", "EnabledTrunks": "TrunkByGatewayName",
	"GetOrg": "ListNumbers", "ListNumbers": "GetOrg",
}

func (o *overlapStore) meet(name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.running[name]++
	o.cond.Broadcast()
	defer func() { o.running[name]--; o.cond.Broadcast() }()
	stop := time.AfterFunc(partnerWait, func() { o.mu.Lock(); o.cond.Broadcast(); o.mu.Unlock() })
	defer stop.Stop()
	if o.running[partners[name]] > 0 { // both under way: each met the other
		o.met[name], o.met[partners[name]] = true, true
	}
	for end := time.Now().Add(partnerWait); !o.met[name] && time.Now().Before(end); {
		o.cond.Wait()
	}
}

func (o *overlapStore) TrunkByGatewayName(ctx context.Context, name string) (*db.SIPTrunk, error) {
	o.meet("TrunkByGatewayName")
	return o.mapStore.TrunkByGatewayName(ctx, name)
}

func (o *overlapStore) EnabledTrunks(ctx context.Context) ([]db.SIPTrunk, error) {
	o.meet("EnabledTrunks")
	return o.mapStore.EnabledTrunks(ctx)
}

func (o *overlapStore) GetOrg(ctx context.Context, id int64) (*db.Organization, error) {
	o.meet("GetOrg")
	return o.mapStore.GetOrg(ctx, id)
}

func (o *overlapStore) ListNumbers(ctx context.Context, orgID int64, f db.NumberFilter, p db.Page) ([]db.PhoneNumber, int64, error) {
	o.meet("ListNumbers")
	return o.mapStore.ListNumbers(ctx, orgID, f, p)
}

// TestDecideLookupsOverlap: the lookups of a call's routing that do not
// need one another's answers are made at once (its ACL trunk with the
// trunks allowing its address, then its organization with the trunk's
// numbers), so under load a parked call waits two database round trips
// for them, not four, and the decision is the same.
func TestDecideLookupsOverlap(t *testing.T) {
	o := &overlapStore{mapStore: tableStore(), running: map[string]int{}, met: map[string]bool{}}
	o.cond = sync.NewCond(&o.mu)
	r, err := route.NewRouter(o, nil).Decide(context.Background(), vars("variable_sip_acl_authed_by", "o1_carrier",
		"variable_sip_network_ip", "203.0.113.9", "variable_sip_req_user", "+16478491000"))
	if err != nil || r.Refused != nil || r.AssistantID != "a1" || r.TrunkBy != "acl" {
		t.Fatalf("route %+v, err %v: want the call accepted on o1_carrier (acl) for a1", r, err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for name := range partners {
		if !o.met[name] {
			t.Errorf("%s ran without %s under way: the routing waited for one before starting the other", name, partners[name])
		}
	}
}
