package trunk_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
)

// TestGenDirUnwritable: a generated file that cannot be written (here its
// path taken by a directory: the tests run as root, whom permissions do not
// stop) fails the pass without touching FreeSWITCH. The trunk shows
// sync_status error with the cause and no server path, the files written
// before the failure in that pass go back (the last good ones stay), the
// trunk already applied stays so; once the path is free again a later pass
// applies the trunk by itself.
func TestGenDirUnwritable(t *testing.T) {
	eachSyncEnv(t, func(t *testing.T, e *syncEnv) {
		good := e.addTrunk(e.org, "Good", nil)
		e.eventually("the first trunk applied", func() bool { return e.status(good).SyncState == "applied" })
		snapshot := func() map[string]string {
			out := map[string]string{}
			filepath.Walk(e.gen, func(path string, fi os.FileInfo, err error) error {
				if err == nil && !fi.IsDir() {
					b, _ := os.ReadFile(path)
					out[strings.TrimPrefix(path, e.gen)] = string(b)
				}
				return nil
			})
			return out
		}
		before := snapshot()
		e.sw.ResetCommands()

		// An IP-auth trunk: its pass writes acl/<gw>.xml, then gateways/<gw>.xml
		// (taken), then the profile's ACL.
		gw, err := e.trunks.GatewayName(e.ctx, e.org, "Blocked", "")
		if err != nil {
			t.Fatal(err)
		}
		obstacle := filepath.Join(e.gen, "gateways", gw+".xml")
		if err := os.MkdirAll(filepath.Join(obstacle, "keep"), 0o755); err != nil {
			t.Fatal(err)
		}
		blocked := e.addTrunk(e.org, "Blocked", func(tr *db.SIPTrunk) {
			tr.Register, tr.Username, tr.PasswordEnc = false, "", ""
			tr.AllowedAddresses = db.StringList{"203.0.113.50"}
		})
		e.eventually("sync_status error naming the cause", func() bool {
			st := e.status(blocked)
			return st != nil && st.SyncState == "error" && strings.Contains(st.SyncMessage, "generated files not written")
		})
		st := e.status(blocked)
		if strings.Contains(st.SyncMessage, e.gen) {
			t.Errorf("sync_message %q shows the server's path", st.SyncMessage)
		}
		if !strings.Contains(st.SyncMessage, "is a directory") && !strings.Contains(st.SyncMessage, "file exists") {
			t.Errorf("sync_message %q does not say why the file was not written", st.SyncMessage)
		}
		time.Sleep(300 * time.Millisecond) // a retry or two meanwhile
		after := snapshot()
		for path, b := range before {
			if after[path] != b {
				t.Errorf("%s changed while the folder refused a file", path)
			}
		}
		for path := range after {
			if _, ok := before[path]; !ok {
				t.Errorf("%s left behind by the failed pass", path)
			}
		}
		for _, c := range e.sw.Commands() {
			if strings.Contains(c, "rescan") || strings.Contains(c, "killgw") || strings.Contains(c, "reloadacl") {
				t.Errorf("FreeSWITCH got %q while its files could not be written", c)
			}
		}
		if s := e.status(good); s.SyncState != "applied" {
			t.Errorf("the trunk already applied shows %s %q", s.SyncState, s.SyncMessage)
		}
		if _, ok := e.gateway(good.GatewayName); !ok {
			t.Error("the applied trunk's gateway is gone from FreeSWITCH")
		}

		// Writable again: the retry applies it.
		if err := os.RemoveAll(obstacle); err != nil {
			t.Fatal(err)
		}
		e.eventually("applied once the folder takes the file", func() bool {
			_, ok := e.gateway(blocked.GatewayName)
			return ok && e.status(blocked).SyncState == "applied"
		})
	})
}
