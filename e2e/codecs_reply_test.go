package e2e

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// codecSink receives the RTP FreeSWITCH sends one caller whatever its
// codec, and keeps every packet; it talks back with its own frames so the
// channel reads media (see talkRTP).
type codecSink struct {
	conn *net.UDPConn
	mu   sync.Mutex
	pkts []sinkRTP
}

// sinkRTP is one packet the caller received.
type sinkRTP struct {
	at      time.Time
	pt      byte
	seq     uint16
	ts      uint32
	payload []byte
}

func startCodecSink(t *testing.T, ip string) *codecSink {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	s := &codecSink{conn: conn}
	t.Cleanup(func() { conn.Close() })
	go s.read()
	return s
}

func (s *codecSink) read() {
	buf := make([]byte, 2048)
	for {
		n, err := s.conn.Read(buf)
		if err != nil {
			return
		}
		if n < 12 || buf[0]>>6 != 2 {
			continue
		}
		off := 12 + 4*int(buf[0]&0x0f)
		if off > n {
			continue
		}
		p := sinkRTP{at: time.Now(), pt: buf[1] & 0x7f, seq: binary.BigEndian.Uint16(buf[2:]), ts: binary.BigEndian.Uint32(buf[4:]),
			payload: append([]byte(nil), buf[off:n]...)}
		s.mu.Lock()
		s.pkts = append(s.pkts, p)
		s.mu.Unlock()
	}
}

// packets returns the packets of payload type pt received so far.
func (s *codecSink) packets(pt byte) []sinkRTP {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sinkRTP
	for _, p := range s.pkts {
		if p.pt == pt {
			out = append(out, p)
		}
	}
	return out
}

// types counts the packets received per payload type, e.g. "9×120".
func (s *codecSink) types() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := map[byte]int{}
	for _, p := range s.pkts {
		n[p.pt]++
	}
	return fmt.Sprint(n)
}

// codecCall is one call placed by sipp from ip with the offer of data
// (its MediaPort filled in), its RTP going to a codecSink that sends
// payload type pt with frame(i) as the i-th packet once answered.
func codecCall(t *testing.T, b *Bridge, ip string, data sinkCallData, pt byte, frame func(int) []byte) (*Sipp, *codecSink) {
	t.Helper()
	sink := startCodecSink(t, ip)
	data.MediaPort = portOf(sink.conn)
	uac := StartSipp(t, SippOptions{Scenario: "uac-rtp-sink.xml", IP: ip, Remote: b.SW.remote(), Calls: 1,
		Timeout: 30 * time.Second, Data: data})
	go talkRTP(sink.conn, uac, pt, frame, "SIP/2.0 183", "SIP/2.0 200")
	return uac, sink
}

func portOf(c *net.UDPConn) string { return fmt.Sprint(c.LocalAddr().(*net.UDPAddr).Port) }
