package trunk_test

import (
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/internal/testkit"
)

// TestTrunkWrittenDuringPassThenDeleted: a trunk written while a pass runs,
// between its look at the table's fingerprint and its read of the trunks
// (here created by the hook; in production the API's write racing a pass),
// is applied by that pass; deleting it afterwards must remove its gateway,
// although the table is then back to the fingerprint the pass started from.
func TestTrunkWrittenDuringPassThenDeleted(t *testing.T) {
	eachSyncEnv(t, func(t *testing.T, e *syncEnv) {
		var once sync.Once
		var racer *db.SIPTrunk
		e.sync.SetAfterFingerprint(func() {
			once.Do(func() {
				gw, err := e.trunks.GatewayName(e.ctx, e.org, "Racer", "")
				if err != nil {
					t.Error(err)
					return
				}
				tr := &db.SIPTrunk{ID: db.NewID(), OrgID: e.org, Name: "Racer", GatewayName: gw, Gateway: "203.0.113.77:5060",
					Priority: 2, Enabled: true, Transport: "udp", AllowedAddresses: db.StringList{"203.0.113.77"}}
				if err := e.store.CreateTrunk(e.ctx, tr); err != nil {
					t.Error(err)
					return
				}
				racer = tr
			})
		})
		first := e.addTrunk(e.org, "First", nil)
		e.eventually("both trunks' gateways in FreeSWITCH", func() bool {
			_, a := e.gateway(first.GatewayName)
			return a && racer != nil && func() bool { _, ok := e.gateway(racer.GatewayName); return ok }()
		})
		e.settle()
		if err := e.store.DeleteTrunk(e.ctx, e.org, racer.ID); err != nil {
			t.Fatal(err)
		}
		e.trunks.Changed(e.org)
		e.eventually("the deleted trunk's gateway gone", func() bool { _, ok := e.gateway(racer.GatewayName); return !ok })
		if _, ok := e.gateway(first.GatewayName); !ok {
			t.Error("the other trunk's gateway went too")
		}
	})
}

// TestPassWaitsForTheSwitchThenRuns: a trunk written while the switch is
// not all connected is applied once it is, with no kick from a connect
// hook (the last connection back may have none).
func TestPassWaitsForTheSwitchThenRuns(t *testing.T) {
	eachSyncEnv(t, func(t *testing.T, e *syncEnv) {
		e.hold.Store(true)
		tr := e.addTrunk(e.org, "Waiting", nil)
		time.Sleep(300 * time.Millisecond)
		if _, ok := e.gateway(tr.GatewayName); ok {
			t.Fatal("a pass ran while the switch was not ready")
		}
		if st := e.status(tr); st != nil && st.SyncState == "applied" {
			t.Fatalf("sync_status %s while the switch was not ready", st.SyncState)
		}
		e.hold.Store(false)
		if !testkit.Until(2*time.Second, func() bool { st := e.status(tr); return st != nil && st.SyncState == "applied" }) {
			t.Fatalf("the trunk not applied 2 s after the switch was ready: %+v, switch commands %q", e.status(tr), e.sw.Commands())
		}
	})
}
