package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"gorm.io/gorm"

	"github.com/sipbridge/sipbridge/db"
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

// startBrowser starts one headless Chromium for the whole test: each
// store's subtest gets a tab of its own in a fresh browser context
// (cookies apart), and the start-up is paid once.
// A start that fails (Chromium exiting at launch, as it once did in a CI
// run: "chrome failed to start", then passing alone) is tried again, up to
// three times; what the tests judge starts after.
func startBrowser(t *testing.T) context.Context {
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 900))
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(actx)
		if err = chromedp.Do(ctx); err == nil { // starts the browser (no timeout on this first run)
			t.Cleanup(func() { cancel(); cancelA() })
			return ctx
		}
		cancel()
		cancelA()
		t.Logf("starting chromium (attempt %d of 3): %v", attempt, err)
		time.Sleep(time.Second)
	}
	t.Fatalf("starting chromium: %v", err)
	return nil
}

// newTab opens a tab on base; its screenshots go to a directory named
// after the store (sqlite, postgres) under $SIPBRIDGE_SCREENSHOTS or
// testdata/screenshots.
func newTab(t *testing.T, browser context.Context, base string) *tab {
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	dir := os.Getenv("SIPBRIDGE_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("testdata", "screenshots")
	}
	dir = filepath.Join(dir, filepath.Base(t.Name()))
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

// TestConsoleInABrowser runs on each store (one browser for both): it
// signs in, creates a trunk through the form and sees its page and the
// list follow the switch registering it, sees a refused form name its
// field, assigns a number, sees a live call appear in both tables, count
// up and end, plays its recording, transfers another call, and
// photographs every page.
func TestConsoleInABrowser(t *testing.T) {
	chromium(t)
	browser := startBrowser(t)
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		e := newEnv(t, g, true)
		b := newTab(t, browser, e.srv.URL)
		b.open("/console/signin", "#api_key")
		b.shot("signin")
		b.do("sign in", chromedp.SendKeys(chromedp.ID("api_key"), e.keyA), chromedp.Click(chromedp.ID("signin")),
			chromedp.WaitVisible(chromedp.ID("trunks")))
		trunkForms(t, e, b)
		liveCall(t, e, b)
		transferCall(t, e, b)
		assignNumber(t, e, b)
		for _, p := range []struct{ path, wait, name string }{
			{"/console/assistants", "#assistants", "assistants"}, {"/console/messages", "#queue-stats", "messages"},
			{"/console/switch", "#gateways", "switch"},
		} {
			b.open(p.path, p.wait)
			b.shot(p.name)
		}
		t.Logf("screenshots in %s", b.dir)
	})
}

// trunkForms: a trunk through the form; the simulated switch registers it
// and its own page, then the list, show REGED without a reload; disabled
// elsewhere, the list follows; a refused form names its field.
func trunkForms(t *testing.T, e *env, b *tab) {
	b.open("/console/trunks/new", "#trunk-form")
	b.do("create a trunk", chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "Carrier"),
		chromedp.SendKeys(chromedp.CSS(`input[name=gateway]`), "203.0.113.10"),
		chromedp.SendKeys(chromedp.CSS(`input[name=username]`), "user1"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "s3cret-pw"),
		chromedp.Click(chromedp.ID("save")), chromedp.WaitVisible(chromedp.ID("gateway-xml")))
	b.do("the trunk's page follows the registration", chromedp.WaitVisible(chromedp.CSS(`#gw-state[data-state="REGED"]`)))
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
}

// liveCall: a call on the simulated switch appears on the open calls page,
// in the live table (its duration counting) and among the recent calls;
// hung up from its page, it leaves the live table, and its page plays its
// recording.
func liveCall(t *testing.T, e *env, b *tab) {
	b.open("/console/calls", "#live-calls")
	c := e.placeCall()
	row := "#call-" + c.ID
	b.do("the call appears", chromedp.WaitVisible(chromedp.CSS(row)),
		chromedp.WaitVisible(chromedp.CSS("#recent-"+c.ID+" td.status-in-progress")))
	// The duration counts up in place, each second.
	b.do("the duration counts", chromedp.Poll[chromedp.Void](
		`/^0:0[1-9]$/.test(document.querySelector("`+row+` td.duration").textContent)`, chromedp.WithPollingTimeout(5*time.Second)))
	b.shot("calls")
	b.open("/console/calls/"+c.ID, "#timeline")
	b.shot("call")
	b.do("hang up", chromedp.Click(chromedp.ID("hangup")), chromedp.WaitVisible(chromedp.ID("action-done")))
	b.open("/console/calls", "#live-calls")
	b.do("the call ends", chromedp.WaitVisible(chromedp.CSS("#live-calls tr.none")),
		chromedp.WaitVisible(chromedp.CSS("#recent-"+c.ID+" td.status-completed")))
	// The recording: the player loads it through the console (its cookie).
	b.open("/console/calls/"+c.ID, "#recording")
	b.do("the recording loads", chromedp.Poll[chromedp.Void](
		`(function(a){ return a.readyState >= 1 && a.duration > 0 && !a.error; })(document.getElementById("recording"))`,
		chromedp.WithPollingTimeout(5*time.Second)))
	b.shot("call-recording")
}

// transferCall: another call, transferred from its page by REFER; its
// timeline then shows the far end accepting.
func transferCall(t *testing.T, e *env, b *tab) {
	c := e.placeCall()
	b.open("/console/calls/"+c.ID, "#transfer")
	b.do("transfer", chromedp.SendKeys(chromedp.CSS(`input[name=to]`), "sip:+14155550199@127.0.0.1"),
		chromedp.SetValue(chromedp.CSS(`select[name=mode]`), "refer"), chromedp.Click(chromedp.ID("transfer")),
		chromedp.WaitVisible(chromedp.ID("action-done")))
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.open("/console/calls/"+c.ID, "#timeline")
		if tl := b.text("#timeline"); strings.Contains(tl, "refer_accepted") && strings.Contains(b.text("#call-status"), "completed") {
			break
		}
		if time.Now().After(deadline) {
			b.shot("failed")
			t.Fatalf("the transfer never showed in the timeline: %s", b.text("#timeline"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.shot("call-transferred")
}

// assignNumber: an unassigned number gets the assistant and the trunk
// from the selects of its row.
func assignNumber(t *testing.T, e *env, b *tab) {
	ctx := context.Background()
	n := &db.PhoneNumber{OrgID: e.orgA, PhoneNumber: "+16475550123", Provider: db.ProviderTwilio, CountryCode: "CA", CapVoice: true, IsActive: true}
	if err := e.store.SaveNumber(ctx, n); err != nil {
		t.Fatal(err)
	}
	as, _, _ := e.store.ListAssistants(ctx, e.orgA, dbPage())
	trunks, _, _ := e.store.ListTrunks(ctx, e.orgA, dbPage())
	var pbx string
	for _, tr := range trunks {
		if tr.Name == "PBX" {
			pbx = tr.ID
		}
	}
	if len(as) != 1 || pbx == "" {
		t.Fatalf("%d assistants, PBX trunk %q", len(as), pbx)
	}
	row := "#number-" + n.ID
	b.open("/console/numbers", row)
	b.do("assign", chromedp.SetValue(chromedp.CSS(row+` select[name=assistant_id]`), as[0].ID),
		chromedp.SetValue(chromedp.CSS(row+` select[name=sip_trunk_id]`), pbx), chromedp.Click(chromedp.CSS(row+` button.save`)),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`%s[data-assistant="%s"][data-trunk="%s"]`, row, as[0].ID, pbx))))
	if a, tr := b.text(row+" td.assistant"), b.text(row+" td.trunk"); a != "Echo" || tr != "PBX" {
		t.Fatalf("the number's row after assigning: assistant %q, trunk %q", a, tr)
	}
	got, _ := e.store.GetNumber(ctx, e.orgA, n.ID)
	if got.AssistantID == nil || *got.AssistantID != as[0].ID || got.SIPTrunkID == nil || *got.SIPTrunkID != pbx {
		t.Fatalf("assigned in the browser, stored: %v %v", got.AssistantID, got.SIPTrunkID)
	}
	b.shot("numbers")
}
