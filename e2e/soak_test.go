package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/provider/providertest"
)

// The soak's load: steady streamed calls with audio, a trunk change every
// minute, SMS out and in, API reads and writes.
const (
	soakRate       = 2                // calls placed per second
	soakHold       = 10 * time.Second // each call plays the caller tone this long
	soakSMSEvery   = 2 * time.Second  // one SMS out and one in
	soakAPIEvery   = 5 * time.Second  // API reads and an assistant update
	soakTrunkEvery = time.Minute      // a trunk's gateway changes (the first at 30 s)

	srcSoak       = "127.0.0.91" // the PBX placing the soak's calls
	soakNumber    = "+16478497000"
	soakSMSNumber = "+16475557000"
	soakCustomer  = "+12125557111"
	soakPGApp     = "sipbridge-soak" // application_name of sipbridge's PostgreSQL sessions
	soakPublic    = "https://soak.example.com"

	// Slack of the end-of-run checks, against the baseline taken after one
	// warm-up call and SMS exchange: goroutines may differ by the few that
	// come and go on their own (timers, the sync loop's pass, an HTTP
	// connection being closed); descriptors by PostgreSQL's idle
	// connections; RSS at the end may exceed
	// RSS at 20 % of the run by 25 % (the Go heap's target moves with
	// what is live at a GC).
	soakGoSlack  = 10
	soakFDSlack  = 2
	soakRSSSlack = 1.25
)

// TestSoak runs sipbridge on PostgreSQL and the real switch for
// SOAK_DURATION (make soak SOAK_DURATION=5m; an hour: SOAK_DURATION=1h) and
// then checks that nothing was left behind: sipbridge's goroutines and
// file descriptors back to the baseline, no FreeSWITCH channel, its
// PostgreSQL sessions within the idle pool, RSS flat, every call record
// closed, every SMS in a final state. It logs one `soak-summary:` line.
// Without SOAK_DURATION it skips.
func TestSoak(t *testing.T) {
	raw := os.Getenv("SOAK_DURATION")
	if raw == "" {
		t.Skip("SOAK_DURATION is not set (make soak SOAK_DURATION=5m)")
	}
	dur, err := time.ParseDuration(raw)
	if err != nil || dur < time.Minute {
		t.Fatalf("SOAK_DURATION=%q: want a Go duration of at least 1m (5m, 1h)", raw)
	}
	if os.Getenv(dbtest.EnvVar) == "" {
		t.Fatalf("the soak runs on PostgreSQL: %s is not set (run it through scripts/with-postgres.sh, or make soak)", dbtest.EnvVar)
	}
	requireRawSocket(t)
	sw := sharedSwitch(t)
	tw := providertest.NewTwilio(t, "AC50a50a50a50a50a50a50a50a50a50a5", "50a50a50a50a50a50a50a50a50a50a50")
	b := StartBridge(t, sw, "postgres", dbtest.DSN(t)+"&application_name="+soakPGApp,
		"TWILIO_API_BASE_URL="+tw.URL(), "PUBLIC_BASE_URL="+soakPublic, "SMS_RATE_LIMITS=twilio=50")
	takeOver(t, b)
	s := newSoak(t, b, tw)
	s.start = time.Now()
	s.warmUp()
	base := b.usage(t)
	t.Logf("soak: baseline %s; running %v", base, dur)
	s.run(dur)
	s.finish(base)
}

type soak struct {
	t       *testing.T
	b       *Bridge
	tw      *providertest.Twilio
	asst    *countingAssistant
	asstID  string
	trunk   Trunk // the PBX's trunk, carrying the calls
	spare   Trunk // the trunk changed every minute
	pcap    string
	pending []string // ids of messages sent, not yet reported delivered
	smsOut  int
	smsIn   int
	reqs    int   // API requests of the read/write loop
	changes int   // trunk changes applied
	placed  int   // calls placed, the warm-up's included
	rss20   int64 // RSS at 20 % of the run, and at its end (calls still up)
	rssEnd  int64
	peak    soakUsage
	start   time.Time
}

func newSoak(t *testing.T, b *Bridge, tw *providertest.Twilio) *soak {
	s := &soak{t: t, b: b, tw: tw, asst: startCountingAssistant(t, int(soakHold/frame20ms)*9/10)}
	var out struct {
		ID string `json:"id"`
	}
	b.API.Call(t, "POST", "/api/v1/assistants", map[string]any{"name": "Soak", "stream_url": s.asst.URL()}, http.StatusCreated, &out)
	s.asstID = out.ID
	s.trunk = b.ipTrunk(t, "Soak PBX", srcSoak, srcSoak+":5060", nil)
	s.spare = b.ipTrunk(t, "Soak carrier", "127.0.0.92", "127.0.0.92:5060", nil)
	b.addNumberOn(t, soakNumber, s.asstID, s.trunk.ID)
	b.API.Call(t, "PUT", "/api/v1/organization", map[string]any{"twilio": map[string]any{"account_sid": tw.AccountSID, "auth_token": tw.AuthToken}}, http.StatusOK, nil)
	b.API.Call(t, "POST", "/api/v1/phone-numbers", map[string]any{"phone_number": soakSMSNumber, "provider": "twilio", "assistant_id": s.asstID}, http.StatusCreated, nil)
	s.pcap = writeTrack(t, "caller-tone-soak.pcap", newRTPTrack().Tone(callerTone, soakHold))
	b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)
	return s
}

// warmUp makes one call and one SMS exchange, so that the baseline counts
// what the first of each makes once (pools, caches, connections).
func (s *soak) warmUp() {
	c := toUser("+14165557000", soakNumber)
	c.PCAP, c.HoldMs = s.pcap, int(soakHold.Milliseconds())
	RunSipp(s.t, SippOptions{Scenario: "uac-hold.xml", IP: srcSoak, Remote: s.b.SW.remote(), Calls: 1, Timeout: soakHold + 20*time.Second, Data: c})
	s.sms(0)
	s.deliver()
	s.settle()
}

// run places the calls for dur (sipp at soakRate calls/s) while the main
// loop sends and receives SMS, reads and writes through the API and
// changes a trunk every minute; it samples sipbridge's usage as it goes.
func (s *soak) run(dur time.Duration) {
	t := s.t
	c := toUser("+14165557001", soakNumber)
	c.PCAP, c.HoldMs = s.pcap, int(soakHold.Milliseconds())
	calls := int(dur.Seconds()) * soakRate
	uac := StartSipp(t, SippOptions{Scenario: "uac-hold.xml", IP: srcSoak, Remote: s.b.SW.remote(), Calls: calls,
		Timeout: dur + soakHold + time.Minute, Data: c,
		Args: []string{"-r", strconv.Itoa(soakRate), "-l", strconv.Itoa(4 * soakRate * int(soakHold.Seconds()))}})
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	// The first trunk change comes at half a minute (a 1-minute run has one).
	lastSMS, lastAPI, lastTrunk := start, start, start.Add(-soakTrunkEvery/2)
	for now := range tick.C {
		el := now.Sub(start)
		if el >= dur {
			break
		}
		if now.Sub(lastSMS) >= soakSMSEvery {
			s.sms(int(el / soakSMSEvery))
			s.deliver()
			lastSMS = now
		}
		if now.Sub(lastAPI) >= soakAPIEvery {
			s.api(int(el / soakAPIEvery))
			lastAPI = now
		}
		if now.Sub(lastTrunk) >= soakTrunkEvery {
			s.changeTrunk()
			lastTrunk = now
		}
		u := s.b.usage(t)
		if s.rss20 == 0 && el >= dur/5 {
			s.rss20 = u.rss
		}
		s.peak = soakUsage{goroutines: max(s.peak.goroutines, u.goroutines), fds: max(s.peak.fds, u.fds), rss: max(s.peak.rss, u.rss)}
	}
	rssEnd := s.b.usage(t).rss // calls still streaming, as at 20 %
	if code := uac.Wait(t, soakHold+time.Minute); code != 0 {
		t.Errorf("sipp exited %d (%s): %s", code, sippExit(code), uac.Report())
	}
	if float64(rssEnd) > float64(s.rss20)*soakRSSSlack {
		t.Errorf("RSS grew: %.1f MiB at 20 %% of the run, %.1f MiB at its end (slack %.0f %%)", mib(s.rss20), mib(rssEnd), 100*(soakRSSSlack-1))
	}
	s.rssEnd = rssEnd
	s.placed = calls + 1
}

// sms sends one message (queued, then sent by sipbridge's worker to the
// fake Twilio) and receives one (Twilio's signed webhook).
func (s *soak) sms(i int) {
	var out struct {
		ID string `json:"message_id"`
	}
	s.b.API.Call(s.t, "POST", "/api/v1/sms/send", map[string]any{"from_phone_number": soakSMSNumber, "to_phone_number": soakCustomer,
		"message": fmt.Sprintf("soak %d", i)}, http.StatusOK, &out)
	s.pending = append(s.pending, out.ID)
	s.b.twilioWebhook(s.t, s.tw.AuthToken, soakPublic, url.Values{"MessageSid": {fmt.Sprintf("SMin%030d", s.smsIn)}, "AccountSid": {s.tw.AccountSID},
		"From": {soakCustomer}, "To": {soakSMSNumber}, "Body": {fmt.Sprintf("reply %d", i)}, "NumMedia": {"0"}, "SmsStatus": {"received"}})
	s.smsOut++
	s.smsIn++
}

// deliver reports each message sipbridge has sent (status sent, Twilio's
// SID recorded) as delivered, by Twilio's signed status callback. A message
// still queued waits for the next round: a callback for a SID sipbridge
// has not recorded yet would find no message.
func (s *soak) deliver() {
	var keep []string
	for _, id := range s.pending {
		var m struct {
			Status     string `json:"status"`
			ProviderID string `json:"provider_message_id"`
		}
		s.b.API.Call(s.t, "GET", "/api/v1/sms/"+id, nil, http.StatusOK, &m)
		if m.Status != "sent" || m.ProviderID == "" {
			keep = append(keep, id)
			continue
		}
		s.b.twilioWebhook(s.t, s.tw.AuthToken, soakPublic, url.Values{"MessageSid": {m.ProviderID}, "MessageStatus": {"delivered"}, "SmsStatus": {"delivered"},
			"From": {soakSMSNumber}, "To": {soakCustomer}})
	}
	s.pending = keep
}

// api reads the lists a dashboard polls and writes the assistant.
func (s *soak) api(i int) {
	for _, p := range []string{"/api/v1/calls?limit=20", "/api/v1/sip-trunks", "/api/v1/sms/stats", "/api/v1/phone-numbers", "/api/v1/assistants/" + s.asstID} {
		s.b.API.Call(s.t, "GET", p, nil, http.StatusOK, nil)
	}
	s.b.API.Call(s.t, "PUT", "/api/v1/assistants/"+s.asstID, map[string]any{"welcome_message": fmt.Sprintf("Hello %d", i)}, http.StatusOK, nil)
	s.reqs += 6
}

// changeTrunk moves the spare trunk's gateway between two ports and waits
// until FreeSWITCH has it.
func (s *soak) changeTrunk() {
	s.changes++
	s.b.UpdateTrunk(s.t, s.spare.ID, map[string]any{"gateway": fmt.Sprintf("127.0.0.92:%d", 5060+s.changes%2)})
	s.b.WaitTrunk(s.t, s.spare.ID, "the changed trunk applied", 30*time.Second, func(tr Trunk) bool {
		return tr.SyncStatus.State == "applied" && tr.Gateway == fmt.Sprintf("127.0.0.92:%d", 5060+s.changes%2)
	})
}

// settle waits until no call is live (switch, sipbridge, assistant) and
// every SMS is final.
func (s *soak) settle() {
	t := s.t
	testkit.Eventually(t, 30*time.Second, "no live call and every SMS final", func() bool {
		s.deliver()
		st := s.smsStats()
		return s.b.SW.channelCount(t) == 0 && s.asst.open.Load() == 0 && st.Queued == 0 && st.Delivered == st.Sent
	}, func() string {
		return fmt.Sprintf("channels %d, assistant streams %d, sms %+v", s.b.SW.channelCount(t), s.asst.open.Load(), s.smsStats())
	})
}

type smsCounts struct {
	Sent, Delivered, Failed, Queued, Cancelled, Received int
}

func (s *soak) smsStats() smsCounts {
	var c smsCounts
	s.b.API.Call(s.t, "GET", "/api/v1/sms/stats", nil, http.StatusOK, &c)
	return c
}

// finish checks what the run left behind and logs the summary line.
func (s *soak) finish(base soakUsage) {
	t, b := s.t, s.b
	s.settle()
	var end soakUsage
	testkit.Eventually(t, 30*time.Second, "sipbridge's goroutines and descriptors back to the baseline", func() bool {
		end = b.usage(t)
		return end.goroutines <= base.goroutines+soakGoSlack && end.fds <= base.fds+soakFDSlack
	}, func() string {
		return fmt.Sprintf("baseline %s, now %s (slack: %d goroutines, %d fds)", base, end, soakGoSlack, soakFDSlack)
	})
	channels := b.SW.channelCount(t)
	pg, busy := pgSessions(t, soakPGApp)
	if busy > 0 || pg > db.DefaultPoolSize+1 {
		t.Errorf("sipbridge holds %d PostgreSQL sessions after the run, %d of them not idle; want none busy and at most its pool's %d plus the change feed's listener",
			pg, busy, db.DefaultPoolSize)
	}
	open := b.total(t, "/api/v1/calls?limit=1&status=in-progress") + b.total(t, "/api/v1/calls?limit=1&status=ringing")
	completed := b.total(t, "/api/v1/calls?limit=1&status=completed")
	all := b.total(t, "/api/v1/calls?limit=1")
	if open != 0 || completed != s.placed || all != s.placed {
		t.Errorf("call records: %d still ringing or in progress, %d completed of %d (%d placed)", open, completed, all, s.placed)
	}
	if n := int(s.asst.total.Load()); n != s.placed {
		t.Errorf("%d streams reached the assistant, %d calls placed", n, s.placed)
	}
	st := s.smsStats()
	if st.Queued != 0 || st.Failed != 0 || st.Cancelled != 0 || st.Delivered != s.smsOut || st.Sent != s.smsOut || st.Received != s.smsIn {
		t.Errorf("SMS: %+v; %d sent and %d received by the soak: each out delivered, each in received", st, s.smsOut, s.smsIn)
	}
	t.Logf("soak-summary: wall=%v calls=%d completed=%d short_streams=%d sms_out=%d delivered=%d sms_in=%d received=%d trunk_changes=%d api_requests=%d "+
		"goroutines base/peak/end=%d/%d/%d fds base/peak/end=%d/%d/%d rss base/20%%/100%%=%.1f/%.1f/%.1fMiB fs_channels=%d pg_sessions=%d",
		time.Since(s.start).Round(time.Second), s.placed, completed, s.asst.shortStreams(), s.smsOut, st.Delivered, s.smsIn, st.Received, s.changes, s.reqs,
		base.goroutines, s.peak.goroutines, end.goroutines, base.fds, s.peak.fds, end.fds, mib(base.rss), mib(s.rss20), mib(s.rssEnd), channels, pg)
	if channels != 0 {
		t.Errorf("FreeSWITCH holds %d channels after the run", channels)
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }
