package fstest

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/esl"
	"github.com/sipbridge/sipbridge/freeswitch/fstest/recording"
)

// callNorm turns call events into comparable items: name, states, cause
// and the channel as leg1, leg2… in order of appearance; a BACKGROUND_JOB
// as its command and body with the uuids replaced the same way.
type callNorm struct{ ids map[string]string }

func (n *callNorm) leg(id string) string {
	if n.ids == nil {
		n.ids = map[string]string{}
	}
	if _, ok := n.ids[id]; !ok {
		n.ids[id] = "leg" + string(rune('1'+len(n.ids)))
	}
	return n.ids[id]
}

// item is "" for events that are not part of a call's sequence.
func (n *callNorm) item(e ev) string {
	switch e.kind() {
	case "API", "HEARTBEAT", "RE_SCHEDULE", "RELOADXML", "sofia::gateway_add", "sofia::gateway_state", "sofia::gateway_delete":
		return ""
	case "BACKGROUND_JOB":
		body := uuidRE.ReplaceAllStringFunc(e.h["_body"], n.leg)
		return "BACKGROUND_JOB/" + e.h["Job-Command"] + "/" + body
	}
	id := e.h["Unique-ID"]
	if id == "" {
		id = e.h["UniqueID"]
	}
	return strings.Join([]string{e.kind(), e.h["Channel-State"], e.h["Channel-Call-State"], e.h["Answer-State"], e.h["Hangup-Cause"], n.leg(id)}, "/")
}

// recordedCall lists the call items of a recording after the first client
// frame starting with from; evs are the events themselves.
func recordedCall(t *testing.T, rec, from string) (items []string, evs []ev) {
	t.Helper()
	frames, err := recording.LoadRecording(rec)
	if err != nil {
		t.Fatal(err)
	}
	var n callNorm
	started := false
	for _, f := range frames {
		if f.Dir == "c2s" && strings.HasPrefix(f.Raw, from) {
			started = true
		}
		if !started || f.Dir != "s2c" || !isEventFrame(f.Raw) {
			continue
		}
		e, err := parseEvent(f.Raw)
		if err != nil {
			t.Fatal(err)
		}
		if it := n.item(e); it != "" {
			items, evs = append(items, it), append(evs, e)
		}
	}
	if !started {
		t.Fatalf("%s: no command %q", rec, from)
	}
	return items, evs
}

// callEvents reads the next n call events from c.
func (c *rawClient) callItems(n int) (items []string, evs []ev) {
	c.t.Helper()
	var norm callNorm
	for len(items) < n {
		f := c.frame()
		if !isEventFrame(f) {
			continue
		}
		e, err := parseEvent(f)
		if err != nil {
			c.t.Fatal(err)
		}
		if it := norm.item(e); it != "" {
			items, evs = append(items, it), append(evs, e)
		}
	}
	return items, evs
}

func obDiff(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events\n got:\n  %s\n want:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// eslClient is our ESL client connected to s.
func obClient(t *testing.T, s *Switch) *esl.Client {
	t.Helper()
	cl := esl.New(s.Addr(), "ClueCon")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cl.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	if err := cl.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	return cl
}

func obBGAPI(t *testing.T, cl *esl.Client, cmd string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return cl.BGAPI(ctx, cmd)
}

func obAPI(t *testing.T, cl *esl.Client, cmd string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, _ := cl.API(ctx, cmd)
	return r
}

// outboundSwitch has the gateways of the originate recordings loaded:
// org1_uas, org1_busy, org1_noanswer (register=false) and org1_dead (its
// OPTIONS pings unanswered: status DOWN).
func outboundSwitch(t *testing.T) *Switch {
	t.Helper()
	s := newSwitch(t, Options{Step: 10 * time.Millisecond})
	s.SetRegistrar("org1_dead", RegistrarTimeout)
	loadGateways(t, s, [][2]string{
		{"gateways/org1_uas.xml", gwFile("org1_uas", "127.0.0.1:5073", false)},
		{"gateways/org1_busy.xml", gwFile("org1_busy", "127.0.0.1:5074", false)},
		{"gateways/org1_noanswer.xml", gwFile("org1_noanswer", "127.0.0.1:5075", false)},
		{"gateways/org1_dead.xml", gwFile("org1_dead", "127.0.0.1:5079", false, "ping", "5")},
	}, map[string]string{"org1_uas": "NOREG", "org1_busy": "NOREG", "org1_noanswer": "NOREG", "org1_dead": "NOREG"})
	s.SetDialOutcome("org1_busy", DialOutcome{Result: DialBusy})
	s.SetDialOutcome("org1_noanswer", DialOutcome{Result: DialNoAnswer})
	return s
}

func obXMLField(t *testing.T, s *Switch, gw, field string) string {
	t.Helper()
	x := s.exec("sofia xmlstatus gateway " + gw)
	_, v, _ := strings.Cut(x, "<"+field+">")
	v, _, _ = strings.Cut(v, "</"+field+">")
	return v
}

// TestOriginateAnswerAsRecorded: originate.jsonl, answer then uuid_kill.
func TestOriginateAnswerAsRecorded(t *testing.T) {
	s := outboundSwitch(t)
	c := login(t, s, "json ALL")
	cl := obClient(t, s)
	want, wantEvs := recordedCall(t, "originate.jsonl", "bgapi originate")
	r, err := obBGAPI(t, cl, "originate sofia/gateway/org1_uas/15551230000 &park()")
	if err != nil || !uuidRE.MatchString(r) || !strings.HasPrefix(r, "+OK ") || !strings.HasSuffix(r, "\n") {
		t.Fatalf("originate: %q %v", r, err)
	}
	id := strings.TrimSpace(strings.TrimPrefix(r, "+OK "))
	if !s.WaitFor(func() bool { return len(s.Channels()) == 1 }, time.Second) || s.Channels()[0] != id {
		t.Fatalf("channels %v, want the answered leg %s", s.Channels(), id)
	}
	time.Sleep(20 * time.Millisecond) // the park events follow the job
	if r := obAPI(t, cl, "uuid_answer "+id); r != "+OK\n" {
		t.Errorf("uuid_answer on the answered leg: %q", r)
	}
	if r := obAPI(t, cl, "uuid_kill "+id); r != "+OK\n" {
		t.Fatalf("uuid_kill: %q", r)
	}
	got, evs := c.callItems(len(want))
	obDiff(t, got, want)
	for i, e := range evs {
		if e.kind() != "BACKGROUND_JOB" && e.h["Call-Direction"] != "outbound" {
			t.Errorf("%s: Call-Direction %q", got[i], e.h["Call-Direction"])
		}
		if e.kind() == "CHANNEL_CREATE" || e.kind() == "CHANNEL_PARK" {
			for _, k := range []string{"Caller-Destination-Number", "variable_sip_gateway_name", "Channel-Name", "variable_sip_destination_url", "variable_sip_req_uri"} {
				if w := wantEvs[i].h[k]; e.h[k] != w {
					t.Errorf("%s %s = %q, want %q as recorded", got[i], k, e.h[k], w)
				}
			}
			if _, ok := e.h["variable_sip_gateway"]; ok {
				t.Errorf("%s: an outbound leg has sip_gateway_name only, as recorded", got[i])
			}
		}
	}
	if n := obXMLField(t, s, "org1_uas", "calls-out"); n != "1" {
		t.Errorf("calls-out %s, want 1", n)
	}
	a := s.DialAttempts()
	if len(a) != 1 || a[0].Gateway != "org1_uas" || a[0].Number != "15551230000" || !a[0].Answered || a[0].UUID != id || a[0].Cause != "" {
		t.Errorf("attempts %+v", a)
	}
}

// TestOriginateBusyAsRecorded: originate-busy.jsonl.
func TestOriginateBusyAsRecorded(t *testing.T) {
	s := outboundSwitch(t)
	c := login(t, s, "json ALL")
	cl := obClient(t, s)
	want, _ := recordedCall(t, "originate-busy.jsonl", "bgapi originate")
	r, err := obBGAPI(t, cl, "originate sofia/gateway/org1_busy/15551230000 &park()")
	if r != "-ERR USER_BUSY\n" || !errors.Is(err, esl.ErrCommand) {
		t.Fatalf("originate: %q %v", r, err)
	}
	got, _ := c.callItems(len(want))
	obDiff(t, got, want)
	if n, f := obXMLField(t, s, "org1_busy", "calls-out"), obXMLField(t, s, "org1_busy", "failed-calls-out"); n != "1" || f != "1" {
		t.Errorf("calls-out %s failed-calls-out %s, want 1 and 1", n, f)
	}
	if len(s.Channels()) != 0 {
		t.Errorf("channels left: %v", s.Channels())
	}
}

// TestOriginateFailoverAsRecorded: originate-failover.jsonl: the first leg
// rings until its leg_timeout, the second answers; the job names leg 2.
func TestOriginateFailoverAsRecorded(t *testing.T) {
	s := outboundSwitch(t)
	c := login(t, s, "json ALL")
	cl := obClient(t, s)
	want, _ := recordedCall(t, "originate-failover.jsonl", "bgapi originate")
	start := time.Now()
	r, err := obBGAPI(t, cl, "originate {originate_continue_on_timeout=true}[leg_timeout=3]sofia/gateway/org1_noanswer/15551230000|[leg_timeout=10]sofia/gateway/org1_uas/15551230000 &park()")
	if err != nil || !strings.HasPrefix(r, "+OK ") {
		t.Fatalf("originate: %q %v", r, err)
	}
	if el := time.Since(start); el < 6*10*time.Millisecond {
		t.Errorf("answered after %v: a 3 s leg_timeout is 6 Steps", el)
	}
	id := strings.TrimSpace(strings.TrimPrefix(r, "+OK "))
	time.Sleep(20 * time.Millisecond)
	if r := obAPI(t, cl, "uuid_kill "+id); r != "+OK\n" {
		t.Fatalf("uuid_kill: %q", r)
	}
	got, _ := c.callItems(len(want))
	obDiff(t, got, want) // the job's +OK names leg2
	a := s.DialAttempts()
	if len(a) != 2 || a[0].Gateway != "org1_noanswer" || a[0].Cause != "ALLOTTED_TIMEOUT" || a[0].Vars["leg_timeout"] != "3" ||
		a[0].Vars["originate_continue_on_timeout"] != "true" || a[1].Gateway != "org1_uas" || a[1].UUID != id || !a[1].Answered ||
		a[1].Vars["leg_timeout"] != "10" {
		t.Errorf("attempts %+v", a)
	}
	if f := obXMLField(t, s, "org1_noanswer", "failed-calls-out"); f != "1" {
		t.Errorf("failed-calls-out %s", f)
	}
}

// TestOriginateGatewayDownAsRecorded: originate-gateway-down.jsonl, and a
// gateway that is not loaded (INVALID_GATEWAY, same events).
func TestOriginateGatewayDownAsRecorded(t *testing.T) {
	s := outboundSwitch(t)
	c := login(t, s, "json ALL")
	cl := obClient(t, s)
	if st := obXMLField(t, s, "org1_dead", "status"); st != "DOWN" {
		t.Fatalf("org1_dead status %s", st)
	}
	want, _ := recordedCall(t, "originate-gateway-down.jsonl", "bgapi originate")
	r, err := obBGAPI(t, cl, "originate sofia/gateway/org1_dead/15551230000 &park()")
	if r != "-ERR GATEWAY_DOWN\n" || err == nil {
		t.Fatalf("originate: %q %v", r, err)
	}
	got, _ := c.callItems(len(want))
	obDiff(t, got, want)
	if f := obXMLField(t, s, "org1_dead", "failed-calls-out"); f != "1" {
		t.Errorf("failed-calls-out %s", f)
	}
	r, _ = obBGAPI(t, cl, "originate sofia/gateway/no_such_gw/15551230000 &park()")
	if r != "-ERR INVALID_GATEWAY\n" {
		t.Fatalf("unknown gateway: %q", r)
	}
	got, _ = c.callItems(len(want))
	obDiff(t, got, strings.Split(strings.ReplaceAll(strings.Join(want, "\n"), "GATEWAY_DOWN", "INVALID_GATEWAY"), "\n"))
}

// TestOriginateTimeouts: leg_timeout fails over without
// originate_continue_on_timeout (switch_ivr_originate.c: only the group
// timer sets the timeout flag); originate_timeout ends the whole originate
// with NO_ANSWER unless originate_continue_on_timeout=true; when every leg
// fails the reply has the last leg's cause.
func TestOriginateTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name, dial string
		reply      string
		attempts   []string // gateway/cause
	}{
		{"leg_timeout fails over", "[leg_timeout=2]sofia/gateway/org1_noanswer/1|sofia/gateway/org1_uas/1", "+OK", []string{"org1_noanswer/ALLOTTED_TIMEOUT", "org1_uas/"}},
		{"originate_timeout ends it", "{originate_timeout=2}sofia/gateway/org1_noanswer/1|sofia/gateway/org1_uas/1", "-ERR NO_ANSWER\n", []string{"org1_noanswer/NO_ANSWER"}},
		{"continue_on_timeout", "{originate_timeout=2,originate_continue_on_timeout=true}sofia/gateway/org1_noanswer/1|sofia/gateway/org1_uas/1", "+OK", []string{"org1_noanswer/NO_ANSWER", "org1_uas/"}},
		{"last cause", "sofia/gateway/org1_busy/1|sofia/gateway/org1_dead/1|[leg_timeout=1]sofia/gateway/org1_noanswer/1", "-ERR ALLOTTED_TIMEOUT\n", []string{"org1_busy/USER_BUSY", "org1_dead/GATEWAY_DOWN", "org1_noanswer/ALLOTTED_TIMEOUT"}},
		{"busy then down", "sofia/gateway/org1_busy/1|sofia/gateway/org1_dead/1", "-ERR GATEWAY_DOWN\n", []string{"org1_busy/USER_BUSY", "org1_dead/GATEWAY_DOWN"}},
		{"7th argument", "sofia/gateway/org1_noanswer/1 &park() undef undef undef undef 1", "-ERR NO_ANSWER\n", []string{"org1_noanswer/NO_ANSWER"}},
		{"reject", "sofia/gateway/org1_reject/1", "-ERR NO_ROUTE_DESTINATION\n", []string{"org1_reject/NO_ROUTE_DESTINATION"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := outboundSwitch(t)
			loadGateways(t, s, [][2]string{{"gateways/org1_reject.xml", gwFile("org1_reject", "127.0.0.1:5076", false)}},
				map[string]string{"org1_uas": "NOREG", "org1_busy": "NOREG", "org1_noanswer": "NOREG", "org1_dead": "NOREG", "org1_reject": "NOREG"})
			s.SetDialOutcome("org1_reject", DialOutcome{Result: DialReject, Ring: 0.5, Cause: "NO_ROUTE_DESTINATION"})
			cmd := "originate " + tc.dial
			if !strings.Contains(tc.dial, "&park()") {
				cmd += " &park()"
			}
			r := s.exec(cmd)
			if !strings.HasPrefix(r, tc.reply) {
				t.Errorf("reply %q, want %q", r, tc.reply)
			}
			var got []string
			for _, a := range s.DialAttempts() {
				got = append(got, a.Gateway+"/"+a.Cause)
			}
			if !reflect.DeepEqual(got, tc.attempts) {
				t.Errorf("attempts %v, want %v", got, tc.attempts)
			}
		})
	}
}

// TestOriginateVariables: the dial-string variables become channel
// variables; origination_uuid and the caller id are the leg's.
func TestOriginateVariables(t *testing.T) {
	s := outboundSwitch(t)
	c := login(t, s, "json ALL")
	const id = "0b7e1c2d-3f4a-4b5c-8d6e-7f8091a2b3c4"
	r := s.exec(`originate {origination_uuid=` + id + `,origination_caller_id_number=+14165550100,origination_caller_id_name='Acme\, Inc',sipbridge_call_id=c1}` +
		`[sip_h_X-Sipbridge-Call=c1,leg_timeout=5]sofia/gateway/org1_uas/+15551230000 &park()`)
	if r != "+OK "+id+"\n" {
		t.Fatalf("reply %q", r)
	}
	create := c.event("CHANNEL_CREATE")
	for k, v := range map[string]string{
		"Unique-ID": id, "Caller-Destination-Number": "+15551230000", "Caller-Caller-ID-Number": "+14165550100",
		"Caller-Caller-ID-Name": "Acme, Inc", "variable_sipbridge_call_id": "c1", "variable_sip_h_X-Sipbridge-Call": "c1",
		"variable_origination_caller_id_number": "+14165550100", "variable_leg_timeout": "5", "variable_sip_gateway_name": "org1_uas",
		"variable_sip_destination_url": "sip:+15551230000@127.0.0.1:5073", "Call-Direction": "outbound", "Channel-Name": "sofia/external/+15551230000",
	} {
		if create.h[k] != v {
			t.Errorf("CHANNEL_CREATE %s = %q, want %q", k, create.h[k], v)
		}
	}
	upd := c.event("CALL_UPDATE")
	if upd.h["Caller-Caller-ID-Number"] != "+15551230000" || upd.h["Caller-Callee-ID-Number"] != "+14165550100" || upd.h["Caller-Callee-ID-Name"] != "Acme, Inc" {
		t.Errorf("caller id not flipped on answer: %v %v %v", upd.h["Caller-Caller-ID-Number"], upd.h["Caller-Callee-ID-Number"], upd.h["Caller-Callee-ID-Name"])
	}
	c.event("CHANNEL_PARK")
	if !s.Hangup(id, "NORMAL_CLEARING") {
		t.Fatal("Hangup of the answered leg")
	}
	if e := c.event("CHANNEL_HANGUP_COMPLETE"); e.h["Call-Direction"] != "outbound" || e.h["Hangup-Cause"] != "NORMAL_CLEARING" {
		t.Errorf("hangup %v", e.h["Call-Direction"])
	}
}

// TestOriginateKillRinging: uuid_kill on a ringing leg cancels it and the
// originate goes on with the next group.
func TestOriginateKillRinging(t *testing.T) {
	s := outboundSwitch(t)
	c := login(t, s, "json ALL")
	cl := obClient(t, s)
	done := make(chan string, 1)
	go func() {
		r, _ := cl.BGAPI(context.Background(), "originate sofia/gateway/org1_noanswer/1|sofia/gateway/org1_busy/1 &park()")
		done <- r
	}()
	e := c.event("CHANNEL_PROGRESS")
	if r := s.exec("uuid_kill " + e.h["Unique-ID"] + " ORIGINATOR_CANCEL"); r != "+OK\n" {
		t.Fatalf("uuid_kill ringing leg: %q", r)
	}
	if h := c.event("CHANNEL_HANGUP"); h.h["Hangup-Cause"] != "ORIGINATOR_CANCEL" || h.h["Unique-ID"] != e.h["Unique-ID"] {
		t.Errorf("hangup %v", h.h)
	}
	select {
	case r := <-done:
		if r != "-ERR USER_BUSY\n" {
			t.Errorf("reply %q", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("originate did not end")
	}
}

// TestOriginateRingThenAnswer: DialOutcome.Ring delays the answer.
func TestOriginateRingThenAnswer(t *testing.T) {
	s := outboundSwitch(t)
	s.SetDialOutcome("org1_uas/2", DialOutcome{Result: DialAnswer, Ring: 2})
	start := time.Now()
	if r := s.exec("originate sofia/gateway/org1_uas/2 &park()"); !strings.HasPrefix(r, "+OK ") {
		t.Fatalf("reply %q", r)
	}
	if el := time.Since(start); el < 40*time.Millisecond {
		t.Errorf("answered after %v, want 2 s = 4 Steps", el)
	}
	if r := s.exec("originate sofia/gateway/org1_uas/3 &park()"); !strings.HasPrefix(r, "+OK ") {
		t.Fatalf("the per-number outcome leaks to other numbers: %q", r)
	}
}

func TestOriginateNotSimulatedAndUsage(t *testing.T) {
	s := outboundSwitch(t)
	for cmd, want := range map[string]string{
		"originate":                          "-USAGE: ",
		"originate sofia/gateway/org1_uas/1": "-USAGE: ",
		"originate a b c d e f g h":          "-USAGE: ",
		"originate sofia/gateway/org1_uas/1,sofia/gateway/org1_busy/1 &park()": "-ERR fstest: not simulated",
		"originate sofia/external/1@127.0.0.1 &park()":                         "-ERR fstest: not simulated",
		"originate sofia/gateway/org1_uas/1 9228 XML public":                   "-ERR fstest: not simulated",
		"originate sofia/gateway/org1_uas/1 &echo()":                           "-ERR fstest: not simulated",
		"originate {a=b sofia/gateway/org1_uas/1 &park()":                      "-ERR DESTINATION_OUT_OF_ORDER\n",
	} {
		if r := s.exec(cmd); !strings.HasPrefix(r, want) {
			t.Errorf("%s: %q, want %q…", cmd, r, want)
		}
	}
	if r := s.exec("originate sofia/gateway/org1_uas &park()"); r != "-ERR INVALID_URL\n" {
		t.Errorf("no number: %q", r)
	}
}

// TestOriginateTranscriptReplay replays the originate recordings with the
// transcript comparison (replies, API and BACKGROUND_JOB streams with their
// header names); uuid_kill names a recorded uuid and is not sent.
func TestOriginateTranscriptReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("replays last several seconds")
	}
	gws := map[string]string{ // named so that they load in the recorded order
		"gateways/1_org1_uas.xml":      gwFile("org1_uas", "127.0.0.1:5073", false),
		"gateways/2_org1_busy.xml":     gwFile("org1_busy", "127.0.0.1:5074", false),
		"gateways/3_org1_noanswer.xml": gwFile("org1_noanswer", "127.0.0.1:5075", false),
		"gateways/4_org1_dead.xml":     gwFile("org1_dead", "127.0.0.1:5079", false, "ping", "5"),
	}
	outcomes := func(t *testing.T, s *Switch) {
		s.SetRegistrar("org1_dead", RegistrarTimeout)
		s.SetDialOutcome("org1_busy", DialOutcome{Result: DialBusy})
		s.SetDialOutcome("org1_noanswer", DialOutcome{Result: DialNoAnswer})
	}
	loaded := func(t *testing.T, s *Switch) {
		outcomes(t, s)
		if r := s.exec("sofia profile external rescan"); !strings.HasSuffix(r, "+OK scan complete\n") {
			t.Fatalf("rescan %q", r)
		}
	}
	for _, sc := range []scenario{
		{rec: "originate.jsonl", files: gws, pre: outcomes, skip: []string{"api uuid_kill "}},
		{rec: "originate-busy.jsonl", files: gws, pre: loaded},
		{rec: "originate-failover.jsonl", files: gws, pre: loaded, skip: []string{"api uuid_kill "}},
		{rec: "originate-gateway-down.jsonl", files: gws, pre: loaded},
	} {
		t.Run(strings.TrimSuffix(sc.rec, ".jsonl"), func(t *testing.T) {
			t.Parallel()
			replay(t, sc)
		})
	}
}

// TestOriginateAPI: `api originate` blocks and answers like the job body.
func TestOriginateAPI(t *testing.T) {
	s := outboundSwitch(t)
	c := login(t, s, "json ALL")
	cl := obClient(t, s)
	r := obAPI(t, cl, "originate sofia/gateway/org1_uas/15551230000 &park()")
	if !strings.HasPrefix(r, "+OK ") || !uuidRE.MatchString(r) {
		t.Fatalf("api originate: %q", r)
	}
	if e := c.event("CHANNEL_PARK"); e.h["Unique-ID"] != strings.TrimSpace(r[4:]) {
		t.Errorf("park %v", e.h["Unique-ID"])
	}
	if r := obAPI(t, cl, "originate sofia/gateway/org1_busy/1 &park()"); r != "-ERR USER_BUSY\n" {
		t.Errorf("busy: %q", r)
	}
}

// TestOriginateClose: Close ends a ringing originate at once.
func TestOriginateClose(t *testing.T) {
	s := outboundSwitch(t)
	cl := obClient(t, s)
	go cl.BGAPI(context.Background(), "originate {originate_timeout=3600}sofia/gateway/org1_noanswer/1 &park()")
	if !s.WaitFor(func() bool { return len(s.DialAttempts()) == 1 }, 2*time.Second) {
		t.Fatal("no attempt")
	}
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Close waited for the ringing leg")
	}
}
