package audio

import (
	"sync"
	"time"
)

// Playback turns the assistant's audio (μ-law payloads of its `media`
// messages) into mod_audio_stream `streamAudio` messages, and its `mark`
// messages into "played" notices at the right moment.
//
// Every streamAudio message becomes one file that FreeSWITCH plays with
// uuid_broadcast, so the size of the chunks trades reply latency against
// per-file overhead:
//
//   - when nothing is playing, the first chunk goes out as soon as
//     PlaybackFirstChunk (160 ms) of audio is there, so the caller hears the
//     reply quickly;
//   - while chunks are playing, audio is gathered into PlaybackChunk
//     (800 ms) chunks;
//   - whatever is left goes out when the assistant has sent nothing for
//     PlaybackIdleFlush (80 ms) (end of a reply), or when a mark arrives
//     (a mark ends a segment), or when the audio already sent is estimated
//     to run out within PlaybackLowWater (120 ms; below the first chunk, so
//     the first chunk alone does not trigger it) and at least
//     PlaybackMinRefill (100 ms) is waiting (slow, real-time-paced
//     assistants), or at once when it is estimated to have run out.
//
// Marks are queued in order behind the audio sent before them and reported
// once every chunk before them has finished playing. The bridge reports
// finished files with Played (from PLAYBACK_STOP's file path) or ChunkDone;
// mod_audio_stream names the file of the n-th streamAudio message of a
// stream <uuid>_<n>.tmp.r8, which is Chunk.Index, so one Playback must serve
// exactly one mod_audio_stream connection.
//
// Playback does no I/O and starts no goroutine: each method returns what to
// send (PlaybackOutput), and NextFlush says when to call Tick. Time comes
// from the clock given to NewPlayback. It is safe for concurrent use.
type Playback struct {
	mu  sync.Mutex
	cfg playbackConfig

	pending   []int16   // decoded audio not yet sent, at cfg.rate
	odd       *byte     // WriteL16: the first byte of a sample split between payloads
	lastWrite time.Time // when the assistant last sent audio
	next      int       // Index of the next chunk
	done      int       // chunks [0, done) have played or were dropped
	cleared   int       // chunks [0, cleared) were dropped by Clear
	playEnd   time.Time // estimated end of the audio already sent
	marks     []queuedMark
}

type queuedMark struct {
	name  string
	after int // reported once done >= after
}

// Playback chunking defaults (see Playback).
const (
	PlaybackFirstChunk = 160 * time.Millisecond
	PlaybackChunk      = 800 * time.Millisecond
	PlaybackIdleFlush  = 80 * time.Millisecond
	PlaybackLowWater   = 120 * time.Millisecond
	PlaybackMinRefill  = 100 * time.Millisecond
)

// Chunk is one streamAudio message for mod_audio_stream.
type Chunk struct {
	// Index is the chunk's position in the stream, from 0: mod_audio_stream
	// writes it to <temp_dir>/<uuid>_<Index>.tmp.r8.
	Index int
	// Samples is the number of samples (at the playback's rate); Duration
	// their play time.
	Samples  int
	Duration time.Duration
	// Message is the streamAudio JSON, to send as one websocket text message.
	Message []byte
}

// PlaybackOutput is what a Playback call asks the bridge to do, in order:
// send Chunks to mod_audio_stream, echo Marks to the assistant (SendMark).
type PlaybackOutput struct {
	Chunks []Chunk
	Marks  []string
}

// PlaybackOption configures NewPlayback.
type PlaybackOption func(*playbackConfig)

type playbackConfig struct {
	now            func() time.Time
	rate           int // samples per second of pending and of the chunks
	first, later   int // samples
	idle, lowWater time.Duration
	minRefill      int // samples

	firstD, laterD, minRefillD time.Duration // set by the options, in samples once rate is known
}

// WithPlaybackClock sets the clock (default time.Now).
func WithPlaybackClock(now func() time.Time) PlaybackOption {
	return func(c *playbackConfig) {
		if now != nil {
			c.now = now
		}
	}
}

// WithChunkSizes overrides PlaybackFirstChunk and PlaybackChunk (each at
// least 20 ms; later is raised to first if smaller).
func WithChunkSizes(first, later time.Duration) PlaybackOption {
	return func(c *playbackConfig) {
		c.firstD = max(first, 20*time.Millisecond)
		c.laterD = max(later, c.firstD)
	}
}

// WithPlaybackRate sets the rate of the audio written and of the chunks
// sent: PlaybackSampleRate (8000, the default) or PlaybackWidebandRate
// (16000: mod_audio_stream writes .r16 files, an l16_16k assistant's audio
// as it sent it). Other rates are ignored.
func WithPlaybackRate(rate int) PlaybackOption {
	return func(c *playbackConfig) {
		if rate == PlaybackSampleRate || rate == PlaybackWidebandRate {
			c.rate = rate
		}
	}
}

// WithIdleFlush overrides PlaybackIdleFlush.
func WithIdleFlush(d time.Duration) PlaybackOption {
	return func(c *playbackConfig) {
		if d > 0 {
			c.idle = d
		}
	}
}

// NewPlayback returns an empty Playback.
func NewPlayback(opts ...PlaybackOption) *Playback {
	cfg := playbackConfig{
		now:        time.Now,
		rate:       PlaybackSampleRate,
		firstD:     PlaybackFirstChunk,
		laterD:     PlaybackChunk,
		idle:       PlaybackIdleFlush,
		lowWater:   PlaybackLowWater,
		minRefillD: PlaybackMinRefill,
	}
	for _, o := range opts {
		o(&cfg)
	}
	cfg.first, cfg.later, cfg.minRefill = cfg.samples(cfg.firstD), cfg.samples(cfg.laterD), cfg.samples(cfg.minRefillD)
	return &Playback{cfg: cfg}
}

func (c *playbackConfig) samples(d time.Duration) int {
	return int(d * time.Duration(c.rate) / time.Second)
}

func (c *playbackConfig) duration(n int) time.Duration {
	return time.Duration(n) * time.Second / time.Duration(c.rate)
}

// Write queues the μ-law payload of one assistant media message and returns
// the chunks that are now due.
func (p *Playback) Write(ulaw []byte) PlaybackOutput {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out PlaybackOutput
	if len(ulaw) == 0 {
		return out
	}
	now := p.cfg.now()
	p.pending = AppendMulawDecode(p.pending, ulaw)
	p.lastWrite = now
	p.pumpLocked(now, &out)
	return out
}

// WriteL16 queues L16 little-endian audio at the playback's rate (an
// l16_16k assistant's media payload) and returns the chunks now due. A
// payload that ends inside a sample keeps its last byte for the next.
func (p *Playback) WriteL16(le []byte) PlaybackOutput {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out PlaybackOutput
	if p.odd != nil {
		if len(le) == 0 {
			return out
		}
		p.pending = append(p.pending, int16(uint16(*p.odd)|uint16(le[0])<<8))
		p.odd, le = nil, le[1:]
	}
	if len(le)%2 == 1 {
		b := le[len(le)-1]
		p.odd, le = &b, le[:len(le)-1]
	}
	now := p.cfg.now()
	p.pending = AppendL16Samples(p.pending, le)
	p.lastWrite = now
	p.pumpLocked(now, &out)
	return out
}

// Mark queues the assistant's mark behind the audio received so far (which
// is sent at once). If nothing is waiting to play, the mark is reported
// played immediately.
func (p *Playback) Mark(name string) PlaybackOutput {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out PlaybackOutput
	now := p.cfg.now()
	p.flushLocked(now, &out)
	p.marks = append(p.marks, queuedMark{name: name, after: p.next})
	p.releaseLocked(&out)
	return out
}

// Tick sends audio whose flush time (NextFlush) has come.
func (p *Playback) Tick() PlaybackOutput {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out PlaybackOutput
	p.pumpLocked(p.cfg.now(), &out)
	return out
}

// Flush sends everything queued now, whatever its size.
func (p *Playback) Flush() PlaybackOutput {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out PlaybackOutput
	p.flushLocked(p.cfg.now(), &out)
	return out
}

// NextFlush returns when Tick should next be called, if audio is waiting.
func (p *Playback) NextFlush() (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pending) == 0 {
		return time.Time{}, false
	}
	t := p.lastWrite.Add(p.cfg.idle)
	if p.next > p.done {
		refill := p.playEnd
		if len(p.pending) >= p.cfg.minRefill {
			refill = p.playEnd.Add(-p.cfg.lowWater)
		}
		if refill.Before(t) {
			t = refill
		}
	}
	return t, true
}

// ChunkDone reports that the oldest unfinished chunk has finished playing,
// and returns the marks this releases (and audio that is now due).
func (p *Playback) ChunkDone() PlaybackOutput {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out PlaybackOutput
	if p.done < p.next {
		p.done++
	}
	p.afterDoneLocked(&out)
	return out
}

// Played reports that the file of a mod_audio_stream::play event (the path
// of PLAYBACK_STOP) has finished playing: that chunk and all before it are
// done. Files of dropped (Stale) or unknown chunks change nothing; a name
// without the _<n>.tmp index counts as ChunkDone.
func (p *Playback) Played(file string) PlaybackOutput {
	idx, ok := PlayFileIndex(file)
	if !ok {
		return p.ChunkDone()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var out PlaybackOutput
	if idx >= p.next || idx < p.done {
		return out
	}
	p.done = idx + 1
	p.afterDoneLocked(&out)
	return out
}

func (p *Playback) afterDoneLocked(out *PlaybackOutput) {
	now := p.cfg.now()
	if p.done == p.next && p.playEnd.After(now) {
		p.playEnd = now // played faster than estimated: nothing queued now
	}
	p.pumpLocked(now, out)
	p.releaseLocked(out)
}

// Stale reports whether a mod_audio_stream file belongs to a chunk that a
// Clear dropped: its ::play event must not lead to uuid_broadcast.
func (p *Playback) Stale(file string) bool {
	idx, ok := PlayFileIndex(file)
	if !ok {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return idx < p.cleared
}

// Clear drops all queued audio and every chunk sent but not yet played
// (barge-in: the bridge also stops FreeSWITCH's playback with uuid_break).
// Like Twilio on `clear`, the pending marks are returned, in order, to be
// echoed to the assistant. The next audio starts a new first chunk.
func (p *Playback) Clear() PlaybackOutput {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out PlaybackOutput
	for _, m := range p.marks {
		out.Marks = append(out.Marks, m.name)
	}
	p.marks = p.marks[:0]
	p.pending = p.pending[:0]
	p.odd = nil
	p.done = p.next
	p.cleared = p.next
	p.playEnd = p.cfg.now()
	return out
}

// Buffered returns how much audio is queued but not yet sent.
func (p *Playback) Buffered() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cfg.duration(len(p.pending))
}

// Outstanding returns how many chunks were sent and have not finished.
func (p *Playback) Outstanding() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.next - p.done
}

// pumpLocked sends full chunks, then the remainder if its flush time has
// come.
func (p *Playback) pumpLocked(now time.Time, out *PlaybackOutput) {
	for {
		size := p.cfg.later
		if p.next == p.done {
			size = p.cfg.first
		}
		if len(p.pending) < size {
			break
		}
		p.emitLocked(size, now, out)
	}
	if len(p.pending) > 0 && p.dueLocked(now) {
		p.flushLocked(now, out)
	}
}

// dueLocked reports whether the audio waiting must go out now.
func (p *Playback) dueLocked(now time.Time) bool {
	if !now.Before(p.lastWrite.Add(p.cfg.idle)) {
		return true
	}
	if p.next == p.done {
		return false // nothing playing: wait for a full first chunk or idle
	}
	if !now.Before(p.playEnd) {
		return true
	}
	return len(p.pending) >= p.cfg.minRefill && !now.Before(p.playEnd.Add(-p.cfg.lowWater))
}

// flushLocked sends all waiting audio in chunks of at most the later size.
func (p *Playback) flushLocked(now time.Time, out *PlaybackOutput) {
	for len(p.pending) > 0 {
		p.emitLocked(min(len(p.pending), p.cfg.later), now, out)
	}
}

func (p *Playback) emitLocked(n int, now time.Time, out *PlaybackOutput) {
	dur := p.cfg.duration(n)
	msg := AppendStreamAudio(make([]byte, 0, 96+(2*n+2)/3*4), p.pending[:n], p.cfg.rate)
	out.Chunks = append(out.Chunks, Chunk{Index: p.next, Samples: n, Duration: dur, Message: msg})
	p.next++
	if p.playEnd.Before(now) {
		p.playEnd = now
	}
	p.playEnd = p.playEnd.Add(dur)
	p.pending = p.pending[:copy(p.pending, p.pending[n:])]
}

// releaseLocked reports the marks whose audio has all played.
func (p *Playback) releaseLocked(out *PlaybackOutput) {
	i := 0
	for i < len(p.marks) && p.marks[i].after <= p.done {
		out.Marks = append(out.Marks, p.marks[i].name)
		i++
	}
	p.marks = p.marks[:copy(p.marks, p.marks[i:])]
}
