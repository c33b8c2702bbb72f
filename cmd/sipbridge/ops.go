package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
	"github.com/sipbridge/sipbridge/trunk"
)

var passwordParam = regexp.MustCompile(`(<param name="password" value=")[^"]*(")`)

// renderCmd prints the files the organization's trunks would produce.
func renderCmd(ctx context.Context, cfg *Config, log *slog.Logger, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	org := fs.String("org", "", "organization name")
	show := fs.Bool("show-secrets", false, "print SIP passwords instead of ********")
	if err := fs.Parse(args); err != nil || *org == "" {
		return usageError{"render needs --org NAME"}
	}
	store, closeDB, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeDB()
	o, err := store.OrgByName(ctx, *org)
	if err != nil {
		return fmt.Errorf("organization %q: %w", *org, err)
	}
	trunks, _, err := store.ListTrunks(ctx, o.ID, db.Page{})
	if err != nil {
		return err
	}
	ts := trunk.NewSync(store, nil, trunk.SyncOptions{GenDir: cfg.FSGenDir, Profile: cfg.FSProfile, AddressPolicy: cfg.AddressPolicy(log), Log: log})
	files, notes, err := ts.Render(ctx, trunks)
	if err != nil {
		return err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	fmt.Fprintf(out, "# %d trunk(s) of organization %q (id %d), files relative to FS_GEN_DIR=%s\n", len(trunks), o.Name, o.ID, cfg.FSGenDir)
	fmt.Fprintln(out, "# profile/inbound-acl.xml below lists this organization's ACL lists only; the real file lists every organization's.")
	for _, t := range trunks {
		state := "enabled"
		if !t.Enabled {
			state = "disabled (not rendered)"
		}
		fmt.Fprintf(out, "# trunk %q → gateway %s, %s", t.Name, t.GatewayName, state)
		if n := notes[t.ID]; n != "" && t.Enabled {
			fmt.Fprintf(out, " — %s", n)
		}
		fmt.Fprintln(out)
	}
	for _, p := range paths {
		b := files[p]
		if !*show {
			b = passwordParam.ReplaceAll(b, []byte("${1}********${2}"))
		}
		fmt.Fprintf(out, "\n==> %s <==\n%s", p, b)
	}
	return nil
}

// diagCmd connects to FreeSWITCH and prints an fs_cli-style report.
func diagCmd(ctx context.Context, cfg *Config, log *slog.Logger, out io.Writer) error {
	store, closeDB, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeDB()
	cli := esl.New(cfg.FSESLAddr, cfg.FSESLPassword, esl.WithLogger(slog.New(slog.DiscardHandler)))
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := cli.Start(cctx); err != nil {
		return err
	}
	defer cli.Close()
	if err := cli.WaitConnected(cctx); err != nil {
		return fmt.Errorf("event socket %s: %w", cfg.FSESLAddr, err)
	}
	return diagReport(cctx, store, cli, cfg.FSProfile, out)
}

type apiCaller interface {
	API(ctx context.Context, cmd string) (string, error)
}

func diagReport(ctx context.Context, store *db.Store, sw apiCaller, profile string, out io.Writer) error {
	trunks, err := store.AllTrunks(ctx)
	if err != nil {
		return err
	}
	d, err := trunk.Diagnose(ctx, sw, profile, trunks)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "freeswitch> status\n%s\n", d.Status)
	fmt.Fprintf(out, "freeswitch> module_exists mod_audio_stream\n%s\n", d.AudioStream)
	if !d.AudioStreamLoaded() {
		fmt.Fprintln(out, "  !! mod_audio_stream is not loaded: calls cannot reach assistants")
	}
	fmt.Fprintf(out, "\nfreeswitch> sofia xmlstatus gateway   (profile %s)\n", profile)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GATEWAY\tORG\tTRUNK\tENABLED\tFS STATE\tFS STATUS\tSYNC\tDRIFT")
	for _, r := range d.Trunks {
		t := r.Trunk
		sync := "-"
		if t.Status != nil {
			sync = t.Status.SyncState
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%v\t%s\t%s\t%s\t%s\n", r.Name, t.OrgID, t.Name, t.Enabled, dash(r.Live.State), dash(r.Live.Status), sync, r.Drift)
	}
	for _, r := range d.Others {
		fmt.Fprintf(tw, "%s\t-\t-\t-\t%s\t%s\t-\t%s\n", r.Name, dash(r.Live.State), dash(r.Live.Status), r.Drift+r.Note)
	}
	tw.Flush()
	fmt.Fprintf(out, "\n%d trunk(s), %d gateway(s) in FreeSWITCH, %d drift(s)\n", len(trunks), d.Loaded+len(d.Others),
		trunk.Drifts(d.Trunks)+trunk.Drifts(d.Others))
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
