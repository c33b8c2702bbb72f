package e2e

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/audio"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/internal/tone"
)

// Helpers of the call scenarios (calls_*_test.go, load_test.go): numbers and
// call records as the API shows them, caller audio as pcap files sipp
// plays, and what the test assistant heard.

// uacCall is the data of testdata/uac-hold.xml: a call whose INVITE is
// written out in full (Request-URI, To, extra headers), answered, held for
// HoldMs while sipp plays PCAP (if set), then hung up by the caller.
type uacCall struct {
	From    string   // the caller's user (From, Contact)
	RURI    string   // the Request-URI; sipp keywords ([remote_ip]…) allowed
	ToHdr   string   // the To header value
	Headers []string // extra header lines
	HoldMs  int
	PCAP    string // absolute path of a capture to play once answered ("" = none)
	// RecordRoute: the ACK and BYE follow the answer's Record-Route set
	// to its Contact (a call through a proxy).
	RecordRoute bool
}

// uasData is the data of testdata/uas-answer.xml: a trunk's carrier that
// answers every call with Code Phrase (200: answered with SDP, hung up
// after HoldMs, or when FreeSWITCH hangs up when HoldMs is 0), except calls
// to the Request-URI user Except (digits; a leading + is allowed on the
// wire), which get ExceptCode ExceptPhrase.
type uasData struct {
	Code         int
	Phrase       string
	RingMs       int // Code 200: ring this long before answering
	HoldMs       int
	PCAP         string // Code 200: a capture played once the ACK is in ("" = none)
	MediaPort    string // Code 200: the answer's SDP port ("" = sipp's own), e.g. an rtpSink's
	Except       string
	ExceptCode   int
	ExceptPhrase string
}

// toUser is a uacCall to user@switch, the Request-URI and the To alike.
func toUser(from, user string, headers ...string) uacCall {
	uri := "sip:" + user + "@[remote_ip]:[remote_port]"
	return uacCall{From: from, RURI: uri, ToHdr: "<" + uri + ">", Headers: headers, HoldMs: 1000}
}

// addNumberOn registers a byo-sip-trunk number on a trunk (assistantID ""
// leaves it without one) and returns its id; it is released when t ends.
func (b *Bridge) addNumberOn(t testing.TB, number, assistantID, trunkID string) string {
	t.Helper()
	in := map[string]any{"phone_number": number, "provider": "byo-sip-trunk", "sip_trunk_id": trunkID}
	if assistantID != "" {
		in["assistant_id"] = assistantID
	}
	var out struct {
		Number struct {
			ID string `json:"id"`
		} `json:"number"`
	}
	b.API.Call(t, "POST", "/api/v1/phone-numbers/purchase", in, http.StatusOK, &out)
	t.Cleanup(func() {
		if st, data := b.API.Do(t, "POST", "/api/v1/phone-numbers/release", map[string]any{"phone_number": number}); st != http.StatusOK {
			t.Errorf("cleanup: release %s: %d %s", number, st, data)
		}
	})
	if out.Number.ID == "" {
		t.Fatalf("purchase %s: no number id in the answer", number)
	}
	return out.Number.ID
}

// ipTrunk creates an IP-auth trunk (register false) letting in src (a
// loopback address of its own, so that no two trunks of a scenario share
// an ACL entry) with gateway as its outbound address, and waits until
// FreeSWITCH has its gateway and list.
func (b *Bridge) ipTrunk(t testing.TB, name, src, gateway string, extra map[string]any) Trunk {
	t.Helper()
	in := map[string]any{"name": name, "gateway": gateway, "register": false, "allowed_addresses": []string{src + "/32"}}
	for k, v := range extra {
		in[k] = v
	}
	tr := b.CreateTrunk(t, in)
	tr = b.WaitApplied(t, tr.ID, 10*time.Second)
	return tr
}

// CallRecord is a call as GET /api/v1/calls shows it (the call scenarios'
// name for Call).
type CallRecord = Call

// callRecords lists the organization's calls (query as for Calls).
func (b *Bridge) callRecords(t testing.TB, query string) []CallRecord { return b.Calls(t, query) }

// waitRecord waits for a call record matching cond.
func (b *Bridge) waitRecord(t testing.TB, what string, within time.Duration, cond func(CallRecord) bool) CallRecord {
	t.Helper()
	return b.WaitCall(t, what, within, cond)
}

// CallEvent is one entry of a call's timeline.
type CallEvent struct {
	At     time.Time      `json:"at"`
	Type   string         `json:"type"`
	Detail map[string]any `json:"detail"`
}

// callEvents returns a call's timeline (GET /api/v1/calls/{id}/events).
func (b *Bridge) callEvents(t testing.TB, id string) []CallEvent {
	t.Helper()
	var evs []CallEvent
	b.API.Call(t, "GET", "/api/v1/calls/"+id+"/events", nil, http.StatusOK, &evs)
	return evs
}

// eventTypes are the types of a timeline, in order.
func eventTypes(evs []CallEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

// findEvent returns the first event of that type.
func findEvent(evs []CallEvent, typ string) (CallEvent, bool) {
	for _, e := range evs {
		if e.Type == typ {
			return e, true
		}
	}
	return CallEvent{}, false
}

// Conns returns every stream that reached the assistant so far.
func (ta *TestAssistant) Conns() []*AssistantConn {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	return append([]*AssistantConn(nil), ta.conns...)
}

// ByParam returns the stream whose start.customParameters[name] is value,
// waiting for it.
func (ta *TestAssistant) ByParam(t testing.TB, name, value string, within time.Duration) *AssistantConn {
	t.Helper()
	var got *AssistantConn
	testkit.Eventually(t, within, fmt.Sprintf("a stream with %s=%s at the assistant", name, value), func() bool {
		for _, c := range ta.Conns() {
			if c.Param(name) == value {
				got = c
				return true
			}
		}
		return false
	}, func() string {
		var seen []string
		for _, c := range ta.Conns() {
			seen = append(seen, c.Param(name))
		}
		return fmt.Sprintf("streams with %s %q", name, seen)
	})
	return got
}

// Arrivals returns the arrival time of every media message so far.
func (c *AssistantConn) Arrivals() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.times...)
}

// ---- caller audio: RTP in a pcap file for sipp's play_pcap_audio ----

// rtpTrack builds one RTP stream as a caller's phone sends it: PCMU frames
// of 20 ms (tone or silence) and RFC 4733 telephone-events (payload type
// 101, as the uac scenarios offer it), one SSRC, consecutive sequence
// numbers, timestamps on the 8 kHz clock, each packet stamped with its send
// time.
type rtpTrack struct {
	pkts []rtpPacket
	seq  uint16
	ts   uint32 // RTP timestamp of the next audio frame
	at   time.Duration
	tone *tone.Generator
	freq float64
}

type rtpPacket struct {
	at      time.Duration
	pt      byte
	marker  bool
	seq     uint16
	ts      uint32
	payload []byte
}

const (
	ptPCMU          = 0
	ptTelephoneEvnt = 101
	frame20ms       = 20 * time.Millisecond
)

func newRTPTrack() *rtpTrack { return &rtpTrack{seq: 4000, ts: 160000} }

func (r *rtpTrack) add(pt byte, marker bool, ts uint32, payload []byte) {
	r.pkts = append(r.pkts, rtpPacket{at: r.at, pt: pt, marker: marker, seq: r.seq, ts: ts, payload: payload})
	r.seq++
}

// Tone adds d of a freq Hz sine (amplitude 8000 of 32767) as PCMU frames.
func (r *rtpTrack) Tone(freq float64, d time.Duration) *rtpTrack {
	if r.tone == nil || r.freq != freq {
		r.tone, r.freq = tone.New(freq, 8000, 8000), freq
	}
	pcm := make([]int16, 160)
	for range int(d / frame20ms) {
		r.tone.Read(pcm)
		ulaw := make([]byte, 160)
		audio.MulawEncode(ulaw, pcm)
		r.add(ptPCMU, len(r.pkts) == 0, r.ts, ulaw)
		r.ts += 160
		r.at += frame20ms
	}
	return r
}

// PCM adds 8 kHz audio as PCMU frames (the last partial frame dropped).
func (r *rtpTrack) PCM(pcm8 []int16) *rtpTrack {
	for i := 0; i+160 <= len(pcm8); i += 160 {
		ulaw := make([]byte, 160)
		audio.MulawEncode(ulaw, pcm8[i:i+160])
		r.add(ptPCMU, len(r.pkts) == 0, r.ts, ulaw)
		r.ts += 160
		r.at += frame20ms
	}
	return r
}

// Silence adds d of PCMU silence.
func (r *rtpTrack) Silence(d time.Duration) *rtpTrack {
	for range int(d / frame20ms) {
		r.add(ptPCMU, len(r.pkts) == 0, r.ts, bytes.Repeat([]byte{0xff}, 160))
		r.ts += 160
		r.at += frame20ms
	}
	return r
}

// DTMF adds one RFC 4733 event of d (no audio meanwhile, as a phone
// does): a packet every 20 ms with the event's start timestamp and the
// duration so far, the first with the marker bit, and the end packet sent
// three times.
func (r *rtpTrack) DTMF(digit byte, d time.Duration) *rtpTrack {
	event := map[byte]byte{'*': 10, '#': 11}[digit]
	if digit >= '0' && digit <= '9' {
		event = digit - '0'
	}
	start := r.ts
	steps := max(int(d/frame20ms), 1)
	for i := 1; i < steps; i++ {
		dur := uint16(160 * i)
		r.add(ptTelephoneEvnt, i == 1, start, []byte{event, 10, byte(dur >> 8), byte(dur)}) // volume -10 dBm0
		r.at += frame20ms
	}
	dur := uint16(160 * steps)
	for n := range 3 {
		r.add(ptTelephoneEvnt, steps == 1 && n == 0, start, []byte{event, 0x80 | 10, byte(dur >> 8), byte(dur)})
		r.at += frame20ms
	}
	r.ts = start + uint32(160*(steps+2))
	return r
}

// Duration is the track's length.
func (r *rtpTrack) Duration() time.Duration { return r.at }

// WritePCAP writes the track as a classic libpcap file (Ethernet, IPv4,
// UDP 127.0.0.1:40000 → 127.0.0.1:40002): sipp's play_pcap_audio keeps the
// RTP bytes and the timing, and replaces the addresses and ports with the
// call's.
func (r *rtpTrack) WritePCAP(path string) error {
	var buf bytes.Buffer
	le := binary.LittleEndian
	hdr := make([]byte, 24)
	le.PutUint32(hdr[0:], 0xa1b2c3d4)
	le.PutUint16(hdr[4:], 2)
	le.PutUint16(hdr[6:], 4)
	le.PutUint32(hdr[16:], 65535)
	le.PutUint32(hdr[20:], 1) // LINKTYPE_ETHERNET
	buf.Write(hdr)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, p := range r.pkts {
		rtp := make([]byte, 12, 12+len(p.payload))
		rtp[0] = 0x80
		rtp[1] = p.pt
		if p.marker {
			rtp[1] |= 0x80
		}
		binary.BigEndian.PutUint16(rtp[2:], p.seq)
		binary.BigEndian.PutUint32(rtp[4:], p.ts)
		binary.BigEndian.PutUint32(rtp[8:], 0x5eb0e2e0)
		rtp = append(rtp, p.payload...)
		udp := make([]byte, 8, 8+len(rtp))
		binary.BigEndian.PutUint16(udp[0:], 40000)
		binary.BigEndian.PutUint16(udp[2:], 40002)
		binary.BigEndian.PutUint16(udp[4:], uint16(8+len(rtp)))
		udp = append(udp, rtp...)
		ip := []byte{0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1}
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(udp)))
		var sum uint32
		for i := 0; i < 20; i += 2 {
			sum += uint32(binary.BigEndian.Uint16(ip[i:]))
		}
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
		eth := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00}
		frame := append(append(eth, ip...), udp...)
		ts := base.Add(p.at)
		rec := make([]byte, 16)
		le.PutUint32(rec[0:], uint32(ts.Unix()))
		le.PutUint32(rec[4:], uint32(ts.Nanosecond()/1000))
		le.PutUint32(rec[8:], uint32(len(frame)))
		le.PutUint32(rec[12:], uint32(len(frame)))
		buf.Write(rec)
		buf.Write(frame)
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// requireRawSocket skips the test unless this process may open a raw
// socket, as sipp's play_pcap_audio sends the capture's UDP packets
// through one (root, or CAP_NET_RAW; the check is made on this process,
// which runs sipp).
func requireRawSocket(t testing.TB) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_UDP)
	if err != nil {
		t.Skipf("e2e: sipp's play_pcap_audio needs a raw socket (root or CAP_NET_RAW): %v", err)
	}
	syscall.Close(fd)
}

// writeTrack writes a track under the test's own folder and returns the path.
func writeTrack(t testing.TB, name string, r *rtpTrack) string {
	t.Helper()
	dir := filepath.Join(suite.tmp, "pcap")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := r.WritePCAP(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// ---- what the assistant heard ----

// toneRun describes the frames of a stream that carry a tone: the run from
// the first frame that does to the last, and how many frames inside it do.
type toneRun struct {
	Frames     int // media messages in the stream
	First      int // index of the first frame with the tone (-1: none)
	Last       int // index of the last one
	WithTone   int // frames inside [First, Last] that carry it
	Silent     int // frames inside [First, Last] that are silence (RTP late or lost before FreeSWITCH)
	MinLevelDB float64
}

// Span is the number of frames from the first with the tone to the last.
func (r toneRun) Span() int {
	if r.First < 0 {
		return 0
	}
	return r.Last - r.First + 1
}

// Ratio is the share of the run's frames that carry the tone.
func (r toneRun) Ratio() float64 {
	if r.Span() == 0 {
		return 0
	}
	return float64(r.WithTone) / float64(r.Span())
}

func (r toneRun) String() string {
	return fmt.Sprintf("%d frames, tone in frames %d..%d: %d of %d (%.1f %%; %d silent), weakest %.1f dBFS", r.Frames, r.First, r.Last,
		r.WithTone, r.Span(), 100*r.Ratio(), r.Silent, r.MinLevelDB)
}

// hasTone reports whether one 20 ms frame (160 samples at 8 kHz) carries
// freq: its zero crossings give freq within 2 % and the component at freq
// holds most of the frame's energy (the tone's level reads at least 0.8 of
// the frame's peak estimate from its RMS, so silence, noise or another
// frequency fail).
func hasTone(frame []int16, freq float64) (bool, float64) {
	rms := tone.RMS(frame)
	if rms < 300 {
		return false, math.Inf(-1)
	}
	level := tone.Level(frame, 8000, freq)
	est := tone.EstimateFrequency(frame, 8000)
	return math.Abs(est-freq) <= 0.02*freq && level >= 0.8*rms*math.Sqrt2, 20 * math.Log10(level/math.MaxInt16)
}

// analyseTone reads the caller's audio at the assistant frame by frame.
func analyseTone(pcm []int16, freq float64) toneRun {
	run := toneRun{Frames: len(pcm) / 160, First: -1, MinLevelDB: math.Inf(1)}
	withTone := make([]bool, run.Frames)
	levels := make([]float64, run.Frames)
	for i := range run.Frames {
		withTone[i], levels[i] = hasTone(pcm[i*160:(i+1)*160], freq)
		if withTone[i] {
			if run.First < 0 {
				run.First = i
			}
			run.Last = i
		}
	}
	if run.First < 0 {
		run.MinLevelDB = math.Inf(-1)
		return run
	}
	for i := run.First; i <= run.Last; i++ {
		switch {
		case withTone[i]:
			run.WithTone++
			run.MinLevelDB = min(run.MinLevelDB, levels[i])
		case tone.RMS(pcm[i*160:(i+1)*160]) < 300:
			run.Silent++
		}
	}
	return run
}

// ---- figures ----

// gaps returns the intervals between consecutive arrivals.
func gaps(times []time.Time) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(times); i++ {
		out = append(out, times[i].Sub(times[i-1]))
	}
	return out
}

// percentile returns the p-th percentile (0–100) of ds by nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

// cpuTicks returns a process's user+system CPU time (/proc/<pid>/stat
// utime+stime, in clock ticks of 1/100 s).
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return ut + st, nil
}

// cpuMeter measures the CPU a process uses over a stretch of wall time.
type cpuMeter struct {
	pid   int
	ticks int64
	at    time.Time
}

func startCPU(t testing.TB, pid int) *cpuMeter {
	t.Helper()
	ticks, err := cpuTicks(pid)
	if err != nil {
		t.Fatal(err)
	}
	return &cpuMeter{pid: pid, ticks: ticks, at: time.Now()}
}

// Cores is the CPU used since the start, in cores (1.0 = one core busy).
func (m *cpuMeter) Cores(t testing.TB) float64 {
	t.Helper()
	ticks, err := cpuTicks(m.pid)
	if err != nil {
		t.Fatal(err)
	}
	return float64(ticks-m.ticks) / 100 / time.Since(m.at).Seconds()
}

// histogram is one Prometheus histogram read from /metrics: the cumulative
// count of each bucket (le) and the total.
type histogram struct {
	le    []float64
	count []float64
	total float64
}

// readHistogram reads a histogram without labels from sipbridge's /metrics.
func (b *Bridge) readHistogram(t testing.TB, name string) histogram {
	t.Helper()
	res, err := httpClient.Get(b.API.Base + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(res.Body)
	var h histogram
	for _, line := range strings.Split(buf.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, name+`_bucket{le="`); ok {
			le, val, _ := strings.Cut(rest, `"} `)
			l, err1 := strconv.ParseFloat(le, 64)
			v, err2 := strconv.ParseFloat(strings.TrimSpace(val), 64)
			if err1 == nil && err2 == nil {
				h.le, h.count = append(h.le, l), append(h.count, v)
			}
		} else if rest, ok := strings.CutPrefix(line, name+"_count "); ok {
			h.total, _ = strconv.ParseFloat(strings.TrimSpace(rest), 64)
		}
	}
	return h
}

// since returns the observations made after h0 (same buckets).
func (h histogram) since(h0 histogram) histogram {
	out := histogram{le: h.le, count: slices.Clone(h.count), total: h.total - h0.total}
	for i := range out.count {
		if i < len(h0.count) {
			out.count[i] -= h0.count[i]
		}
	}
	return out
}

// quantileBound returns the upper bound of the bucket holding the q-th
// quantile (0–1): "q of the observations took at most this".
func (h histogram) quantileBound(q float64) float64 {
	for i, c := range h.count {
		if h.total > 0 && c >= q*h.total {
			return h.le[i]
		}
	}
	return math.Inf(1)
}

// setupTimes reads sipp's message trace (-trace_msg, microsecond
// timestamps) and returns, per call, the time from the INVITE sipp sent to
// the 200 OK it received.
func setupTimes(s *Sipp) []time.Duration {
	var out []time.Duration
	for _, c := range inviteTrace(s) {
		if !c.Invite.IsZero() && c.Code == 200 {
			out = append(out, c.Final.Sub(c.Invite))
		}
	}
	return out
}

// inviteTx is one call's INVITE as sipp's message trace shows it: when sipp
// sent it first, and the first final response (≥ 200) it received.
type inviteTx struct {
	CallID string
	Invite time.Time
	Final  time.Time
	Code   int // 0: no final response
}

// inviteTrace reads sipp's message trace (-trace_msg, microsecond
// timestamps) and returns the INVITE transaction of every call, in the
// order they appear.
func inviteTrace(s *Sipp) []inviteTx {
	calls := map[string]*inviteTx{}
	var order []string
	for _, block := range strings.Split(s.Messages(), "-----------------------------------------------") {
		stamp, rest, ok := strings.Cut(block, "\n")
		if !ok {
			continue
		}
		at, err := time.ParseInLocation("2006-01-02 15:04:05.000000", strings.TrimSpace(stamp), time.Local)
		if err != nil {
			continue
		}
		head, msg, ok := strings.Cut(rest, ":\n")
		if !ok {
			continue
		}
		sent := strings.Contains(head, " sent")
		msg = strings.TrimLeft(msg, "\r\n")
		first, _, _ := strings.Cut(msg, "\n")
		id := sipHeader(msg, "Call-ID")
		if id == "" {
			continue
		}
		p := calls[id]
		if p == nil {
			p = &inviteTx{CallID: id}
			calls[id] = p
			order = append(order, id)
		}
		switch {
		case strings.HasPrefix(first, "INVITE ") && sent && p.Invite.IsZero():
			p.Invite = at
		case strings.HasPrefix(first, "SIP/2.0 ") && !sent && p.Code == 0 && strings.HasSuffix(sipHeader(msg, "CSeq"), "INVITE"):
			code, _ := strconv.Atoi(strings.TrimSpace(first[len("SIP/2.0 "):min(len(first), len("SIP/2.0 123"))]))
			if code >= 200 {
				p.Final, p.Code = at, code
			}
		}
	}
	out := make([]inviteTx, 0, len(order))
	for _, id := range order {
		out = append(out, *calls[id])
	}
	return out
}

// sipHeader returns the value of a header of a SIP message (first one).
func sipHeader(msg, name string) string {
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
