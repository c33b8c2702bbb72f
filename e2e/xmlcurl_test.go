package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/internal/testkit"
)

func init() { addScenario(scenario{"xml_curl", testXMLCurl}) }

// testXMLCurl: a FreeSWITCH of its own whose vars.xml selects the xml_curl
// configuration source, and a sipbridge of its own (same kind of database)
// writing its files to a folder the switch never reads. A trunk created
// through the API becomes a gateway, and its ACL list a list, that came
// over HTTP: the switch's generated folder stays empty. Restarted with
// sipbridge up, the switch boots with the gateway from its first fetch of
// sofia.conf (no rescan needed).
func testXMLCurl(t *testing.T, shared *Bridge) {
	port, err := freeTCPPort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	dir := filepath.Join(suite.tmp, "xmlcurl-"+shared.Name)
	os.RemoveAll(dir)
	sw, err := StartSwitchWith(dir, map[string]string{
		"sipbridge_config_source":     "xml_curl",
		"sipbridge_xml_curl_url":      "http://" + addr + "/fs/xml",
		"sipbridge_xml_curl_user":     "node1",
		"sipbridge_xml_curl_password": "xml-curl-e2e-pw",
	})
	if sw != nil {
		t.Cleanup(func() {
			if err := sw.Stop(); err != nil {
				t.Errorf("stopping the xml_curl switch: %v", err)
			}
			sw.esl.Close()
		})
	}
	if err != nil {
		t.Fatalf("FreeSWITCH with mod_xml_curl: %v", err)
	}
	if !strings.Contains(sw.BootLog(), "mod_xml_curl") {
		t.Fatalf("mod_xml_curl not loaded:\n%s", sw.LogTail(40))
	}
	url := ""
	if shared.Name == "postgres" {
		url = dbtest.DSN(t)
	}
	own := filepath.Join(dir, "sipbridge-gen") // sipbridge's record of what it served; never read by the switch
	b := StartBridge(t, sw, shared.Name+"-xmlcurl", url, "SIPBRIDGE_ADDR="+addr, "STREAM_WS_BASE=ws://"+addr, "FS_GEN_DIR="+own,
		"FS_XML_CURL_USER=node1", "FS_XML_CURL_PASSWORD=xml-curl-e2e-pw")
	mark, swMark := b.LogMark(), sw.Mark()
	t.Cleanup(func() {
		if bad := ErrorLines(sw.LogSince(swMark)); len(bad) > 0 {
			t.Errorf("the xml_curl switch logged [ERR]/[CRIT] with sipbridge up:\n%s", strings.Join(bad, "\n"))
		}
	})

	tr := b.CreateTrunk(t, map[string]any{"name": "over http", "gateway": "127.0.0.1:9", "register": false,
		"allowed_addresses": []string{"127.0.0.77/32"}})
	b.WaitApplied(t, tr.ID, 15*time.Second)
	if gws, _ := os.ReadDir(filepath.Join(sw.GenDir, "gateways")); len(gws) != 0 {
		t.Errorf("the switch's generated folder has files: %v", gws)
	}
	if _, err := os.Stat(filepath.Join(own, "gateways", tr.GatewayName+".xml")); err != nil {
		t.Errorf("sipbridge's own folder has no record of the gateway: %v", err)
	}
	if got := strings.TrimSpace(sw.API(t, "acl 127.0.0.77 "+tr.GatewayName)); got != "true" {
		t.Errorf("acl 127.0.0.77 %s = %q: the trunk's list did not come over HTTP", tr.GatewayName, got)
	}
	served := map[string]bool{}
	for _, e := range b.LogSince(mark, "configuration requested") {
		if found, _ := e["found"].(bool); found {
			served[e.Str("key_value")] = true
		}
	}
	if !served["sofia.conf"] || !served["acl.conf"] {
		t.Errorf("sipbridge did not serve sofia.conf and acl.conf: %v", served)
	}
	if strings.Contains(b.Logs(), "xml-curl-e2e-pw") {
		t.Error("the xml_curl password reached sipbridge's log")
	}

	// A boot with sipbridge up: the profile and its gateway from the first fetch.
	restart := b.LogMark()
	if err := sw.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := sw.Start(); err != nil {
		t.Fatalf("restart: %v\n%s", err, sw.LogTail(40))
	}
	if _, ok := sw.Gateway(t, tr.GatewayName); !ok {
		t.Errorf("gateway %s missing right after the boot: sofia.conf did not come over HTTP at start", tr.GatewayName)
	}
	// The reconnect's pass reloads the ACL lists; it needs no rescan.
	if cmds := b.WaitSyncPass(t, restart, "reloadacl", 15*time.Second); slices.ContainsFunc(cmds, func(c string) bool { return strings.HasSuffix(c, " rescan") }) {
		t.Errorf("a rescan was needed after the boot: %q", cmds)
	}
	testkit.Eventually(t, 10*time.Second, "the trunk applied after the restart", func() bool {
		return b.Trunk(t, tr.ID).SyncStatus.State == "applied"
	}, func() string { return fmt.Sprint(b.Trunk(t, tr.ID)) })
}
