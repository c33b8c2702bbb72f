package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
	"github.com/sipbridge/sipbridge/secret"
	"github.com/sipbridge/sipbridge/trunk"
)

func TestRenderAndDiag(t *testing.T) {
	ctx := context.Background()
	dsn := dbtest.DSN(t)
	key := secret.NewKey()
	keys, _ := secret.ParseKeyring(key)
	g, err := db.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	store := db.NewStore(g, keys, nil)
	org, _, _ := store.EnsureOrg(ctx, "acme")
	mk := func(name, gw string, enabled bool) {
		tr := &db.SIPTrunk{ID: db.NewID(), OrgID: org.ID, Name: name, GatewayName: gw, Gateway: "203.0.113.5", Username: "u", Register: false,
			Enabled: enabled, Transport: "udp", AllowedAddresses: db.StringList{"203.0.113.5/32"}}
		store.SetTrunkPassword(tr, "very-secret-pw")
		if err := store.CreateTrunk(ctx, tr); err != nil {
			t.Fatal(err)
		}
	}
	mk("Main", "o1_main", true)

	cfg, _ := LoadConfig(func(k string) string {
		return map[string]string{"DATABASE_URL": dsn, "SECRET_KEY": key, "FS_GEN_DIR": t.TempDir()}[k]
	})
	log := slog.New(slog.DiscardHandler)
	var out bytes.Buffer
	if err := renderCmd(ctx, cfg, log, []string{"--org", "acme"}, &out); err != nil {
		t.Fatal(err)
	}
	r := out.String()
	for _, want := range []string{"==> gateways/o1_main.xml <==", `<gateway name="o1_main">`, "==> acl/o1_main.xml <==", `cidr="203.0.113.5/32"`, `value="********"`} {
		if !strings.Contains(r, want) {
			t.Errorf("render lacks %q:\n%s", want, r)
		}
	}
	if strings.Contains(r, "very-secret-pw") {
		t.Fatal("render printed the password without --show-secrets")
	}
	out.Reset()
	renderCmd(ctx, cfg, log, []string{"--org", "acme", "--show-secrets"}, &out)
	if !strings.Contains(out.String(), "very-secret-pw") {
		t.Fatal("--show-secrets did not show the password")
	}
	if err := renderCmd(ctx, cfg, log, []string{"--org", "nope"}, &out); err == nil {
		t.Fatal("unknown organization accepted")
	}

	// Apply on the simulator, then add a trunk behind its back: diag shows the drift.
	sw := fstest.New(fstest.Options{GenDir: cfg.FSGenDir})
	sw.Start()
	defer sw.Close()
	cli := esl.New(sw.Addr(), "ClueCon")
	cli.Start(ctx)
	defer cli.Close()
	cli.WaitConnected(ctx)
	if _, err := trunk.NewSync(store, cli, trunk.SyncOptions{GenDir: cfg.FSGenDir}).Pass(ctx); err != nil {
		t.Fatal(err)
	}
	mk("Second", "o1_second", true)
	out.Reset()
	if err := diagReport(ctx, store, cli, "external", &out); err != nil {
		t.Fatal(err)
	}
	d := out.String()
	for _, want := range []string{"module_exists mod_audio_stream\ntrue", "o1_main", "NOREG", "o1_second", "missing in FreeSWITCH", "2 trunk(s), 1 gateway(s) in FreeSWITCH, 1 drift(s)"} {
		if !strings.Contains(d, want) {
			t.Errorf("diag lacks %q:\n%s", want, d)
		}
	}
}
