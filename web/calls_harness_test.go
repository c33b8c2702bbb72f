package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sipbridge/sipbridge/app"
	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/audio"
	"github.com/sipbridge/sipbridge/call/sip"
	"github.com/sipbridge/sipbridge/cluster"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/freeswitch/fstest"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/internal/tone"
	"github.com/sipbridge/sipbridge/netpolicy"
	"github.com/sipbridge/sipbridge/trunk"
	"gorm.io/gorm"
)

// callEnv is sipbridge's call path end to end: PostgreSQL, the FreeSWITCH
// simulator on a real ESL port, call control on two Event Socket
// connections, the HTTP server (API and the mod_audio_stream websocket) on a
// real port, and a test assistant speaking the Twilio Media Streams
// protocol.
type callEnv struct {
	*env
	sw        *fstest.Switch
	app       *app.App
	genDir    string
	calls     *cluster.Calls
	asst      *testAssistant
	trunk     *db.SIPTrunk
	assistant *db.Assistant
	recDir    string
}

// newCallEnv starts the call path on PostgreSQL; opts adjust call
// control's options.
func newCallEnv(t *testing.T, opts ...func(*sip.CallsOptions)) *callEnv {
	t.Helper()
	return newCallEnvOn(t, callEnvConfig{}, opts...)
}

// callEnvConfig picks the call path's database (nil: PostgreSQL) and the
// API's address policy (nil: loopback allowed, as call control's).
type callEnvConfig struct {
	DB        *gorm.DB
	WebPolicy *netpolicy.Policy
	// WelcomeAudioDir is WELCOME_AUDIO_DIR ("": none).
	WelcomeAudioDir string
}

// newCallEnvOn is newCallEnv with a database and API policy of choice.
func newCallEnvOn(t *testing.T, cfg callEnvConfig, opts ...func(*sip.CallsOptions)) *callEnv {
	t.Helper()
	logs := &testkit.LogBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if cfg.DB == nil {
		cfg.DB = dbtest.Postgres(t)
	}
	if cfg.WebPolicy == nil {
		cfg.WebPolicy = loopbackPolicy()
	}
	store := db.NewStore(cfg.DB, dbtest.Keyring(t), log)

	genDir := t.TempDir()
	sw := fstest.New(fstest.Options{GenDir: genDir, Step: 5 * time.Millisecond})
	if err := sw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sw.Close() })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	recDir := t.TempDir()
	// The fake assistant and the trunks are on 127.0.0.1: call control and
	// trunk sync allow loopback; the API checks with cfg.WebPolicy.
	bridge := newApp(t, app.Config{Store: store, Log: log, AddressPolicy: cfg.WebPolicy,
		Switch:       &app.Switch{Addr: sw.Addr(), Password: "ClueCon", CallConnections: 1, GenDir: genDir},
		StreamWSBase: "ws://" + ln.Addr().String(), RecordingsDir: recDir, WelcomeAudioDir: cfg.WelcomeAudioDir,
		// Gateways reach the simulator when a test loads them (loadTrunks),
		// not whenever the reconcile loop gets to them.
		ManualSync:  true,
		SyncOptions: func(o *trunk.SyncOptions) { o.AddressPolicy = loopbackPolicy() },
		CallsOptions: func(co *sip.CallsOptions) {
			// Quick leg timeouts for call control; the API shows the
			// platform default (30 s) as the unset ring time.
			co.AddressPolicy, co.LegTimeout = loopbackPolicy(), 2*time.Second
			for _, o := range opts {
				o(co)
			}
		},
	})
	if err := bridge.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := bridge.WaitSwitch(wctx); err != nil {
		t.Fatal(err)
	}
	s, calls := bridge.Web, bridge.Calls
	srv := httptest.NewUnstartedServer(s.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() {
		bridge.Close() // live calls end first, as serve stops
		srv.Close()
		checkLogVocabulary(t, logs.String())
	})

	e := &env{t: t, srv: srv, web: s, store: store, logs: logs, bodies: &testkit.LogBuffer{}}
	a, _ := e.addOrgs()

	ce := &callEnv{env: e, sw: sw, app: bridge, genDir: genDir, calls: calls, asst: newTestAssistant(t), recDir: recDir}
	ce.trunk = &db.SIPTrunk{ID: db.NewID(), OrgID: a.ID, Name: "PBX", GatewayName: "o" + itoa(a.ID) + "_pbx", Gateway: "127.0.0.1",
		Priority: 1, Enabled: true, Register: false, Transport: "udp", AllowedAddresses: db.StringList{"127.0.0.1/32"}}
	if err := store.CreateTrunk(ctx, ce.trunk); err != nil {
		t.Fatal(err)
	}
	ce.assistant = &db.Assistant{OrgID: a.ID, Name: "Receptionist", StreamURL: ce.asst.URL(), WelcomeMessage: "Hello from Acme"}
	if err := store.SaveAssistant(ctx, ce.assistant, db.AssistantSecrets{}); err != nil {
		t.Fatal(err)
	}
	return ce
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// addTrunk adds an enabled IP-auth trunk of organization A.
func (ce *callEnv) addTrunk(name string, priority int) *db.SIPTrunk {
	ce.t.Helper()
	tr := &db.SIPTrunk{ID: db.NewID(), OrgID: ce.orgA, Name: name, GatewayName: "o" + itoa(ce.orgA) + "_" + strings.ToLower(name), Gateway: "127.0.0.1",
		Priority: priority, Enabled: true, Register: false, Transport: "udp", AllowedAddresses: db.StringList{"127.0.0.2/32"}}
	if err := ce.store.CreateTrunk(context.Background(), tr); err != nil {
		ce.t.Fatal(err)
	}
	return tr
}

// loadTrunks applies the trunks to the simulator (one reconcile pass), so
// their gateways exist for originate.
func (ce *callEnv) loadTrunks() {
	ce.t.Helper()
	if _, err := ce.app.TrunkSync.Pass(context.Background()); err != nil {
		ce.t.Fatal(err)
	}
}

// allowCountries sets organization A's outbound allow-list.
func (ce *callEnv) allowCountries(cc ...string) {
	ce.t.Helper()
	ce.mustDo("PUT", "/api/v1/organization", ce.keyA, map[string]any{"call_limits": map[string]any{"outbound_countries": cc}}, 200)
}

// addNumber registers an active number on the env's trunk; assistantID ""
// leaves it unassigned.
func (ce *callEnv) addNumber(number, assistantID string) *db.PhoneNumber {
	ce.t.Helper()
	n := &db.PhoneNumber{OrgID: ce.orgA, PhoneNumber: number, Provider: db.ProviderBYOSIP, CountryCode: "CA",
		SIPTrunkID: &ce.trunk.ID, CapVoice: true, IsActive: true}
	if assistantID != "" {
		n.AssistantID = &assistantID
	}
	if err := ce.store.SaveNumber(context.Background(), n); err != nil {
		ce.t.Fatal(err)
	}
	return n
}

// pbxCall is the recorded PBX INVITE (inbound-headers-a): R-URI 9228 with a
// Diversion naming the dialled number, let in by the trunk's ACL list.
func (ce *callEnv) pbxCall(headers map[string][]string) fstest.InboundCall {
	if headers == nil {
		headers = map[string][]string{"Diversion": {"<sip:+16478491000@pbx.example.com>;reason=unconditional"}}
	}
	return fstest.InboundCall{FromUser: "+14165550100", RequestUser: "9228", Headers: headers, ACLAuthedBy: ce.trunk.GatewayName}
}

// waitCall waits for organization A's call with that call_sid (channel
// UUID or provider call id) to reach a status (closed statuses: ended_at
// set too).
func (ce *env) waitCall(uuid, status string, within time.Duration) *db.Call {
	ce.t.Helper()
	var last *db.Call
	ok := waitUntil(within, func() bool {
		calls, _, err := ce.store.ListCalls(context.Background(), ce.orgA, db.CallFilter{}, db.Page{Limit: 100})
		if err != nil {
			return false
		}
		for i := range calls {
			if calls[i].CallSID == uuid {
				last = &calls[i]
				return calls[i].Status == status && (status == db.CallRinging || status == db.CallInProgress || calls[i].EndedAt != nil)
			}
		}
		return false
	})
	if !ok {
		ce.t.Fatalf("call %s did not reach status %q within %v; last record: %+v\nlogs:\n%s", uuid, status, within, last, tail(ce.logs.String(), 4000))
	}
	return last
}

// commandsWith returns the switch commands starting with prefix.
// liveCall places a PBX call (no extra headers) and waits for its
// assistant connection and its in-progress record.
func (ce *callEnv) liveCall() (string, *assistantConn, *db.Call) {
	ce.t.Helper()
	uuid, err := ce.sw.Call(ce.pbxCall(nil))
	if err != nil {
		ce.t.Fatal(err)
	}
	ac := ce.asst.next(3 * time.Second)
	return uuid, ac, ce.waitCall(uuid, db.CallInProgress, 3*time.Second)
}

func (ce *callEnv) commandsWith(prefix string) []string {
	var out []string
	for _, c := range ce.sw.Commands() {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}

func (ce *callEnv) waitCommand(prefix string, within time.Duration) string {
	ce.t.Helper()
	var got string
	if !waitUntil(within, func() bool {
		if c := ce.commandsWith(prefix); len(c) > 0 {
			got = c[len(c)-1]
			return true
		}
		return false
	}) {
		ce.t.Fatalf("no %q command within %v; commands: %q\nlogs:\n%s", prefix, within, ce.sw.Commands(), tail(ce.logs.String(), 4000))
	}
	return got
}

func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// testAssistant is an assistant endpoint speaking the Twilio Media Streams
// protocol: it records what it receives and can speak, mark, clear, ask for
// a transfer or hang up.
type testAssistant struct {
	t     *testing.T
	srv   *httptest.Server
	mu    sync.Mutex
	conns []*assistantConn
	got   chan *assistantConn
}

type assistantConn struct {
	ws      *websocket.Conn
	wmu     sync.Mutex
	mu      sync.Mutex
	events  []string // event names in order
	start   map[string]any
	media   [][]byte // μ-law payloads
	stamps  []int    // media timestamps (ms)
	marks   []string
	dtmf    []string
	failed  []assistant.TransferFailedPayload // transfer_failed messages
	amd     []assistant.AMDPayload            // amd messages
	stopped bool
	closed  chan struct{}
}

func newTestAssistant(t *testing.T) *testAssistant {
	ta := &testAssistant{t: t, got: make(chan *assistantConn, 16)}
	up := websocket.Upgrader{}
	ta.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c := &assistantConn{ws: ws, closed: make(chan struct{})}
		ta.mu.Lock()
		ta.conns = append(ta.conns, c)
		ta.mu.Unlock()
		ta.got <- c
		c.read()
	}))
	t.Cleanup(ta.srv.Close)
	return ta
}

// URL is the assistant's stream_url.
func (ta *testAssistant) URL() string {
	return "ws" + strings.TrimPrefix(ta.srv.URL, "http") + "/stream"
}

// next waits for the next stream to the assistant.
func (ta *testAssistant) next(within time.Duration) *assistantConn {
	ta.t.Helper()
	select {
	case c := <-ta.got:
		return c
	case <-time.After(within):
		ta.t.Fatalf("no stream reached the assistant within %v", within)
		return nil
	}
}

func (c *assistantConn) read() {
	defer close(c.closed)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var m struct {
			Event string         `json:"event"`
			Start map[string]any `json:"start"`
			Media struct {
				Timestamp string `json:"timestamp"`
				Payload   string `json:"payload"`
			} `json:"media"`
			Mark struct {
				Name string `json:"name"`
			} `json:"mark"`
			DTMF struct {
				Digit string `json:"digit"`
			} `json:"dtmf"`
			Transfer assistant.TransferFailedPayload `json:"transfer"`
			AMD      assistant.AMDPayload            `json:"amd"`
		}
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		c.mu.Lock()
		c.events = append(c.events, m.Event)
		switch m.Event {
		case "start":
			c.start = m.Start
		case "media":
			b, _ := base64.StdEncoding.DecodeString(m.Media.Payload)
			c.media = append(c.media, b)
			var ts int
			_ = json.Unmarshal([]byte(m.Media.Timestamp), &ts)
			c.stamps = append(c.stamps, ts)
		case "mark":
			c.marks = append(c.marks, m.Mark.Name)
		case "dtmf":
			c.dtmf = append(c.dtmf, m.DTMF.Digit)
		case "stop":
			c.stopped = true
		case "transfer_failed":
			c.failed = append(c.failed, m.Transfer)
		case "amd":
			c.amd = append(c.amd, m.AMD)
		}
		c.mu.Unlock()
	}
}

func (c *assistantConn) send(v any) error {
	b, _ := json.Marshal(v)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// speak sends a tone as μ-law media messages of 20 ms.
func (c *assistantConn) speak(freq float64, ms int) {
	pcm := tone.Generate(freq, 8000, ms, 8000)
	ulaw := make([]byte, len(pcm))
	audio.MulawEncode(ulaw, pcm)
	for i := 0; i < len(ulaw); i += 160 {
		end := min(i+160, len(ulaw))
		_ = c.send(map[string]any{"event": "media", "streamSid": "MZ1", "media": map[string]any{"payload": base64.StdEncoding.EncodeToString(ulaw[i:end])}})
	}
}

func (c *assistantConn) snapshot() (events []string, media [][]byte, stamps []int, marks, dtmf []string, start map[string]any, stopped bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.events...), append([][]byte(nil), c.media...), append([]int(nil), c.stamps...),
		append([]string(nil), c.marks...), append([]string(nil), c.dtmf...), c.start, c.stopped
}

// amdReports returns the amd messages received so far.
func (c *assistantConn) amdReports() []assistant.AMDPayload {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]assistant.AMDPayload(nil), c.amd...)
}

// transferFailed returns the transfer_failed messages received so far.
func (c *assistantConn) transferFailed() []assistant.TransferFailedPayload {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]assistant.TransferFailedPayload(nil), c.failed...)
}

func (c *assistantConn) mediaCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.media)
}
