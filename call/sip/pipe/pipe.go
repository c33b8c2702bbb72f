// Package pipe plays an assistant's audio to a FreeSWITCH channel through
// a named pipe, without the gaps between files (see below).
package pipe

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sipbridge/sipbridge/audio"
)

// Gapless playback through a named pipe.
//
// FreeSWITCH leaves 100–180 ms of silence between two uuid_broadcast files:
// switch_ivr_broadcast asks for 5 lead frames, read (and not played) before
// each playback starts, and every playback start and end runs an audio sync
// that flushes the caller's RTP (~60 ms of the caller's voice lost per
// file). So an assistant's reply cut into files stutters, and so does what
// the assistant hears. Instead, each call gets one named pipe whose name
// ends in .PCMU: mod_native_file opens it as raw 8 kHz μ-law, and one
// uuid_broadcast at the start of the call plays it until sipbridge closes
// it (.PCMA with A-law for a PCMA call: mod_native_file hands the bytes to
// the channel as they are). sipbridge writes the assistant's audio into it
// paced by the clock: the channel plays 8 bytes a millisecond, so sipbridge
// keeps its writes pipeLead ahead of where the channel plays (estimated
// from the clock, never past what the channel has taken from the pipe,
// FIONREAD): a `clear` is heard within about that, and marks are echoed
// when the channel has taken the audio before them. When the assistant is
// silent, silence keeps pipeIdle ahead: the channel's read of an empty pipe
// would block its media thread (caller audio, uuid_break and hangup
// included) until the next write.
//
// The pipe must be on a filesystem FreeSWITCH reads at the same path
// (PLAYBACK_DIR): sipbridge and FreeSWITCH on one host (or one pod).
const (
	pipeTick  = 10 * time.Millisecond
	pipeFrame = 20 * time.Millisecond
	// pipeLead is how far ahead of the channel's play position the
	// assistant's audio is written: the margin for an assistant that sends
	// in real time with jitter, and about the delay of a clear.
	pipeLead = 80 * time.Millisecond
	// pipeIdle is how far ahead silence is written while the assistant is
	// quiet: the writer may be held up that long minus a frame before the
	// channel's read finds the pipe empty (a loaded machine delays a
	// goroutine's tick by tens of milliseconds). A new reply takes that
	// silence back out of the pipe (drainLocked), so it costs no latency.
	pipeIdle = 60 * time.Millisecond
	// pipeGuard is the least kept ahead while a reply is under way: silence
	// is added mid-reply only when the assistant's next audio is that late.
	pipeGuard = 40 * time.Millisecond
	// pipeSpeaking is how long after its last audio the assistant counts
	// as still speaking (a real-time sender's next frame is due).
	pipeSpeaking = 200 * time.Millisecond
	ulawRate     = 8000 // bytes per second of 8 kHz μ-law or A-law
	// pipeMaxQueue bounds what an assistant may send ahead of real time.
	pipeMaxQueue = 10 * time.Minute
)

func pipeBytes(d time.Duration) int { return int(d * ulawRate / time.Second) }

var (
	// errPipeUnsupported is returned where named pipes are not available.
	errPipeUnsupported = errors.New("named-pipe playback is not supported on this system")
	// errPipeCodec: the channel's codec is not one a pipe can carry.
	errPipeCodec = errors.New("named-pipe playback needs PCMU or PCMA")
)

type pipeMark struct {
	name string
	at   int64 // echoed once the caller has heard the pipe up to here
}

// Player owns one call's playback pipe and its writer goroutine.
type Player struct {
	path    string
	alaw    bool   // the channel's codec is PCMA
	silence []byte // pipeLead of the codec's silence
	scratch [4096]byte
	fd      pipeFD
	file    os.FileInfo // what path names while it is this player's (ours)
	log     *slog.Logger
	wake    func() // tells the session that marks are due or the audio ran out

	mu       sync.Mutex
	queue    []byte    // assistant μ-law not yet in the pipe
	head     int       // queue[head:] is still to write
	written  int64     // bytes written into the pipe so far
	audioEnd int64     // pipe position after the last byte of assistant audio
	lastOut  int64     // pipe position after the last audio byte written into it
	lastIn   time.Time // when the assistant last sent audio
	// holdUntil: a new reply's audio waits until pipeLead of it is queued
	// or until then, so a real-time sender gets pipeLead of margin.
	holdUntil time.Time
	marks     []pipeMark
	due       []string
	heard     int64     // pipe position the caller has heard up to (last tick)
	t0        time.Time // the channel is estimated to play position (now-t0)·8/ms

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// pipeCodec tells whether a channel codec (Channel-Read-Codec-Name) can
// be fed through a pipe, and the pipe's extension.
func pipeCodec(codec string) (ext string, ok bool) {
	switch strings.ToUpper(codec) {
	case "PCMU":
		return "PCMU", true
	case "PCMA":
		return "PCMA", true
	}
	return "", false
}

// Names are the names a call's pipe may have (New: <callID>.PCMU or
// <callID>.PCMA).
func Names(callID string) []string {
	return []string{callID + ".PCMU", callID + ".PCMA"}
}

// New makes the pipe <dir>/<callID>.<PCMU|PCMA>, opens it and
// starts feeding it silence. Remove deletes it.
func New(dir, callID, codec string, log *slog.Logger, wake func()) (*Player, error) {
	ext, ok := pipeCodec(codec)
	if !ok {
		return nil, fmt.Errorf("%w: codec %q", errPipeCodec, codec)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("playback dir: %w", err)
	}
	path := filepath.Join(dir, callID+"."+ext) // one of Names
	fd, err := openPipe(path)
	if err != nil {
		return nil, err
	}
	sil := byte(audio.MulawSilence)
	if ext == "PCMA" {
		sil = audio.AlawSilence
	}
	file, _ := os.Lstat(path)
	p := &Player{path: path, fd: fd, file: file, log: log, wake: wake, alaw: ext == "PCMA",
		silence: bytes.Repeat([]byte{sil}, pipeBytes(pipeLead)), t0: time.Now(),
		stop: make(chan struct{}), done: make(chan struct{})}
	p.mu.Lock()
	p.fillLocked()
	p.mu.Unlock()
	go p.run()
	return p, nil
}

// Path is the pipe's file, which FreeSWITCH plays (uuid_broadcast).
func (p *Player) Path() string { return p.path }

func (p *Player) run() {
	defer close(p.done)
	t := time.NewTicker(pipeTick)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			notify := p.fillLocked()
			p.mu.Unlock()
			if notify {
				p.wake()
			}
		}
	}
}

// fillLocked moves what is heard forward, makes due the marks behind it and
// tops the pipe up; true when the session should look (marks due, or the
// assistant's audio has just been heard to its end).
func (p *Player) fillLocked() bool {
	inPipe, err := p.fd.buffered()
	if err != nil {
		return false
	}
	now := time.Now()
	// Where the channel plays now, by the clock; it cannot be past what it
	// took from the pipe (it opened the pipe late, or was held up): then
	// the clock follows the channel. The frame being played counts as not
	// yet heard.
	taken := p.written - int64(inPipe)
	playing := int64(now.Sub(p.t0)) * ulawRate / int64(time.Second)
	if playing > taken {
		playing = taken
		p.t0 = now.Add(-time.Duration(taken * int64(time.Second) / ulawRate))
	}
	wasPlaying := p.heard < p.audioEnd
	p.heard = max(p.heard, playing-int64(pipeBytes(pipeFrame)))
	notify := wasPlaying && p.heard >= p.audioEnd
	n := 0
	for _, m := range p.marks {
		if m.at > p.heard {
			break
		}
		p.due = append(p.due, m.name)
		n++
	}
	if n > 0 {
		p.marks = p.marks[n:]
		notify = true
	}
	pending := len(p.queue) - p.head
	if pending > 0 && !p.holdUntil.IsZero() {
		if pending < pipeBytes(pipeLead) && now.Before(p.holdUntil) {
			pending = 0 // hold the reply's first audio a little
		} else {
			p.holdUntil = time.Time{}
		}
	}
	if pending > 0 {
		if room := playing + int64(pipeBytes(pipeLead)) - p.written; room > 0 {
			w := int(min(room, int64(pending)))
			p.head += p.writeLocked(p.queue[p.head : p.head+w])
			p.lastOut = p.written
			if p.head == len(p.queue) {
				p.queue, p.head = p.queue[:0], 0
			}
		}
	}
	ahead := pipeIdle
	if now.Sub(p.lastIn) < pipeSpeaking {
		ahead = pipeGuard
	}
	if short := playing + int64(pipeBytes(ahead)) - p.written; short > 0 && pending == 0 {
		// Nothing to say now: keep the channel's next read from blocking.
		p.writeLocked(p.silence[:min(int(short), len(p.silence))])
	}
	return notify
}

func (p *Player) writeLocked(b []byte) int {
	n, err := p.fd.write(b)
	if n > 0 {
		p.written += int64(n)
	}
	if err != nil && !errors.Is(err, errPipeFull) {
		p.log.Debug("playback pipe write", "err", err)
	}
	return n
}

// Write queues the assistant's μ-law; it reaches the pipe on the next
// ticks, in real time.
func (p *Player) Write(ulaw []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue)-p.head+len(ulaw) > pipeBytes(pipeMaxQueue) {
		p.log.Warn("assistant audio dropped: more than the playback queue holds", "bytes", len(ulaw))
		return
	}
	now := time.Now()
	if p.head == len(p.queue) && now.Sub(p.lastIn) >= pipeSpeaking {
		// A new reply: take back the silence still in the pipe, so the
		// reply is heard after what the channel already holds only.
		p.drainLocked(false)
		p.holdUntil = now.Add(pipeLead)
	}
	p.lastIn = now
	n := len(p.queue)
	p.queue = append(p.queue, ulaw...)
	if p.alaw {
		audio.MulawToAlaw(p.queue[n:])
	}
	p.audioEnd = p.written + int64(len(p.queue)-p.head)
	// Write at once what fits: the first audio of a reply goes out now,
	// not at the next tick.
	p.fillLocked()
}

// Mark queues a mark behind the audio written before it.
func (p *Player) Mark(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	at := p.written + int64(len(p.queue)-p.head)
	if p.head == len(p.queue) && p.heard >= p.audioEnd {
		p.due = append(p.due, name)
		p.wake()
		return
	}
	p.marks = append(p.marks, pipeMark{name: name, at: at})
}

// Clear drops the audio not yet in the pipe (at most pipeLead is left to
// play) and returns every pending mark, to echo at once.
func (p *Player) Clear() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queue, p.head = p.queue[:0], 0
	p.drainLocked(true) // what is still in the pipe is never heard either
	p.audioEnd = min(p.audioEnd, p.written)
	out := append(p.due, markNames(p.marks)...)
	p.due, p.marks = nil, nil
	p.fillLocked()
	return out
}

// drainLocked reads back what is still in the pipe (sipbridge holds it
// open for reading too): all of it, or, unless audio is true, only when
// it is silence (the channel has taken every audio byte written).
func (p *Player) drainLocked(audio bool) {
	inPipe, err := p.fd.buffered()
	if err != nil || inPipe == 0 || (!audio && p.written-int64(inPipe) < p.lastOut) {
		return
	}
	n := p.fd.drain(p.scratch[:])
	p.written -= int64(n)
	p.lastOut = min(p.lastOut, p.written)
}

func markNames(ms []pipeMark) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.name)
	}
	return out
}

// Due returns the marks whose audio the caller has heard.
func (p *Player) Due() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.due
	p.due = nil
	return d
}

// Idle reports whether the caller has heard all the assistant's audio.
func (p *Player) Idle() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.head == len(p.queue) && p.heard >= p.audioEnd
}

// Close stops the writer and closes the pipe (FreeSWITCH's playback reads
// EOF and ends).
//
// The path then holds an empty file: a playback of the pipe FreeSWITCH
// was still about to start (uuid_broadcast reads 5 lead frames before it
// opens the file, and uuid_break does not stop that) plays nothing instead
// of failing to open it, or of blocking on a pipe nobody writes. Remove
// deletes it once the channel is gone.
func (p *Player) Close() {
	p.stopOnce.Do(func() {
		close(p.stop)
		<-p.done
		p.mu.Lock()
		_ = p.fd.close()
		p.mu.Unlock()
		if !p.ours() {
			return
		}
		tmp := p.path + ".end"
		if err := os.WriteFile(tmp, nil, 0o644); err == nil {
			if err := os.Rename(tmp, p.path); err != nil {
				_ = os.Remove(tmp)
				_ = os.Remove(p.path)
			}
		} else {
			_ = os.Remove(p.path)
		}
		p.file, _ = os.Lstat(p.path)
	})
}

// Remove closes the player and deletes its path.
func (p *Player) Remove() {
	p.Close()
	if p.ours() {
		_ = os.Remove(p.path)
	}
}

// ours tells whether the path still names this player's pipe, or the empty
// file Close left there: with a PLAYBACK_DIR shared by replicas, the one
// that adopted the call (this one frozen past its lease meanwhile) has made
// its own pipe at the same path, which FreeSWITCH may play again.
// The same inode is not enough once Close has left the empty file: a file
// system reuses a freed inode's number at once, so the next holder's new
// pipe may have the empty file's; the type tells them apart. (While the
// player's own pipe is open, its inode cannot be reused; its time would
// not do, as every write moves it.)
func (p *Player) ours() bool {
	fi, err := os.Lstat(p.path)
	return err == nil && p.file != nil && os.SameFile(fi, p.file) && fi.Mode().Type() == p.file.Mode().Type()
}

func (p *Player) Closed() bool {
	select {
	case <-p.stop:
		return true
	default:
		return false
	}
}

// Left estimates how long until the caller has heard all the audio sent.
func (p *Player) Left() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.heard >= p.audioEnd {
		return 0
	}
	return time.Duration(p.audioEnd-p.heard) * time.Second / ulawRate
}
