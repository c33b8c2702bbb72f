package hosted

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sipbridge/sipbridge/audio"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/provider"
)

// providerOut writes the assistant's audio, marks and clears to the
// provider in its format. Twilio and Telnyx queue the audio themselves and
// echo marks once the audio before them has played; Vonage has no marks:
// sipbridge paces its L16 frames at 20 ms and echoes a mark when the pacing
// reaches it (a clear drops the queue and echoes its marks at once).
type providerOut struct {
	prov     string
	conn     call.StreamConn
	streamID string

	up    *audio.Upsampler8to16
	pcm8  []int16
	pcm16 []int16
	pend  []byte        // L16 bytes short of a whole frame
	queue []vonageFrame // frames and marks in play order

	paceStart time.Time // when the current run of audio started playing
	sentPaced int       // frames sent since paceStart
	dropped   int       // frames trimmed off a queue that grew past vonageMaxQueue
}

type vonageFrame struct {
	l16  []byte
	mark string
}

// vonageFrameBytes is 20 ms of L16 16 kHz.
const vonageFrameBytes = 640

func newProviderOut(prov string, conn call.StreamConn) *providerOut {
	o := &providerOut{prov: prov, conn: conn}
	if prov == provider.NameVonage {
		o.up = audio.NewUpsampler8to16()
	}
	return o
}

func (o *providerOut) paced() bool { return o.prov == provider.NameVonage }

func (o *providerOut) writeJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_ = o.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	return o.conn.WriteMessage(websocket.TextMessage, b)
}

func (o *providerOut) media(ulaw []byte) error {
	payload := base64.StdEncoding.EncodeToString(ulaw)
	switch o.prov {
	case provider.NameTwilio:
		return o.writeJSON(map[string]any{"event": "media", "streamSid": o.streamID, "media": map[string]string{"payload": payload}})
	case provider.NameTelnyx:
		return o.writeJSON(map[string]any{"event": "media", "media": map[string]string{"payload": payload}})
	}
	o.pcm8 = audio.AppendMulawDecode(o.pcm8[:0], ulaw)
	o.pcm16 = o.up.Process(o.pcm16[:0], o.pcm8)
	o.pend = audio.AppendL16Bytes(o.pend, o.pcm16)
	o.queuePend()
	return nil
}

// queuePend queues the whole frames of pend, then trims the queue.
func (o *providerOut) queuePend() {
	for len(o.pend) >= vonageFrameBytes {
		o.queue = append(o.queue, vonageFrame{l16: append([]byte(nil), o.pend[:vonageFrameBytes]...)})
		o.pend = o.pend[vonageFrameBytes:]
	}
	o.trim()
}

// mediaL16 queues an l16_16k assistant's L16 16 kHz for Vonage as it came
// (a payload ending inside a sample is completed by the next: pend is cut
// in whole frames from the start of the audio).
func (o *providerOut) mediaL16(le []byte) {
	o.pend = append(o.pend, le...)
	o.queuePend()
}

// vonageMaxQueue caps the audio waiting to be paced out to Vonage (30 s):
// an assistant sending faster than real time for ever must not grow it
// without bound.
const vonageMaxQueue = 30 * 50

// trim drops the oldest audio (never a mark) beyond vonageMaxQueue frames.
func (o *providerOut) trim() {
	audio := 0
	for _, f := range o.queue {
		if f.mark == "" {
			audio++
		}
	}
	if audio <= vonageMaxQueue {
		return
	}
	drop := audio - vonageMaxQueue
	kept := o.queue[:0]
	for _, f := range o.queue {
		if drop > 0 && f.mark == "" {
			drop--
			continue
		}
		kept = append(kept, f)
	}
	o.queue = kept
	o.dropped += audio - vonageMaxQueue
}

// mark sends a mark to the provider; for Vonage it returns the marks due
// now (nothing queued before it).
func (o *providerOut) mark(name string) ([]string, error) {
	switch o.prov {
	case provider.NameTwilio:
		return nil, o.writeJSON(map[string]any{"event": "mark", "streamSid": o.streamID, "mark": map[string]string{"name": name}})
	case provider.NameTelnyx:
		return nil, o.writeJSON(map[string]any{"event": "mark", "mark": map[string]string{"name": name}})
	}
	o.flushPartial()
	if len(o.queue) == 0 {
		return []string{name}, nil
	}
	o.queue = append(o.queue, vonageFrame{mark: name})
	return nil, nil
}

// flushPartial pads the audio short of a frame with silence (it precedes a
// mark: the mark must wait for it).
func (o *providerOut) flushPartial() {
	if len(o.pend) == 0 {
		return
	}
	f := make([]byte, vonageFrameBytes)
	copy(f, o.pend)
	o.queue = append(o.queue, vonageFrame{l16: f})
	o.pend = o.pend[:0]
}

// clear drops what is queued; Vonage's marks in the queue are returned
// (Twilio and Telnyx send theirs back themselves).
func (o *providerOut) clear() ([]string, error) {
	switch o.prov {
	case provider.NameTwilio:
		return nil, o.writeJSON(map[string]any{"event": "clear", "streamSid": o.streamID})
	case provider.NameTelnyx:
		return nil, o.writeJSON(map[string]any{"event": "clear"})
	}
	var marks []string
	for _, f := range o.queue {
		if f.mark != "" {
			marks = append(marks, f.mark)
		}
	}
	o.queue = o.queue[:0]
	o.pend = o.pend[:0]
	o.up.Reset()
	return marks, nil
}

// tick sends Vonage the frames due now (one per 20 ms since the audio
// started, so a late tick is caught up, at most vonageCatchUp at once) and
// returns the marks reached.
func (o *providerOut) tick() []string {
	now := time.Now()
	var marks []string
	takeMarks := func() {
		for len(o.queue) > 0 && o.queue[0].mark != "" {
			marks = append(marks, o.queue[0].mark)
			o.queue = o.queue[1:]
		}
	}
	takeMarks()
	if len(o.queue) == 0 {
		o.paceStart, o.sentPaced = time.Time{}, 0 // nothing to say: no debt
		return marks
	}
	if o.paceStart.IsZero() {
		o.paceStart, o.sentPaced = now, 0
	}
	due := int(now.Sub(o.paceStart)/vonageFrameTime) + 1 - o.sentPaced
	if due > vonageCatchUp {
		// Far behind (a stalled loop): catch up a little, forgive the rest.
		o.paceStart = now.Add(-time.Duration(o.sentPaced+vonageCatchUp-1) * vonageFrameTime)
		due = vonageCatchUp
	}
	for ; due > 0 && len(o.queue) > 0; due-- {
		f := o.queue[0]
		o.queue = o.queue[1:]
		o.sentPaced++
		_ = o.conn.SetWriteDeadline(now.Add(2 * time.Second))
		_ = o.conn.WriteMessage(websocket.BinaryMessage, f.l16)
		takeMarks()
	}
	return marks
}

const (
	vonageFrameTime = 20 * time.Millisecond
	vonageCatchUp   = 5
)
