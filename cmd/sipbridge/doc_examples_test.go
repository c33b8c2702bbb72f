package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/provider/providertest"
	"github.com/sipbridge/sipbridge/secret"
)

// TestDocExamples runs scripts/doc-examples.sh, the documentation's example
// requests, against the real binary on each database, with the providers'
// fakes behind it and the FreeSWITCH simulator connected, the organization
// and its key made as the README says. It fails when the script does.
func TestDocExamples(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is missing (Debian: apt-get install %s); .ci/run installs it", tool, tool)
		}
	}
	script, err := filepath.Abs("../../scripts/doc-examples.sh")
	if err != nil {
		t.Fatal(err)
	}
	bin := buildBinary(t)
	for _, database := range []string{"sqlite", "postgres"} {
		t.Run(database, func(t *testing.T) {
			var dbEnv []string
			if database == "postgres" {
				dbEnv = []string{"DATABASE_URL=" + dbtest.DSN(t), "SECRET_KEY=" + secret.NewKey()}
			}
			runDocExamples(t, bin, script, dbEnv)
		})
	}
}

func runDocExamples(t *testing.T, bin, script string, dbEnv []string) {
	tw := providertest.NewTwilio(t, "AC0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210")
	tx := providertest.NewTelnyx(t, "KEYtelnyx0123456789")
	dir := t.TempDir()
	gen := filepath.Join(dir, "freeswitch")
	sw := fstest.New(fstest.Options{GenDir: gen})
	if err := sw.Start(); err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	addr := freeAddr(t)
	env := append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "SIPBRIDGE_ADDR=" + addr,
		"FS_ESL_ADDR=" + sw.Addr(), "FS_GEN_DIR=" + gen, "PUBLIC_BASE_URL=https://bridge.example.com",
		"TWILIO_API_BASE_URL=" + tw.URL(), "TWILIO_ACCOUNT_SID=" + tw.AccountSID, "TWILIO_AUTH_TOKEN=" + tw.AuthToken,
		"TELNYX_API_BASE_URL=" + tx.URL(), "TELNYX_API_KEY=" + tx.APIKey, "TELNYX_CONNECTION_ID=1234567890"}, dbEnv...)

	// The README's first steps: an organization and its key from the admin command.
	create := exec.Command(bin, "admin", "create-key", "--org", "Acme")
	create.Dir, create.Env = dir, env
	out, err := create.Output()
	if err != nil {
		t.Fatalf("admin create-key: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	key := lines[len(lines)-1]

	srv := exec.Command(bin, "serve")
	srv.Dir, srv.Env = dir, env
	// The log goes to a file, read while the server runs.
	logFile, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	logs := func() string {
		b, _ := os.ReadFile(logFile.Name())
		return string(b)
	}
	srv.Stderr = logFile
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	defer func() {
		srv.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			srv.Process.Kill()
			t.Error("serve did not stop on SIGTERM")
		}
	}()
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready (database and simulator): %v\n%s", err, logs())
		}
		time.Sleep(50 * time.Millisecond)
	}

	run := func(apiKey string) (string, error) {
		cmd := exec.Command("bash", script)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "BASE_URL=" + base, "API_KEY=" + apiKey, "PROVIDERS=twilio telnyx"}
		var stdout bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stdout
		err := cmd.Run()
		return stdout.String(), err
	}
	report, err := run(key)
	t.Logf("doc-examples:\n%s", report)
	if err != nil {
		t.Fatalf("doc-examples.sh failed (%v); server log:\n%s", err, logs())
	}
	// Every example ran: none skipped for want of a provider, and the ones
	// that work today passed.
	if strings.Contains(report, "SKIP ") {
		t.Error("an example was skipped")
	}
	if strings.Contains(report, "PENDING") {
		t.Error("an example is still pending: every documented example must pass")
	}
	for _, name := range []string{"providers_twilio_assistant_credentials", "providers_telnyx_assistant_credentials",
		"providers_geographic_assistants", "providers_cost_optimization", "providers_gradual_migration", "providers_bulk_migration",
		"providers_org_sip_config", "providers_register_byo_number", "providers_outbound_call", "purchase_twilio", "purchase_telnyx",
		"sms_send_first", "sms_text_message", "sms_mms_message", "talkifai_byoc_create", "talkifai_byoc_update",
		"talkifai_byoc_delete", "talkifai_byoc_refresh", "talkifai_byoc_refresh_all"} {
		if !regexp.MustCompile(`(?m)^PASS +` + name + `\b`).MatchString(report) {
			t.Errorf("%s did not pass", name)
		}
	}
	// The documented messages reached the provider.
	testkit.Eventually(t, 10*time.Second, "three messages at the Twilio fake", func() bool { return len(tw.SentMessages()) >= 3 })
	if strings.Contains(logs(), "your_sip_password") || strings.Contains(logs(), "your_twilio_auth_token") {
		t.Error("the log shows a secret the examples sent")
	}

	// An answer that differs fails the script, naming the example.
	report, err = run("sb_" + strings.Repeat("0", 32))
	if err == nil || !regexp.MustCompile(`(?m)^FAIL +providers_bulk_migration$`).MatchString(report) ||
		!strings.Contains(report, "failed: providers_twilio_assistant_credentials") {
		t.Fatalf("with a wrong key the script answered %v:\n%s", err, report)
	}
}
