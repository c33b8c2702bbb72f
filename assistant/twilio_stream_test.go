package assistant

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sipbridge/sipbridge/audio"
	"github.com/sipbridge/sipbridge/internal/testkit"
)

func newFakeClock() *testkit.Clock {
	return testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
}

// fakeAssistant is an httptest websocket server; every accepted connection
// is handed to the test on conns, with the upgrade request.
type fakeAssistant struct {
	srv   *httptest.Server
	conns chan serverConn
}

type serverConn struct {
	*websocket.Conn
	req *http.Request
}

func newFakeAssistant(t *testing.T) *fakeAssistant {
	t.Helper()
	fa := &fakeAssistant{conns: make(chan serverConn, 16)}
	up := websocket.Upgrader{}
	fa.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		fa.conns <- serverConn{Conn: c, req: r}
	}))
	t.Cleanup(fa.srv.Close)
	return fa
}

func (fa *fakeAssistant) url() string {
	return "ws" + strings.TrimPrefix(fa.srv.URL, "http") + "/stream"
}

func (fa *fakeAssistant) accept(t *testing.T) serverConn {
	t.Helper()
	select {
	case c := <-fa.conns:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no websocket connection arrived")
		return serverConn{}
	}
}

// readJSON reads one text message from the server side.
func readJSON(t *testing.T, c serverConn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("server read: %v", err)
	}
	if typ != websocket.TextMessage {
		t.Fatalf("message type %d, want text", typ)
	}
	return data
}

func readStreamMessage(t *testing.T, c serverConn) StreamMessage {
	t.Helper()
	data := readJSON(t, c)
	m, err := ParseStreamMessage(data)
	if err != nil {
		t.Fatalf("parse %s: %v", data, err)
	}
	return m
}

func dialTest(t *testing.T, fa *fakeAssistant, info StartInfo, opts ...DialOption) (*Stream, serverConn) {
	t.Helper()
	s, err := Dial(context.Background(), fa.url(), info, opts...)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, fa.accept(t)
}

func TestDialSendsConnectedAndStart(t *testing.T) {
	fa := newFakeAssistant(t)
	info := StartInfo{
		CallID:         "0b5c8e1a-2f3d-4c5b-8a9e-112233445566",
		From:           "+14165550100",
		To:             "+16478491000",
		AssistantID:    "asst_42",
		Direction:      "inbound",
		WelcomeMessage: "Hello, how can I help?",
		Extra:          map[string]string{"X-Custom-Tag": "abc123", "from": "must not win"},
	}
	hdr := http.Header{"Authorization": {"Bearer secret-token"}}
	_, sc := dialTest(t, fa, info, WithHeader(hdr))

	if got := sc.req.Header.Get("Authorization"); got != "Bearer secret-token" {
		t.Errorf("upgrade request Authorization = %q", got)
	}
	if got := string(readJSON(t, sc)); got != `{"event":"connected","protocol":"Call","version":"1.0.0"}` {
		t.Errorf("connected message = %s", got)
	}

	raw := readJSON(t, sc)
	// Wire types: sequenceNumber is a string, sampleRate/channels numbers.
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	if _, ok := generic["sequenceNumber"].(string); !ok {
		t.Errorf("sequenceNumber is %T, want string", generic["sequenceNumber"])
	}
	var start StartMessage
	if err := json.Unmarshal(raw, &start); err != nil {
		t.Fatal(err)
	}
	if start.Event != "start" || start.SequenceNumber != "1" {
		t.Errorf("start event/sequence = %q/%q", start.Event, start.SequenceNumber)
	}
	if !regexp.MustCompile(`^MZ[0-9a-f]{32}$`).MatchString(start.StreamSID) || start.Start.StreamSID != start.StreamSID {
		t.Errorf("streamSid %q / start.streamSid %q", start.StreamSID, start.Start.StreamSID)
	}
	if want := "CA0b5c8e1a2f3d4c5b8a9e112233445566"; start.Start.CallSID != want {
		t.Errorf("callSid = %q, want %q", start.Start.CallSID, want)
	}
	if !regexp.MustCompile(`^AC[0-9a-f]{32}$`).MatchString(start.Start.AccountSID) {
		t.Errorf("accountSid = %q", start.Start.AccountSID)
	}
	if !slices.Equal(start.Start.Tracks, []string{"inbound"}) {
		t.Errorf("tracks = %v", start.Start.Tracks)
	}
	if f := start.Start.MediaFormat; f != (MediaFormat{Encoding: "audio/x-mulaw", SampleRate: 8000, Channels: 1}) {
		t.Errorf("mediaFormat = %+v", f)
	}
	wantParams := map[string]string{
		"from":            "+14165550100",
		"to":              "+16478491000",
		"from_number":     "+14165550100",
		"to_number":       "+16478491000",
		"call_id":         info.CallID,
		"assistant_id":    "asst_42",
		"direction":       "inbound",
		"welcome_message": "Hello, how can I help?",
		"X-Custom-Tag":    "abc123",
	}
	for k, v := range wantParams {
		if got := start.Start.CustomParameters[k]; got != v {
			t.Errorf("customParameters[%q] = %q, want %q", k, got, v)
		}
	}
	if len(start.Start.CustomParameters) != len(wantParams) {
		t.Errorf("customParameters = %v", start.Start.CustomParameters)
	}
}

// An l16_16k assistant is told so in start.mediaFormat; its media carry
// the L16 bytes as given (640 bytes: 20 ms at 16 kHz).
func TestDialL16AnnouncesMediaFormat(t *testing.T) {
	fa := newFakeAssistant(t)
	s, sc := dialTest(t, fa, StartInfo{CallID: "c1", AudioFormat: AudioL16k16})
	readJSON(t, sc) // connected
	var start StartMessage
	if err := json.Unmarshal(readJSON(t, sc), &start); err != nil {
		t.Fatal(err)
	}
	if f := start.Start.MediaFormat; f != (MediaFormat{Encoding: "audio/l16", SampleRate: 16000, Channels: 1}) {
		t.Errorf("mediaFormat = %+v, want audio/l16 16000 1", f)
	}
	frame := make([]byte, 640)
	for i := range frame {
		frame[i] = byte(i)
	}
	if err := s.SendMedia(frame); err != nil {
		t.Fatal(err)
	}
	m, err := ParseStreamMessage(readJSON(t, sc))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := m.Audio(); err != nil || !slices.Equal(got, frame) {
		t.Errorf("media payload %d bytes (%v), want the 640 bytes sent", len(got), err)
	}
	for f, ok := range map[string]bool{"": true, "mulaw_8k": true, "l16_16k": true, "L16_16K": false, "l16_8k": false, "pcm": false} {
		if ValidAudioFormat(f) != ok {
			t.Errorf("ValidAudioFormat(%q) = %v", f, !ok)
		}
	}
}

func TestStartInfoDefaults(t *testing.T) {
	a := StartInfo{CallID: "not-a-uuid"}.withDefaults()
	b := StartInfo{CallID: "not-a-uuid"}.withDefaults()
	if a.StreamSID == b.StreamSID || a.CallSID == b.CallSID {
		t.Error("generated SIDs must differ between streams")
	}
	if !regexp.MustCompile(`^CA[0-9a-f]{32}$`).MatchString(a.CallSID) {
		t.Errorf("callSid = %q", a.CallSID)
	}
	given := StartInfo{StreamSID: "MZx", AccountSID: "ACy", CallSID: "CAz"}.withDefaults()
	if given.StreamSID != "MZx" || given.AccountSID != "ACy" || given.CallSID != "CAz" {
		t.Errorf("given SIDs replaced: %+v", given)
	}
	if p := (StartInfo{From: "+1"}).CustomParameters(); len(p) != 2 || p["from"] != "+1" || p["from_number"] != "+1" {
		t.Errorf("empty fields must be left out: %v", p)
	}
}

func TestSendMediaCountersAndOtherMessages(t *testing.T) {
	fa := newFakeAssistant(t)
	clk := newFakeClock()
	s, sc := dialTest(t, fa, StartInfo{StreamSID: "MZtest", AccountSID: "ACacct", CallSID: "CAcall"}, WithClock(clk.Now))
	readJSON(t, sc) // connected
	readJSON(t, sc) // start

	frames := [][]byte{{0xff, 0x7f}, {0x00, 0x80, 0x11}, {0xce}}
	for _, f := range frames {
		clk.Advance(20 * time.Millisecond)
		if err := s.SendMedia(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SendDTMF("5"); err != nil {
		t.Fatal(err)
	}
	if err := s.SendMark("utterance-1"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(500 * time.Millisecond)
	if err := s.SendMedia([]byte{1}); err != nil {
		t.Fatal(err)
	}
	if err := s.SendTransferFailed("sip:agent@pbx.example.com", "REFER answered 603"); err != nil {
		t.Fatal(err)
	}
	if err := s.SendTransferAnswered("+14165550100"); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}

	type want struct {
		event, seq, chunk, ts string
	}
	wants := []want{
		{"media", "2", "1", "20"},
		{"media", "3", "2", "40"},
		{"media", "4", "3", "60"},
		{"dtmf", "5", "", ""},
		{"mark", "6", "", ""},
		{"media", "7", "4", "560"},
		{"transfer_failed", "8", "", ""},
		{"transfer_answered", "9", "", ""},
		{"stop", "10", "", ""},
	}
	for i, w := range wants {
		m := readStreamMessage(t, sc)
		if m.Event != w.event || m.SequenceNumber != w.seq || m.StreamSID != "MZtest" {
			t.Fatalf("message %d: event %q seq %q sid %q, want %q %q MZtest", i, m.Event, m.SequenceNumber, m.StreamSID, w.event, w.seq)
		}
		switch m.Event {
		case "media":
			if m.Media.Track != "inbound" || m.Media.Chunk != w.chunk || m.Media.Timestamp != w.ts {
				t.Errorf("message %d: media %+v, want chunk %s timestamp %s", i, *m.Media, w.chunk, w.ts)
			}
			audio, err := m.Audio()
			if err != nil {
				t.Fatal(err)
			}
			if i < len(frames) && !slices.Equal(audio, frames[i]) {
				t.Errorf("message %d: payload %x, want %x", i, audio, frames[i])
			}
		case "dtmf":
			if *m.DTMF != (DTMFPayload{Track: "inbound_track", Digit: "5"}) {
				t.Errorf("dtmf = %+v", *m.DTMF)
			}
		case "mark":
			if m.Mark.Name != "utterance-1" {
				t.Errorf("mark = %+v", *m.Mark)
			}
		case "transfer_failed":
			if *m.Transfer != (TransferFailedPayload{To: "sip:agent@pbx.example.com", Reason: "REFER answered 603"}) {
				t.Errorf("transfer_failed = %+v", *m.Transfer)
			}
		case "transfer_answered":
			if *m.Transfer != (TransferFailedPayload{To: "+14165550100"}) {
				t.Errorf("transfer_answered = %+v", *m.Transfer)
			}
		case "stop":
			if *m.Stop != (StopPayload{AccountSID: "ACacct", CallSID: "CAcall"}) {
				t.Errorf("stop = %+v", *m.Stop)
			}
		}
	}
	if err := s.SendMedia([]byte{1}); !errors.Is(err, ErrStreamClosed) {
		t.Errorf("SendMedia after Stop: %v, want ErrStreamClosed", err)
	}
}

// The media message is built by hand for speed; it must be exactly what
// encoding/json would produce for the documented structure.
func TestMediaMessageMatchesJSONEncoding(t *testing.T) {
	payload := []byte{0, 1, 2, 0xfe, 0xff}
	for _, sid := range []string{"MZ0123", `MZ"quoted"<&>`} {
		got := appendMediaMessage(nil, 12, 10, 200, payload, jsonString(sid))
		want, _ := json.Marshal(MediaMessage{
			Event:          "media",
			SequenceNumber: "12",
			Media:          MediaPayload{Track: "inbound", Chunk: "10", Timestamp: "200", Payload: base64.StdEncoding.EncodeToString(payload)},
			StreamSID:      sid,
		})
		if string(got) != string(want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
}

func TestSendDTMFValidation(t *testing.T) {
	fa := newFakeAssistant(t)
	s, sc := dialTest(t, fa, StartInfo{})
	readJSON(t, sc)
	readJSON(t, sc)
	tests := []struct {
		digit string
		want  string // "" = rejected
	}{
		{"0", "0"}, {"9", "9"}, {"*", "*"}, {"#", "#"}, {"A", "A"}, {"d", "D"},
		{"", ""}, {"12", ""}, {"E", ""}, {"x", ""}, {"é", ""},
	}
	for _, tc := range tests {
		err := s.SendDTMF(tc.digit)
		if tc.want == "" {
			if !errors.Is(err, ErrInvalidDigit) {
				t.Errorf("SendDTMF(%q) = %v, want ErrInvalidDigit", tc.digit, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("SendDTMF(%q): %v", tc.digit, err)
		}
		if m := readStreamMessage(t, sc); m.DTMF.Digit != tc.want {
			t.Errorf("SendDTMF(%q) sent %q", tc.digit, m.DTMF.Digit)
		}
	}
	if err := s.SendMark(""); !errors.Is(err, ErrInvalidMark) {
		t.Errorf("SendMark(\"\") = %v, want ErrInvalidMark", err)
	}
}

func TestConcurrentSendsKeepSequenceUnique(t *testing.T) {
	fa := newFakeAssistant(t)
	s, sc := dialTest(t, fa, StartInfo{})
	readJSON(t, sc)
	readJSON(t, sc)
	const senders, each = 4, 50
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for range each {
				if err := s.SendMedia([]byte{0xff}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	seqs := map[string]bool{}
	chunks := map[string]bool{}
	for range senders * each {
		m := readStreamMessage(t, sc)
		seqs[m.SequenceNumber] = true
		chunks[m.Media.Chunk] = true
	}
	wg.Wait()
	for i := 2; i < 2+senders*each; i++ {
		if !seqs[strconv.Itoa(i)] || !chunks[strconv.Itoa(i-1)] {
			t.Fatalf("sequence %d or chunk %d missing or duplicated", i, i-1)
		}
	}
}

func TestStreamDeliversAssistantMessages(t *testing.T) {
	fa := newFakeAssistant(t)
	s, sc := dialTest(t, fa, StartInfo{})
	ulaw := []byte{0xff, 0xce, 0x4e, 0x80}
	send := []string{
		`{"event":"media","streamSid":"MZ1","media":{"payload":"` + base64.StdEncoding.EncodeToString(ulaw) + `"}}`,
		`{"event":"dance"}`, // unknown: skipped
		`not json`,          // skipped
		`{"event":"media","media":{"payload":"@@@@"}}`, // bad base64: skipped
		`{"event":"mark","streamSid":"MZ1","mark":{"name":"m1"}}`,
		`{"event":"clear","streamSid":"MZ1"}`,
		`{"event":"transfer","transfer":{"to":"sip:agent@pbx.example.com"}}`,
		`{"event":"hangup"}`,
	}
	for _, m := range send {
		if err := sc.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if err := sc.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := sc.WriteMessage(websocket.TextMessage, []byte(`{"event":"mark","mark":{"name":"last"}}`)); err != nil {
		t.Fatal(err)
	}
	want := []AssistantMessage{
		{Event: "media", StreamSID: "MZ1", Payload: ulaw},
		{Event: "mark", StreamSID: "MZ1", Mark: "m1"},
		{Event: "clear", StreamSID: "MZ1"},
		{Event: "transfer", TransferTo: "sip:agent@pbx.example.com"},
		{Event: "hangup"},
		{Event: "mark", Mark: "last"},
	}
	for i, w := range want {
		select {
		case got := <-s.Messages():
			if got.Event != w.Event || got.StreamSID != w.StreamSID || got.Mark != w.Mark ||
				got.TransferTo != w.TransferTo || !slices.Equal(got.Payload, w.Payload) {
				t.Fatalf("message %d = %+v, want %+v", i, got, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("message %d did not arrive", i)
		}
	}
}

func TestDialErrors(t *testing.T) {
	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	ln.Close()

	// A server that accepts TCP and never answers the upgrade.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()

	notWS := httptest.NewServer(http.NotFoundHandler())
	defer notWS.Close()

	tests := []struct {
		name string
		url  string
		want error
	}{
		{"http scheme", "http://example.com/stream", ErrBadStreamURL},
		{"empty", "", ErrBadStreamURL},
		{"no host", "ws:///stream", ErrBadStreamURL},
		{"refused", "ws://" + closedAddr + "/stream?token=SECRET", ErrAssistantUnreachable},
		{"upgrade rejected", "ws" + strings.TrimPrefix(notWS.URL, "http") + "/stream?token=SECRET", ErrAssistantUnreachable},
		{"no answer", "ws://" + silent.Addr().String() + "/?token=SECRET", ErrAssistantUnreachable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			s, err := Dial(context.Background(), tc.url, StartInfo{}, WithConnectTimeout(300*time.Millisecond))
			if s != nil {
				s.Close()
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Dial(%q) error = %v, want %v", tc.url, err, tc.want)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error leaks the URL query: %v", err)
			}
			// A refused port and a silent one read the same: the message
			// reaches the tenant's call events.
			if (tc.name == "refused" || tc.name == "no answer") && !strings.HasSuffix(err.Error(), ": could not connect") {
				t.Errorf("error tells why: %v", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("Dial took %v despite a 300 ms connect timeout", d)
			}
		})
	}
}

func TestDialUsesNetDialContext(t *testing.T) {
	refused := errors.New("address policy: loopback")
	var got []string
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		got = append(got, network+" "+addr)
		return nil, refused
	}
	_, err := Dial(context.Background(), "ws://assistant.example/stream?token=SECRET", StartInfo{}, WithNetDialContext(dial))
	if !errors.Is(err, ErrAssistantUnreachable) || !errors.Is(err, refused) {
		t.Fatalf("error = %v, want ErrAssistantUnreachable wrapping the dialer's", err)
	}
	if err.Error() != "assistant: unreachable: ws://assistant.example/stream: could not connect" {
		t.Fatalf("message %q", err)
	}
	if len(got) != 1 || got[0] != "tcp assistant.example:80" {
		t.Fatalf("dialled %q", got)
	}
}

func TestDialHonoursContext(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = Dial(ctx, "ws://"+silent.Addr().String()+"/", StartInfo{})
	if !errors.Is(err, ErrAssistantUnreachable) {
		t.Fatalf("error = %v, want ErrAssistantUnreachable", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Dial ignored the context deadline (%v)", d)
	}
}

func TestDialWSS(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		_, data, _ := c.ReadMessage()
		got <- string(data)
	}))
	defer srv.Close()
	tlsCfg := srv.Client().Transport.(*http.Transport).TLSClientConfig
	s, err := Dial(context.Background(), "wss"+strings.TrimPrefix(srv.URL, "https"), StartInfo{}, WithTLSConfig(tlsCfg))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	select {
	case m := <-got:
		if !strings.Contains(m, `"connected"`) {
			t.Errorf("first message over wss = %s", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing arrived over wss")
	}
	// Without the test CA the certificate is refused.
	if _, err := Dial(context.Background(), "wss"+strings.TrimPrefix(srv.URL, "https"), StartInfo{}); !errors.Is(err, ErrAssistantUnreachable) {
		t.Errorf("untrusted certificate: %v, want ErrAssistantUnreachable", err)
	}
}

func TestAssistantGoneMidStream(t *testing.T) {
	tests := []struct {
		name  string
		close func(sc serverConn)
	}{
		{"close frame", func(sc serverConn) {
			_ = sc.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"))
			sc.Close()
		}},
		{"connection dropped", func(sc serverConn) { sc.NetConn().Close() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fa := newFakeAssistant(t)
			s, sc := dialTest(t, fa, StartInfo{})
			readJSON(t, sc)
			readJSON(t, sc)
			tc.close(sc)
			select {
			case <-s.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("stream did not notice the assistant left")
			}
			if _, open := <-s.Messages(); open {
				t.Error("Messages still open after the stream ended")
			}
			if err := s.Err(); !errors.Is(err, ErrAssistantGone) {
				t.Errorf("Err() = %v, want ErrAssistantGone", err)
			}
			if err := s.SendMedia([]byte{0xff}); !errors.Is(err, ErrAssistantGone) {
				t.Errorf("SendMedia after the assistant left = %v, want ErrAssistantGone", err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

// An assistant that stops reading: writes must fail at the write deadline
// instead of blocking the caller-audio path forever.
func TestWriteDeadlineBreaksStalledStream(t *testing.T) {
	fa := newFakeAssistant(t)
	s, _ := dialTest(t, fa, StartInfo{}, WithWriteTimeout(100*time.Millisecond))
	frame := make([]byte, 16000) // big messages fill the socket buffers fast
	deadline := time.Now().Add(20 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = s.SendMedia(frame); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrAssistantGone) {
		t.Fatalf("SendMedia to a stalled assistant = %v, want ErrAssistantGone", err)
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("reader did not end after the write failure")
	}
}

func TestCloseEndsEverything(t *testing.T) {
	fa := newFakeAssistant(t)
	s, sc := dialTest(t, fa, StartInfo{}, WithMessageBuffer(0))
	readJSON(t, sc)
	readJSON(t, sc)
	// The assistant sends while nobody reads Messages: the reader blocks on
	// the channel, and Close must still end it.
	for i := range 5 {
		_ = sc.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"event":"mark","mark":{"name":"m%d"}}`, i))
	}
	time.Sleep(50 * time.Millisecond)
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked")
	}
	if err := s.Err(); err != nil {
		t.Errorf("Err() after our Close = %v, want nil", err)
	}
	if err := s.SendMedia([]byte{1}); !errors.Is(err, ErrStreamClosed) {
		t.Errorf("SendMedia after Close = %v, want ErrStreamClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// The assistant sees a normal close.
	_ = sc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := sc.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Errorf("assistant saw %v, want close 1000", err)
	}
}

func TestCloseLeaksNoGoroutines(t *testing.T) {
	// Server handlers read until their connection ends, then return.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.WriteMessage(websocket.TextMessage, []byte(`{"event":"clear"}`))
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
	settle := func(limit int) int {
		testkit.Until(2*time.Second, func() bool { return runtime.NumGoroutine() <= limit })
		return runtime.NumGoroutine()
	}
	before := runtime.NumGoroutine()
	for range 3 {
		var streams []*Stream
		for range 10 {
			s, err := Dial(context.Background(), url, StartInfo{})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SendMedia(make([]byte, 160)); err != nil {
				t.Fatal(err)
			}
			streams = append(streams, s)
		}
		if n := runtime.NumGoroutine(); n < before+10 {
			t.Fatalf("%d goroutines with 10 open streams (before: %d): the check would not see a leak", n, before)
		}
		for _, s := range streams {
			s.Close()
		}
	}
	if after := settle(before); after > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("goroutines: %d before, %d after Close\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}

// BenchmarkSendMedia measures one caller frame through SendMedia to a local
// assistant that reads and discards.
func BenchmarkSendMedia(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			if _, _, err := c.NextReader(); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	s, err := Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/", StartInfo{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	frame := make([]byte, audio.MulawFrameBytes)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.SendMedia(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSendAMD: the amd extension as the assistant reads it, the decision
// without beep, wait_beep's report with it.
func TestSendAMD(t *testing.T) {
	fa := newFakeAssistant(t)
	s, sc := dialTest(t, fa, StartInfo{StreamSID: "MZamd"})
	readJSON(t, sc) // connected
	readJSON(t, sc) // start
	beep := true
	for _, c := range []struct {
		p    AMDPayload
		want string
	}{
		{AMDPayload{Result: "machine", MS: 2340}, `{"event":"amd","streamSid":"MZamd","sequenceNumber":"2","amd":{"result":"machine","ms":2340}}`},
		{AMDPayload{Result: "machine", Beep: &beep, MS: 6120}, `{"event":"amd","streamSid":"MZamd","sequenceNumber":"3","amd":{"result":"machine","beep":true,"ms":6120}}`},
	} {
		if err := s.SendAMD(c.p); err != nil {
			t.Fatal(err)
		}
		if got := string(readJSON(t, sc)); got != c.want {
			t.Errorf("SendAMD(%+v) sent %s, want %s", c.p, got, c.want)
		}
	}
}
