package e2e

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/audio"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/internal/tone"
)

// Fast first audio, on the real switch: how long a caller waits from the
// INVITE to the 200 OK, and from the 200 OK to the first audio of an
// assistant that speaks the moment it gets `start`. The caller is sipp,
// but its SDP names a port the test listens on (testdata/uac-rtp-sink.xml):
// the test timestamps every RTP packet FreeSWITCH sends the caller, early
// media included, and tells the tones apart per 20 ms packet.
func init() {
	addScenario(scenario{"first_audio", testFirstAudio})
}

// The tones of these scenarios, told apart in what the caller receives.
const (
	sinkRingback = 440  // FreeSWITCH's ringback (440 + 480 Hz)
	sinkWelcome  = 600  // the welcome audio file
	sinkAssist   = 1000 // the assistant's voice
)

// rtpSink receives the RTP FreeSWITCH sends one caller.
type rtpSink struct {
	conn *net.UDPConn
	mu   sync.Mutex
	pkts []sinkPacket
}

type sinkPacket struct {
	at   time.Time
	tone int // sinkRingback, sinkWelcome, sinkAssist or 0 (silence, other)
}

func startRTPSink(t *testing.T, ip string) *rtpSink {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	s := &rtpSink{conn: conn}
	t.Cleanup(func() { conn.Close() })
	go s.read()
	return s
}

func (s *rtpSink) port() string { return strconv.Itoa(s.conn.LocalAddr().(*net.UDPAddr).Port) }

func (s *rtpSink) read() {
	buf := make([]byte, 2048)
	pcm := make([]int16, 0, 320)
	for {
		n, err := s.conn.Read(buf)
		if err != nil {
			return
		}
		at := time.Now()
		if n < 12 || buf[1]&0x7f != 0 { // PCMU only (no telephone-event)
			continue
		}
		off := 12 + 4*int(buf[0]&0x0f)
		if off >= n {
			continue
		}
		pcm = audio.AppendMulawDecode(pcm[:0], buf[off:n])
		s.mu.Lock()
		s.pkts = append(s.pkts, sinkPacket{at: at, tone: classifyTone(pcm)})
		s.mu.Unlock()
	}
}

// classifyTone names the tone a packet holds, 0 for silence. A packet
// with only a few samples of a tone at its edge (the assistant's audio
// starting or ending a few samples into a packet) is loud enough but too
// short to have a frequency: its power is spread over every frequency,
// the candidates' levels are all near zero and the lowest, 440 Hz, would
// win by chance — a ringback heard where there was none. Fewer than 20
// samples (2.5 ms) of sound name no tone.
func classifyTone(pcm []int16) int {
	sounding := 0
	for _, x := range pcm {
		if x >= 150 || x <= -150 {
			sounding++
		}
	}
	if sounding < 20 || tone.RMS(pcm) < 300 {
		return 0
	}
	return int(tone.DominantFrequency(pcm, 8000, sinkRingback, sinkWelcome, sinkAssist))
}

// first returns when the first packet of tone f arrived (zero: none yet).
func (s *rtpSink) first(f int) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.pkts {
		if p.tone == f {
			return p.at
		}
	}
	return time.Time{}
}

// count returns how many packets of tone f arrived.
func (s *rtpSink) count(f int) int { return s.countAfter(f, time.Time{}) }

// countAfter returns how many packets of tone f arrived after at.
func (s *rtpSink) countAfter(f int, at time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range s.pkts {
		if p.tone == f && p.at.After(at) {
			n++
		}
	}
	return n
}

// runs returns the tones heard in order, each with its packet count
// (silence left out): e.g. "440×12 1000×15".
func (s *rtpSink) runs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	last, n := -1, 0
	flush := func() {
		if last > 0 {
			fmt.Fprintf(&b, "%d×%d ", last, n)
		}
	}
	for _, p := range s.pkts {
		if p.tone == last {
			n++
			continue
		}
		flush()
		last, n = p.tone, 1
	}
	flush()
	return strings.TrimSpace(b.String())
}

// sippCallTimes returns, for a one-call sipp run, when its INVITE left and
// when the 200 OK and the first 183 arrived (zero when absent), from its
// message trace.
func sippCallTimes(s *Sipp) (invite, ok, progress time.Time, progressSDP bool) {
	sippTrace(s, func(at time.Time, sent bool, msg string) {
		first, _, _ := strings.Cut(msg, "\n")
		switch {
		case strings.HasPrefix(first, "INVITE ") && sent && invite.IsZero():
			invite = at
		case strings.HasPrefix(first, "SIP/2.0 183") && !sent && progress.IsZero():
			progress, progressSDP = at, strings.Contains(msg, "m=audio")
		case strings.HasPrefix(first, "SIP/2.0 200") && !sent && strings.HasSuffix(sipHeader(msg, "CSeq"), "INVITE") && ok.IsZero():
			ok = at
		}
	})
	return invite, ok, progress, progressSDP
}

// sippSentAt returns when sipp first sent a message starting with first
// (zero: never), from its message trace.
func sippSentAt(s *Sipp, first string) (at time.Time) {
	sippTrace(s, func(t time.Time, sent bool, msg string) {
		if sent && at.IsZero() && strings.HasPrefix(msg, first) {
			at = t
		}
	})
	return at
}

// sippTrace calls each with every message of sipp's message trace, in
// order: when it was sent or received, which, and the message.
func sippTrace(s *Sipp, each func(at time.Time, sent bool, msg string)) {
	for _, block := range strings.Split(s.Messages(), "-----------------------------------------------") {
		stamp, rest, found := strings.Cut(block, "\n")
		if !found {
			continue
		}
		at, err := time.ParseInLocation("2006-01-02 15:04:05.000000", strings.TrimSpace(stamp), time.Local)
		if err != nil {
			continue
		}
		head, msg, found := strings.Cut(rest, ":\n")
		if !found {
			continue
		}
		each(at, strings.Contains(head, " sent"), strings.TrimLeft(msg, "\r\n"))
	}
}

// sinkCall is one call placed by sipp to number with its RTP going to a
// sink; the assistant is expected to hang it up.
type sinkCall struct {
	uac  *Sipp
	sink *rtpSink
}

// sinkCallData is the data of testdata/uac-rtp-sink.xml: without Payloads
// the caller offers PCMU (and telephone-event).
type sinkCallData struct {
	From, To, MediaPort string
	Payloads            string   // the m= line's payload types, in the offer's order
	RTPMaps             []string // their a=rtpmap (and a=fmtp) lines
}

func placeSinkCall(t *testing.T, b *Bridge, from, to string) *sinkCall {
	t.Helper()
	sink := startRTPSink(t, "127.0.0.5")
	uac := StartSipp(t, SippOptions{Scenario: "uac-rtp-sink.xml", IP: "127.0.0.5", Remote: b.SW.remote(), Calls: 1,
		Timeout: 30 * time.Second, Data: sinkCallData{From: from, To: to, MediaPort: sink.port()}})
	go sink.talkWhenAnswered(uac)
	return &sinkCall{uac: uac, sink: sink}
}

// talkWhenAnswered sends FreeSWITCH RTP silence every 20 ms, like a phone,
// from the first 183 or 200 with SDP that sipp received until the sink
// closes: a channel whose caller sends nothing reads no frames, which
// holds back what FreeSWITCH plays.
func (s *rtpSink) talkWhenAnswered(uac *Sipp) { s.talkTo(uac, "SIP/2.0 183", "SIP/2.0 200") }

// talkTo is talkWhenAnswered to the SDP of the first message peer
// received that starts with one of firsts (a callee: "INVITE ").
func (s *rtpSink) talkTo(peer *Sipp, firsts ...string) {
	silence := make([]byte, 160)
	for i := range silence {
		silence[i] = 0xff // μ-law silence
	}
	talkRTP(s.conn, peer, 0, func(int) []byte { return silence }, firsts...)
}

// talkRTP sends RTP of payload type pt every 20 ms from conn to the SDP of
// the first message peer received that starts with one of firsts, until
// conn closes; frame(i) is the payload of the i-th packet (160 timestamp
// units a packet: the 8 kHz clock of G.711 and G.722).
func talkRTP(conn *net.UDPConn, peer *Sipp, pt byte, frame func(i int) []byte, firsts ...string) {
	var to *net.UDPAddr
	for to == nil {
		var got []string
		for _, f := range firsts {
			got = append(got, peer.Received(f)...)
		}
		for _, m := range got {
			if to = sdpAudioAddr(m); to != nil {
				break
			}
		}
		if to == nil {
			select {
			case <-peer.exited:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for seq := uint16(1); ; seq++ {
		pkt := make([]byte, 12, 12+160)
		pkt[0], pkt[1] = 0x80, pt
		binary.BigEndian.PutUint16(pkt[2:], seq)
		binary.BigEndian.PutUint32(pkt[4:], uint32(seq)*160)
		binary.BigEndian.PutUint32(pkt[8:], 0x5e2e0017)
		pkt = append(pkt, frame(int(seq))...)
		if _, err := conn.WriteToUDP(pkt, to); err != nil && errors.Is(err, net.ErrClosed) {
			return
		}
		<-tick.C
	}
}

// sdpAudioAddr returns the audio address of a SIP message's SDP (c= and
// m=audio), or nil.
func sdpAudioAddr(msg string) *net.UDPAddr {
	var ip net.IP
	port := 0
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "c=IN IP4 "); ok {
			ip = net.ParseIP(v)
		}
		if v, ok := strings.CutPrefix(line, "m=audio "); ok {
			f, _, _ := strings.Cut(v, " ")
			port, _ = strconv.Atoi(f)
		}
	}
	if ip == nil || port == 0 {
		return nil
	}
	return &net.UDPAddr{IP: ip, Port: port}
}

// wait waits for the call to end (the assistant hangs up) and sipp to
// exit 0, then closes the sink (what it received stays readable).
func (c *sinkCall) wait(t *testing.T) {
	t.Helper()
	code := c.uac.Wait(t, 20*time.Second)
	c.sink.conn.Close()
	if code != 0 {
		t.Fatalf("the caller's sipp exited %d (%s): %s", code, sippExit(code), c.uac.Report())
	}
}

// speakThenHangUp is an assistant that speaks ms of its tone the moment
// its stream starts, then hangs up (the call ends once that was heard).
func speakThenHangUp(ms int) func(*AssistantConn) {
	return func(ac *AssistantConn) {
		if ac.SpeakTone(sinkAssist, time.Duration(ms)*time.Millisecond) == nil {
			_ = ac.Hangup()
		}
	}
}

const firstAudioCalls = 20

// testFirstAudio: 20 calls one after the other to an assistant that
// speaks at once; figures for BENCHMARKS.md.
func testFirstAudio(t *testing.T, b *Bridge) {
	asst := StartAssistant(t)
	asst.OnStart = speakThenHangUp(300)
	asstID := b.CreateAssistant(t, "First Audio", asst, nil)
	pbx := b.CreateTrunk(t, map[string]any{"name": "PBX First Audio", "gateway": "127.0.0.5:5060", "register": false,
		"allowed_addresses": []string{"127.0.0.5/32"}})
	b.AddNumber(t, "+16478492017", asstID, pbx.ID)
	b.WaitApplied(t, pbx.ID, 10*time.Second)
	b.SW.WaitQuiet(t, 300*time.Millisecond, 10*time.Second)

	var setup, first []time.Duration
	for i := 0; i < firstAudioCalls; i++ {
		c := placeSinkCall(t, b, "+14165550117", "+16478492017")
		c.wait(t)
		invite, ok, _, _ := sippCallTimes(c.uac)
		heard := c.sink.first(sinkAssist)
		if invite.IsZero() || ok.IsZero() || heard.IsZero() {
			t.Fatalf("call %d: INVITE %v, 200 OK %v, first assistant audio %v; heard %q; trace %d bytes in %s: %s", i, invite, ok, heard, c.sink.runs(), len(c.uac.Messages()), c.uac.Dir, c.uac.Messages())
		}
		setup = append(setup, ok.Sub(invite))
		first = append(first, heard.Sub(ok))
	}
	slices.Sort(setup)
	slices.Sort(first)
	t.Logf("e2e-bench: first audio, %d calls: INVITE→200 OK p50 %.1f ms p99 %.1f ms max %.1f ms; 200 OK→first assistant RTP p50 %.1f ms p99 %.1f ms max %.1f ms",
		len(setup), ms(percentile(setup, 50)), ms(percentile(setup, 99)), ms(percentile(setup, 100)),
		ms(percentile(first, 50)), ms(percentile(first, 99)), ms(percentile(first, 100)))
	testkit.Eventually(t, 10*time.Second, "every call record completed", func() bool {
		n := 0
		for _, c := range b.Calls(t, "") {
			if c.To == "+16478492017" && c.EndedAt != nil {
				n++
			}
		}
		return n == firstAudioCalls
	}, nil)
}

// TestClassifyTone: the sink names full packets of each tone (the
// ringback at every phase of its 40 Hz beat) and no tone in a packet that
// holds only a few samples of the assistant's 1000 Hz at its start or end.
func TestClassifyTone(t *testing.T) {
	packet := func(f func(i int) float64, from, to int) []int16 {
		pcm := make([]int16, 160)
		for i := from; i < to; i++ {
			pcm[i] = int16(f(i))
		}
		ulaw := make([]byte, len(pcm))
		audio.MulawEncode(ulaw, pcm) // as the sink gets it
		return audio.AppendMulawDecode(nil, ulaw)
	}
	sine := func(hz float64, at int) func(int) float64 {
		return func(i int) float64 { return 8000 * math.Sin(2*math.Pi*hz*float64(at+i)/8000) }
	}
	for at := 0; at < 200; at += 20 {
		ring := func(i int) float64 { return sine(440, at)(i)/2 + sine(480, at)(i)/2 }
		if got := classifyTone(packet(ring, 0, 160)); got != sinkRingback {
			t.Errorf("a ringback packet %d samples into the beat: %d, want %d", at, got, sinkRingback)
		}
		for _, hz := range []float64{sinkWelcome, sinkAssist} {
			if got := classifyTone(packet(sine(hz, at), 0, 160)); got != int(hz) {
				t.Errorf("a %v Hz packet: %d, want %v", hz, got, hz)
			}
		}
	}
	for n := 1; n <= 10; n++ {
		head, tail := packet(sine(sinkAssist, 0), 160-n, 160), packet(sine(sinkAssist, 0), 0, n)
		if a, b := classifyTone(head), classifyTone(tail); a == sinkRingback || b == sinkRingback {
			t.Errorf("%d samples of the assistant's tone at a packet's end / start: %d / %d, want no ringback", n, a, b)
		}
	}
}
