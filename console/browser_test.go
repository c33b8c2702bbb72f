package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sipbridge/sipbridge/db/dbtest"
)

// tab is one headless Chromium tab driving the console.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string // screenshots
}

// chromium finds Debian's chromium (or $CHROME), else skips the test.
func chromium(t *testing.T) string {
	for _, name := range []string{os.Getenv("CHROME"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("browser tests skipped: no chromium on PATH (Debian: apt-get install chromium; or set CHROME)")
	return ""
}

func newTab(t *testing.T, base string) *tab {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 900))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelA() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser (no timeout on this first run)
		t.Fatalf("starting chromium: %v", err)
	}
	dir := os.Getenv("SIPBRIDGE_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("testdata", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &tab{t: t, ctx: ctx, base: base, dir: dir}
}

// do runs steps, each run bounded, failing the test with what was awaited.
func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.shot("failed")
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *tab) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (b *tab) open(path, waitFor string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS(waitFor)))
}

func (b *tab) shot(name string) {
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(filepath.Join(b.dir, name+".png"), buf, 0o644)
	}
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

// TestConsoleInABrowser signs in, creates a trunk through the form and
// sees the switch register it, sees a refused form name its field, sees a
// live call appear, count up and end, and photographs every page.
func TestConsoleInABrowser(t *testing.T) {
	chromium(t)
	e := newEnv(t, dbtest.SQLite(t), true)
	b := newTab(t, e.srv.URL)

	b.open("/console/signin", "#api_key")
	b.shot("signin")
	b.do("sign in", chromedp.SendKeys(chromedp.ID("api_key"), e.keyA), chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("trunks")))

	// A trunk through the form; the simulated switch registers it and the
	// list shows REGED without a reload.
	b.open("/console/trunks/new", "#trunk-form")
	b.do("create a trunk", chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "Carrier"),
		chromedp.SendKeys(chromedp.CSS(`input[name=gateway]`), "203.0.113.10"),
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), "user1"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "s3cret-pw"),
		chromedp.Click(chromedp.ID("save")), chromedp.WaitVisible(chromedp.ID("gateway-xml")))
	b.shot("trunk")
	b.open("/console/trunks", "#trunks")
	b.do("the gateway registers", chromedp.WaitVisible(chromedp.CSS(`td.state[data-state="REGED"]`)))
	b.shot("trunks")
	items, _, _ := e.store.ListTrunks(context.Background(), e.orgA, dbPage())
	if len(items) != 1 {
		t.Fatalf("%d trunks after the form", len(items))
	}
	// Disabled elsewhere (the API): the open page follows.
	if _, err := e.app.Web.Trunks.SetEnabled(context.Background(), e.orgA, items[0].ID, false); err != nil {
		t.Fatal(err)
	}
	b.do("the page follows a change made elsewhere",
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#trunk-%s form[action$="/enable"]`, items[0].ID))))

	// A refused form names the field, with the API's message beside it.
	b.open("/console/trunks/new", "#trunk-form")
	b.do("an invalid gateway", chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "Bad"),
		chromedp.SendKeys(chromedp.CSS(`input[name=gateway]`), "bad host!"),
		chromedp.Click(chromedp.ID("save")), chromedp.WaitVisible(chromedp.CSS(`p.err[data-field="gateway"]`)))
	if msg := b.text(`p.err[data-field="gateway"]`); !regexp.MustCompile(`gateway`).MatchString(msg) {
		t.Fatalf("gateway error %q does not name the field", msg)
	}
	b.shot("trunk-invalid")

	liveCall(t, e, b)
	for _, p := range []struct{ path, wait, name string }{
		{"/console/numbers", "#numbers", "numbers"}, {"/console/assistants", "#assistants", "assistants"},
		{"/console/messages", "#conversations", "messages"}, {"/console/switch", "#gateways", "switch"},
	} {
		b.open(p.path, p.wait)
		b.shot(p.name)
	}
	t.Logf("screenshots in %s", b.dir)
}

// liveCall: a call on the simulated switch appears on the open calls
// page, its duration counting; hung up from its page, it leaves the list.
func liveCall(t *testing.T, e *env, b *tab) {
	b.open("/console/calls", "#live-calls")
	c := e.placeCall()
	row := "#call-" + c.ID
	b.do("the call appears", chromedp.WaitVisible(chromedp.CSS(row)))
	// The duration counts up in place, each second.
	b.do("the duration counts", chromedp.Poll[chromedp.Void](
		`/^0:0[1-9]$/.test(document.querySelector("`+row+` td.duration").textContent)`, chromedp.WithPollingTimeout(5*time.Second)))
	b.shot("calls")
	b.open("/console/calls/"+c.ID, "#timeline")
	b.shot("call")
	b.do("hang up", chromedp.Click(chromedp.ID("hangup")), chromedp.WaitVisible(chromedp.ID("action-done")))
	b.open("/console/calls", "#live-calls")
	b.do("the call ends", chromedp.WaitVisible(chromedp.CSS("#live-calls tr.none")))
}
