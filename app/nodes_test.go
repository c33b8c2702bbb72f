package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/sipbridge/sipbridge/app"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
	"github.com/sipbridge/sipbridge/freeswitch/nodes"
	"github.com/sipbridge/sipbridge/internal/testkit"
)

func getJSON(t *testing.T, url, token string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode == 200 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %v: %s", url, err, b)
		}
	}
	return res.StatusCode
}

// With FS_NODES naming two switches, a trunk reaches both: its answer
// lists each node's state (REGED and applied on each), and the nodes
// route, to the operator token only, shows both connected with the
// gateway; fs2's simulator gone, its entry says it is not connected.
func TestTwoNodesThroughTheAPI(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		ctx := context.Background()
		store := db.NewStore(g, dbtest.Keyring(t), slog.New(slog.DiscardHandler))
		genDir := t.TempDir()
		var sws []*fstest.Switch
		var ns []nodes.Node
		for _, name := range []string{"fs1", "fs2"} {
			sw := fstest.New(fstest.Options{GenDir: genDir, Step: 5 * time.Millisecond})
			if err := sw.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sw.Close() })
			sws, ns = append(sws, sw), append(ns, nodes.Node{Name: name, ESL: sw.Addr()})
		}
		a, err := app.New(ctx, app.Config{Store: store, RecordingsDir: t.TempDir(), OperatorToken: "op-token",
			Switch:       &app.Switch{Addr: sws[0].Addr(), Password: "ClueCon", GenDir: genDir, Nodes: ns},
			SyncInterval: time.Hour, DrainTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.Close)
		if err := a.Start(); err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		ran := make(chan error, 1)
		go func() { ran <- a.Run(rctx, ln, make(chan os.Signal)) }()
		t.Cleanup(func() { cancel(); <-ran })
		base := "http://" + ln.Addr().String()
		org, _, _ := store.EnsureOrg(ctx, "acme")
		key, _, _ := store.CreateAPIKey(ctx, org.ID, "a")

		body := `{"name":"Main","gateway":"sip.carrier.example:5060","username":"u1","password":"s3cret"}`
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/sip-trunks", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var tr struct {
			ID           string `json:"id"`
			GatewayState string `json:"gateway_state"`
			Nodes        []struct {
				Node         string `json:"node"`
				GatewayState string `json:"gateway_state"`
				SyncStatus   struct {
					State string `json:"state"`
				} `json:"sync_status"`
			} `json:"nodes"`
		}
		json.NewDecoder(res.Body).Decode(&tr)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("create: %d", res.StatusCode)
		}
		testkit.Eventually(t, 10*time.Second, "REGED and applied on both nodes", func() bool {
			tr.Nodes = nil
			getJSON(t, base+"/api/v1/sip-trunks/"+tr.ID, key, &tr)
			return tr.GatewayState == "REGED" && len(tr.Nodes) == 2 && tr.Nodes[0].Node == "fs1" && tr.Nodes[1].Node == "fs2" &&
				tr.Nodes[0].GatewayState == "REGED" && tr.Nodes[1].GatewayState == "REGED" &&
				tr.Nodes[0].SyncStatus.State == "applied" && tr.Nodes[1].SyncStatus.State == "applied"
		}, func() string { b, _ := json.Marshal(tr); return string(b) })

		type nodeView struct {
			Name       string `json:"name"`
			ESLAddress string `json:"esl_address"`
			Connected  bool   `json:"connected"`
			LastError  string `json:"last_error"`
			Gateways   int    `json:"gateways"`
		}
		if st := getJSON(t, base+"/api/v1/switch/nodes", key, nil); st != http.StatusUnauthorized {
			t.Errorf("nodes with an organization's key: %d, want 401", st)
		}
		var got []nodeView
		if st := getJSON(t, base+"/api/v1/switch/nodes", "op-token", &got); st != 200 || len(got) != 2 {
			t.Fatalf("nodes: %d %+v", st, got)
		}
		for i, n := range got {
			if n.Name != ns[i].Name || n.ESLAddress != ns[i].ESL || !n.Connected || n.LastError != "" || n.Gateways != 1 {
				t.Errorf("nodes[%d] = %+v", i, n)
			}
		}

		sws[1].Close()
		testkit.Eventually(t, 10*time.Second, "fs2 not connected, fs1 still", func() bool {
			got = nil
			getJSON(t, base+"/api/v1/switch/nodes", "op-token", &got)
			return len(got) == 2 && got[0].Connected && !got[1].Connected && strings.Contains(got[1].LastError, "refused")
		}, func() string { b, _ := json.Marshal(got); return string(b) })
	})
}
