// Package forward carries a call's caller audio from the mod_audio_stream
// reader to the assistant's websocket on a goroutine of its own, with a
// bounded queue: a slow writer is waited for, a stuck one loses frames,
// counted, and never holds the reader up for long.
package forward

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// Queue is how many caller frames may wait for the assistant (500 ms).
// A full queue is not by itself an assistant that stopped reading: after
// the process was descheduled the reader takes the backlog of
// mod_audio_stream's socket in one burst, faster than the writer is
// scheduled. Push then waits for the writer, unless its write has been
// blocked for StuckWrite (an assistant that stopped reading, once the
// connection's bounded send buffer is full, until the write deadline breaks
// the stream): then later frames are dropped and counted. Nothing queues
// without bound, and the mod_audio_stream reader is held up at most about
// StuckWrite by a stuck assistant.
const (
	Queue      = 25
	StuckWrite = 100 * time.Millisecond
)

// Frame is one caller frame on its way to the assistant.
type Frame struct {
	Audio   []byte    // μ-law 8 kHz, or L16 16 kHz for an l16_16k assistant
	Arrived time.Time // when it came off the mod_audio_stream websocket
}

// Forwarder writes the caller's frames to the call's assistant on a
// goroutine of its own, ended by Close.
type Forwarder struct {
	log     *slog.Logger
	send    func(m *Frame) // run's: the write to the assistant
	queue   chan *Frame
	free    chan *Frame // Queue frames, reused: no allocation per frame
	done    chan struct{}
	writing atomic.Int64 // unix ns the write in progress began, 0 between writes
	wait    *time.Timer  // Push's, reused
	dropped int          // Push's, then Close's
}

// New starts a forwarder whose goroutine hands each frame pushed to send,
// in order.
func New(send func(m *Frame), log *slog.Logger) *Forwarder {
	f := &Forwarder{log: log}
	f.send, f.queue, f.free = send, make(chan *Frame, Queue), make(chan *Frame, Queue)
	f.done, f.wait = make(chan struct{}), time.NewTimer(time.Hour)
	f.wait.Stop()
	for range Queue {
		f.free <- &Frame{Audio: make([]byte, 0, 640)}
	}
	go f.run()
	return f
}

// Push queues a frame (copied); when Queue frames wait, it waits for
// the writer while the writer is not stuck, else drops the frame.
func (f *Forwarder) Push(audio []byte, arrived time.Time) {
	var m *Frame
	select {
	case m = <-f.free:
	default:
		if m = f.awaitFree(); m == nil {
			if f.dropped == 0 {
				f.log.Warn("the assistant is not taking the caller's audio: dropping frames", "queued_ms", Queue*20)
			}
			f.dropped++
			return
		}
	}
	m.Audio, m.Arrived = append(m.Audio[:0], audio...), arrived
	f.queue <- m
}

// awaitFree returns a free frame once the writer frees one, or nil as soon
// as the writer's write has lasted StuckWrite.
func (f *Forwarder) awaitFree() *Frame {
	defer f.wait.Stop()
	for {
		left := StuckWrite
		if began := f.writing.Load(); began != 0 {
			left -= time.Since(time.Unix(0, began))
		}
		if left <= 0 {
			return nil
		}
		f.wait.Reset(left)
		select {
		case m := <-f.free:
			return m
		case <-f.wait.C:
		}
	}
}

func (f *Forwarder) run() {
	defer close(f.done)
	for m := range f.queue {
		f.writing.Store(time.Now().UnixNano())
		f.send(m)
		f.writing.Store(0)
		f.free <- m
	}
}

// Close ends the forwarder once the frames queued are written (each
// write bounded by the stream's write deadline) and logs the drops.
func (f *Forwarder) Close() {
	close(f.queue)
	<-f.done
	if f.dropped > 0 {
		f.log.Warn("caller audio dropped: the assistant did not take it in time", "frames_dropped", f.dropped)
	}
}

// Dropped is how many frames were dropped (read it after Close).
func (f *Forwarder) Dropped() int { return f.dropped }
