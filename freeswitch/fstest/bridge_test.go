package fstest

import (
	"encoding/binary"
	"os"
	"strings"
	"testing"
	"time"
)

// uuid_bridge and hupall answer as mod_commands does, and a bridge ends
// both legs when one hangs up.
func TestUUIDBridgeAndHupall(t *testing.T) {
	gen := t.TempDir()
	writeFile(t, gen, "gateways/gw1.xml", gwFile("o1_gw1", "127.0.0.1:5073", false))
	s := newSwitch(t, Options{GenDir: gen, Step: 2 * time.Millisecond})
	s.exec("sofia profile external rescan")
	a, err := s.Call(InboundCall{FromUser: "+14165550100", RequestUser: "9228"})
	if err != nil {
		t.Fatal(err)
	}
	s.exec("uuid_answer " + a)
	if r := s.exec("uuid_bridge " + a); r != "-USAGE: <uuid> <other_uuid>\n" {
		t.Fatalf("usage %q", r)
	}
	if r := s.exec("uuid_bridge " + a + " nope"); r != "-ERR Invalid uuid\n" {
		t.Fatalf("invalid %q", r)
	}
	out := s.exec("originate {sipbridge_dial=d1}sofia/gateway/o1_gw1/14165550199 &park()")
	b, ok := strings.CutPrefix(strings.TrimSpace(out), "+OK ")
	if !ok {
		t.Fatalf("originate %q", out)
	}
	if r := s.exec("uuid_bridge " + a + " " + b); r != "+OK "+b+"\n" {
		t.Fatalf("bridge %q", r)
	}
	if s.Bridged(a) != b || s.Bridged(b) != a {
		t.Fatalf("bridged %q %q", s.Bridged(a), s.Bridged(b))
	}
	s.Hangup(b, "NORMAL_CLEARING")
	if !s.WaitFor(func() bool { return len(s.Channels()) == 0 }, 2*time.Second) {
		t.Fatalf("the other leg outlived the bridge: %v", s.Channels())
	}

	// hupall on a variable hangs up a ringing leg: the originate fails.
	s.SetDialOutcome("o1_gw1", DialOutcome{Result: DialNoAnswer})
	done := make(chan string, 1)
	go func() {
		done <- s.exec("originate {sipbridge_dial=d2,leg_timeout=30}sofia/gateway/o1_gw1/14165550199 &park()")
	}()
	if !s.WaitFor(func() bool { return len(s.DialAttempts()) == 2 }, 2*time.Second) {
		t.Fatal("the second originate did not start")
	}
	time.Sleep(20 * time.Millisecond)
	if r := s.exec("hupall ORIGINATOR_CANCEL sipbridge_dial d2"); r != "+OK hangup all channels matching [sipbridge_dial]=[d2] with cause: ORIGINATOR_CANCEL\n" {
		t.Fatalf("hupall %q", r)
	}
	select {
	case r := <-done:
		if r != "-ERR ORIGINATOR_CANCEL\n" {
			t.Fatalf("cancelled originate %q", r)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("hupall did not cancel the ringing leg")
	}
	if r := s.exec("hupall"); r != "+OK hangup all channels with cause MANAGER_REQUEST\n" {
		t.Fatalf("hupall %q", r)
	}
}

// WAVCaller plays a file as the caller's voice, looped.
func TestWAVCaller(t *testing.T) {
	pcm := make([]int16, 800) // 100 ms at 8 kHz: 0, 1, 2, …
	for i := range pcm {
		pcm[i] = int16(i)
	}
	path := t.TempDir() + "/caller.wav"
	if err := os.WriteFile(path, wavBytes(pcm, 8000), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := WAVCaller(path)
	if err != nil {
		t.Fatal(err)
	}
	frame := make([]int16, 320)
	for k := 0; k < 6; k++ { // 120 ms: wraps around after 100 ms
		src(frame)
		for i, v := range frame {
			n := k*320 + i
			if want := int16((n / 2) % 800); v != want {
				t.Fatalf("sample %d = %d, want %d", n, v, want)
			}
		}
	}
	if _, err := WAVCaller(t.TempDir() + "/missing.wav"); err == nil {
		t.Fatal("a missing file gave a source")
	}
}

// wavBytes is a mono 16-bit PCM WAV file.
func wavBytes(pcm []int16, rate int) []byte {
	data := make([]byte, 44+2*len(pcm))
	copy(data, "RIFF")
	binary.LittleEndian.PutUint32(data[4:], uint32(len(data)-8))
	copy(data[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(data[16:], 16)
	binary.LittleEndian.PutUint16(data[20:], 1)
	binary.LittleEndian.PutUint16(data[22:], 1)
	binary.LittleEndian.PutUint32(data[24:], uint32(rate))
	binary.LittleEndian.PutUint32(data[28:], uint32(rate*2))
	binary.LittleEndian.PutUint16(data[32:], 2)
	binary.LittleEndian.PutUint16(data[34:], 16)
	copy(data[36:], "data")
	binary.LittleEndian.PutUint32(data[40:], uint32(2*len(pcm)))
	for i, v := range pcm {
		binary.LittleEndian.PutUint16(data[44+2*i:], uint16(v))
	}
	return data
}
