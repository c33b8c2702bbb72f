// Package fstest is a FreeSWITCH simulator for tests: an Event Socket server
// speaking the wire format of the recordings in ../shared/fixtures/freeswitch
// (a real FreeSWITCH 1.11) and emulating the mod_sofia gateway and ACL
// semantics sipbridge relies on, read from the files sipbridge writes under
// GenDir: gateways/*.xml, acl/*.xml, profile/*.xml.
//
// Its parts are packages of their own, each behind a small interface the
// Switch implements: the ESL connections, commands and event framing
// (eslserver: auth, event json|plain, filter, api, bgapi, sendmsg, exit);
// mod_sofia's configuration, ACL lists, gateways and their registration
// state machine with per-gateway registrar outcomes, XML errors in the ezxml
// form (sofia: reloadxml, reloadacl, acl, `sofia profile <p> rescan|startgw|
// killgw|restart`, `sofia xmlstatus gateway [name]`, `sofia status [gateway
// <name>]`); the media side of a call (media); the recordings' reader
// (recording); the parsers and codecs (dialstring, audiostream, audiofile,
// ezxml). This package is the switch itself: status, module_exists, the API
// event after every api/bgapi command (Options.NoAPIEvents omits it),
// BACKGROUND_JOB, HEARTBEAT, and the channels.
//
// Calls (originate*.jsonl, refer-*.jsonl, inbound-*.jsonl): inbound calls
// (Call) with their recorded event sequences, uuid_answer, uuid_kill,
// Hangup; outbound calls with `originate` over api or bgapi: a dial string
// of {global} variables and `|`-separated [leg] sofia/gateway/<gw>/<number>
// legs, parsed as FreeSWITCH does, each leg's far end set per gateway by
// SetDialOutcome (answer, busy, no answer, reject), INVALID_GATEWAY and
// GATEWAY_DOWN, leg_timeout / originate_timeout /
// originate_continue_on_timeout failover, the last leg's cause on failure,
// calls-out / failed-calls-out, DialAttempts; the answered leg is a normal
// channel with Call-Direction outbound. Transfers with `uuid_deflect`: the
// REFER (Refers, with the sip_h_* variables copied unless
// exclude_outgoing_extra_header matches), accepted (sofia::notify_refer,
// BLIND_TRANSFER) or declined (no reply after 10 s, BLIND_TRANSFER anyway),
// or kept up by sip_refer_continue_after_reply (SetReferOutcome).
//
// Timing: Options.Step is the wall time standing for 0.5 s of a real switch.
// Every delay scales with it (the gateways' timers, see sofia; a 3 s
// leg_timeout rings 6 Steps; a declined REFER waits 20 Steps), so the order
// of events is the real one. Durations the switch reports (uptime,
// "retry: Ns") are in switch time, i.e. wall time divided by that scale.
//
// Deliberate differences from a real switch: the simulator starts EMPTY (a
// real switch would load the files present at startup; here nothing is loaded
// until rescan/reloadacl), it has one profile and no vanilla `example.com`
// gateway, `internal` profile or alias, and DNS names are never resolved.
//
// Calls (fstest_channels.go): Call offers an inbound call (CREATE, the
// dialplan of Options.Dialplan, PARK), Invite one judged by the profile's
// inbound ACL lists (let in, or refused with 403), uuid_answer, uuid_kill,
// `show channels as json` (showchan) and Hangup with the sequences of the recordings and of a real switch
// running freeswitch/conf (e2e TestConformance compares them).
//
// The media side of a call (package media, fstest_media.go here):
// uuid_setvar/uuid_getvar; uuid_audio_stream (a real websocket client
// streaming InboundCall.CallerAudio, default a 440 Hz tone; BreakStream
// drops it), uuid_broadcast (Options.BroadcastGap, PlaybackCallerMute;
// what the caller heard in Heard/Playbacks, PlaybackStalls), uuid_break,
// uuid_buglist, uuid_record; SendDTMF; the hangup stops all of it inside
// the recorded sequence. Media runs in wall time, one frame per 20 ms, whatever
// Options.Step is. Simplified: no codec negotiation (PCMU 8 kHz, its CODEC
// events as a real switch fires them: at the answer, or on arrival with
// Options.InboundEarlyNegotiation), event headers of the media events come
// after the standard ones sorted by name, not in FreeSWITCH's order.
package fstest

import (
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/eslserver"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/media"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/sofia"
)

// DefaultModules returns the modules module_exists reports as loaded unless
// Options.Modules says otherwise: those of freeswitch/conf (modules.conf.xml).
func DefaultModules() []string {
	return []string{"mod_console", "mod_logfile", "mod_event_socket", "mod_sofia", "mod_loopback",
		"mod_commands", "mod_dptools", "mod_dialplan_xml", "mod_sndfile", "mod_native_file", "mod_tone_stream",
		"mod_audio_stream"}
}

// Options configure the simulator. The zero value works.
type Options struct {
	Password string // ESL password (default ClueCon)
	GenDir   string // the directory sipbridge writes (gateways/, acl/, profile/)
	Profile  string // the sofia profile (default external)
	// Step is the wall time standing for 0.5 s of a real switch (default
	// 10ms); all gateway delays scale with it and keep the real order.
	Step    time.Duration
	SIPAddr string // the profile's SIP address, as in contacts (default 127.0.0.1:5080)
	// Globals are the $${var} values of the XML preprocessor (default
	// domain=127.0.0.1, as on the recording switch).
	Globals map[string]string
	Modules []string // modules module_exists reports (default DefaultModules())
	// Heartbeat, when set, emits HEARTBEAT then RE_SCHEDULE at this interval
	// (a real switch: every 20 s). Zero: never.
	Heartbeat   time.Duration
	NoAPIEvents bool             // do not emit the API event a real switch fires for every api/bgapi
	Clock       func() time.Time // event dates and ping epochs (default time.Now)
	Logger      *slog.Logger     // default: discard
	// TempDir is FreeSWITCH's temp dir, where mod_audio_stream writes the
	// audio of streamAudio messages (default: a directory made under
	// os.TempDir() on first use and removed by Close).
	TempDir string

	// Playback timing, as measured on FreeSWITCH 1.11.1 (media/playback.go
	// says how). Whole 20 ms frames (rounded); zero means the default,
	// a negative value none.
	//
	// BroadcastGap is the silence before each uuid_broadcast plays: when
	// its turn comes (at once, or when the playback before it stops) the
	// channel reads this long (switch_ivr_broadcast's 5 lead frames), fires
	// PLAYBACK_START, and the audio starts on the next frame. Default
	// 100 ms: the caller heard 100 ms of silence between queued files.
	BroadcastGap time.Duration
	// PlaybackCallerMute is the caller's audio lost at each PLAYBACK_START:
	// the frames after it still come every 20 ms (to mod_audio_stream, to
	// uuid_record) but hold zeros, and that audio of the caller is gone.
	// Default 40 ms (2 frames).
	PlaybackCallerMute time.Duration

	// Dialplan is what the public context runs on an inbound call, one
	// "app" or "app data" each, before it parks: by default (nil)
	// freeswitch/conf's dialplan/public.xml (DefaultDialplan). set puts
	// its variable on the channel; other applications only fire their
	// CHANNEL_EXECUTE and _COMPLETE; park ends the list (it is added when
	// missing). The recordings' switch ran park alone ([]string{"park"}).
	Dialplan []string
	// InboundEarlyNegotiation turns off the profile's
	// inbound-late-negotiation. false, as in freeswitch/conf's external
	// profile (the default, which negotiates late so that a trunk's codecs
	// and srtp decide the answer) and on the vanilla profile the
	// recordings were made with: the answer negotiates the media first, so
	// CODEC ×2, CHANNEL_PROGRESS_MEDIA and CALLSTATE EARLY come before it
	// (seen on a real FreeSWITCH 1.11.1, e2e TestConformance). true: the
	// offer is negotiated on arrival (CODEC ×2 right after CS_NEW) and
	// uuid_answer goes from RINGING straight to CHANNEL_ANSWER.
	InboundEarlyNegotiation bool
}

// DefaultDialplan is the public context of freeswitch/conf
// (dialplan/public.xml): three set actions, then park.
func DefaultDialplan() []string {
	return []string{"set sipbridge_inbound=true", "set hangup_after_bridge=true", "set continue_on_fail=true", "park"}
}

// Defaults of the playback timing (Options.BroadcastGap, PlaybackCallerMute).
const (
	DefaultBroadcastGap       = 100 * time.Millisecond
	DefaultPlaybackCallerMute = 40 * time.Millisecond
)

// frames turns an Options duration into 20 ms frames: zero is def, a
// negative value none.
func frames(d, def time.Duration) int {
	switch {
	case d == 0:
		d = def
	case d < 0:
		return 0
	}
	return int((d + media.FrameDur/2) / media.FrameDur)
}

// Registrar is the answer a registration gateway's REGISTER gets (and, for a
// register=false gateway with `ping`, whether its OPTIONS are answered).
type Registrar = sofia.Registrar

const (
	RegistrarOK        = sofia.RegistrarOK        // 200 OK: TRYING, REGISTER, REGED (recorded)
	RegistrarForbidden = sofia.RegistrarForbidden // 403 Forbidden: TRYING, FAILED, FAIL_WAIT, UNREGED… (recorded)
	RegistrarTimeout   = sofia.RegistrarTimeout   // no answer: like Forbidden with 408 Request Timeout (not recorded)
)

// GatewayInfo is a loaded gateway as a test sees it.
type GatewayInfo = sofia.GatewayInfo

// Switch is the simulator. All methods are safe for concurrent use.
type Switch struct {
	o     Options
	scale float64 // wall time / switch time
	now   func() time.Time
	log   *slog.Logger

	ln      net.Listener
	addr    string
	started time.Time
	done    chan struct{}
	wg      sync.WaitGroup

	esl *eslserver.Server // the connections and the event fan-out

	mu       sync.Mutex
	coreUUID string
	sofia    *sofia.Profile // gateways, ACLs and the XML in effect
	modules  map[string]bool
	commands []string
	failNext []failRule
	epoch    chan struct{} // closed by Restart, profile restart and Close: ends the call timers
	closed   bool

	handlers map[string]apiFunc
	chans    channels
	media    *media.Media
	tmpDir   string            // the default TempDir once made, under mu
	out      outbound          // originate and uuid_deflect (fstest_originate.go, fstest_deflect.go)
	sentDTMF map[string]string // uuid_send_dtmf's digits by channel, under mu
}

type failRule struct{ prefix, reply string }

// New returns a stopped simulator.
func New(o Options) *Switch {
	if o.Password == "" {
		o.Password = "ClueCon"
	}
	if o.Profile == "" {
		o.Profile = "external"
	}
	if o.SIPAddr == "" {
		o.SIPAddr = "127.0.0.1:5080"
	}
	if o.Step <= 0 {
		o.Step = 10 * time.Millisecond
	}
	if o.Globals == nil {
		o.Globals = map[string]string{"domain": "127.0.0.1"}
	}
	if o.Modules == nil {
		o.Modules = DefaultModules()
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Dialplan == nil {
		o.Dialplan = DefaultDialplan()
	}
	if n := len(o.Dialplan); n == 0 || strings.TrimSpace(o.Dialplan[n-1]) != "park" {
		o.Dialplan = append(slices.Clip(o.Dialplan), "park")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Switch{o: o, now: o.Clock, log: o.Logger, scale: float64(o.Step) / float64(500*time.Millisecond),
		done: make(chan struct{}), coreUUID: uuid.NewString(),
		modules: map[string]bool{}, epoch: make(chan struct{})}
	for _, m := range o.Modules {
		s.modules[m] = true
	}
	s.sofia = sofia.New(sofia.Config{Profile: o.Profile, SIPAddr: o.SIPAddr, GenDir: o.GenDir, Globals: o.Globals,
		Logger: o.Logger, Now: o.Clock, Scale: s.scale}, sofiaHost{s})
	s.media = media.New(mediaHost{s}, o.Logger, frames(o.BroadcastGap, DefaultBroadcastGap),
		frames(o.PlaybackCallerMute, DefaultPlaybackCallerMute))
	s.handlers = s.coreAPI()
	s.esl = eslserver.New(eslserver.Config{Password: o.Password, Handler: eslHandler{s}, Logger: o.Logger,
		Core: s.core, Clock: o.Clock, Sites: callSites})
	return s
}

// Start listens on 127.0.0.1 (a free port) and serves ESL.
func (s *Switch) Start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.ln, s.addr, s.started = ln, ln.Addr().String(), s.now()
	s.mu.Unlock()
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.esl.Serve(ln) }()
	if s.o.Heartbeat > 0 {
		s.wg.Add(1)
		go s.heartbeats()
	}
	s.log.Debug("fstest: listening", "addr", s.addr)
	return nil
}

// Addr is the ESL address (host:port).
func (s *Switch) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Options returns the options in effect (defaults filled in).
func (s *Switch) Options() Options { return s.o }

// Close stops the simulator: the listener, every connection and timer.
func (s *Switch) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ln := s.ln
	s.newEpochLocked()
	s.mu.Unlock()
	close(s.done)
	var err error
	if ln != nil {
		err = ln.Close()
	}
	s.media.Close()
	s.esl.Close()
	s.wg.Wait()
	s.removeTempDir()
	return err
}

// DropConnections closes every ESL socket abruptly (no disconnect notice).
func (s *Switch) DropConnections() { s.esl.DropConnections() }

// Connections is the number of open ESL connections.
func (s *Switch) Connections() int { return s.esl.Connections() }

// core is the Core-UUID of new events.
func (s *Switch) core() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.coreUUID
}

// Restart drops the connections and comes back empty on the same address
// with a new Core-UUID: no gateways, no ACL lists, no inbound lists until
// rescan / reloadacl. Registrar outcomes, modules and FailNext rules stay.
func (s *Switch) Restart() {
	s.media.Reset()
	s.sofia.Reset()
	s.mu.Lock()
	s.newEpochLocked()
	s.coreUUID = uuid.NewString()
	s.started = s.now()
	s.mu.Unlock()
	s.chans.mu.Lock()
	s.chans.byID = nil // calls die with the switch
	s.chans.mu.Unlock()
	s.DropConnections()
}

// SetRegistrar sets the outcome of REGISTER (and of OPTIONS pings) for a
// gateway, named by gateway name, by proxy "host:port" or by proxy host.
// It applies from the next attempt on: a FAIL_WAIT gateway retries with it.
func (s *Switch) SetRegistrar(gateway string, r Registrar) { s.sofia.SetRegistrar(gateway, r) }

// SetModule makes module_exists report mod as loaded or not.
func (s *Switch) SetModule(mod string, loaded bool) {
	s.mu.Lock()
	s.modules[mod] = loaded
	s.mu.Unlock()
}

// FailNext answers the next api/bgapi command starting with prefix with
// reply (e.g. "-ERR boom\n") instead of running it. Rules are used once,
// in the order given.
func (s *Switch) FailNext(prefix, reply string) {
	s.mu.Lock()
	s.failNext = append(s.failNext, failRule{prefix, reply})
	s.mu.Unlock()
}

// Commands returns every api/bgapi command received, in order, and the
// sendmsg call commands (SendMsg).
func (s *Switch) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands)
}

// ResetCommands forgets the commands received so far.
func (s *Switch) ResetCommands() {
	s.mu.Lock()
	s.commands = nil
	s.mu.Unlock()
}

// ProfileRestarts counts `sofia profile <p> restart` commands: sipbridge
// must never send one (it drops live calls).
func (s *Switch) ProfileRestarts() int { return s.sofia.Restarts() }

// Gateways lists the loaded gateways by name.
func (s *Switch) Gateways() []GatewayInfo { return s.sofia.Gateways() }

// ACL returns the allow nodes (cidr as written) of a loaded ACL list.
func (s *Switch) ACL(list string) []string { return s.sofia.ACL(list) }

// InboundACLs returns the profile's apply-inbound-acl lists, in file order.
func (s *Switch) InboundACLs() []string { return s.sofia.InboundACLs() }

// WaitFor polls cond until it holds or timeout passes; it reports whether
// cond held.
func (s *Switch) WaitFor(cond func() bool, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// d converts switch seconds to wall time.
func (s *Switch) d(sec float64) time.Duration {
	return time.Duration(sec * float64(time.Second) * s.scale)
}

// switchTime converts elapsed wall time to switch time.
func (s *Switch) switchTime(wall time.Duration) time.Duration {
	return time.Duration(float64(wall) / s.scale)
}

// sleep waits sec switch seconds; false when stop or Close came first.
func (s *Switch) sleep(stop <-chan struct{}, sec float64) bool {
	t := time.NewTimer(s.d(sec))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	case <-s.done:
		return false
	}
}

// newEpochLocked ends every call timer (Restart, profile restart, Close).
func (s *Switch) newEpochLocked() {
	close(s.epoch)
	s.epoch = make(chan struct{})
}

// sofiaHost is the Switch as the sofia profile sees it.
type sofiaHost struct{ s *Switch }

func (h sofiaHost) NewEvent(name, subclass string, extra ...hdr) *event {
	return h.s.newEvent(name, subclass, extra...)
}

func (h sofiaHost) Publish(e *event)              { h.s.publish(e) }
func (h sofiaHost) Go(f func())                   { h.s.goTimer(f) }
func (h sofiaHost) Done() <-chan struct{}         { return h.s.done }
func (h sofiaHost) Unsupported(cmd string) string { return h.s.unsupported(cmd) }

func (h sofiaHost) Restarted() {
	h.s.mu.Lock()
	h.s.newEpochLocked()
	h.s.mu.Unlock()
}

// goTimer runs f in a goroutine Close waits for.
func (s *Switch) goTimer(f func()) { s.goTimerOK(f) }

// goTimerOK is goTimer reporting whether f was started (false once the
// switch is closed).
func (s *Switch) goTimerOK(f func()) bool {
	s.mu.Lock()
	closed := s.closed
	if !closed {
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if closed {
		return false
	}
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
