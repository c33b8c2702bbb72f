package sip

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/audio"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip/pipe"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
)

// startPipe starts the call's one gapless playback (call/sip/pipe) when a
// playback directory is configured; otherwise, or when the channel's codec
// cannot go through a pipe, the assistant's audio is played as files.
func (s *callSession) startPipe() {
	if s.c.opts.PlaybackDir == "" {
		return
	}
	codec, err := s.api("uuid_getvar " + s.uuid + " read_codec")
	codec = strings.TrimSpace(codec)
	if err != nil {
		s.log.Warn("read_codec unknown: playing the assistant as files", "err", err, "reply", codec)
		return
	}
	p, err := pipe.New(s.c.opts.PlaybackDir, s.id, codec, s.log, s.wakePipe)
	if err != nil {
		s.log.Warn("playback pipe unavailable: playing the assistant as files", "err", err)
		s.event(call.EventPlaybackFiles, db.JSONMap{"reason": err.Error()})
		return
	}
	s.pipe = p
	s.broadcastPipe()
}

// broadcastPipe has FreeSWITCH play the pipe to the caller.
func (s *callSession) broadcastPipe() {
	if err := s.playFile(s.pipe.Path()); err != nil {
		s.log.Warn("playback of the playback pipe failed", "err", err)
	}
}

// playFile queues a playback of path on the channel, as uuid_broadcast
// <uuid> <path> aleg does (the same private "execute playback" command,
// run after the ones queued before it, stopped by uuid_break) but without
// its 5 lead frames: uuid_broadcast reads 100 ms of the caller's audio
// before the file starts, which the caller hears as silence before the
// assistant's first audio and between files.
func (s *callSession) playFile(path string) error { return s.playOn(s.mediaUUID(), path) }

// playOn is playFile on a channel of the call's choosing.
func (s *callSession) playOn(uuid, path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.c.sw.SendMsg(ctx, uuid, esl.SendMsg{Command: "execute", App: "playback", Arg: path, EventLock: true})
}

func (s *callSession) wakePipe() {
	select {
	case s.pipeWake <- struct{}{}:
	default:
	}
}

// closePipe ends the pipe's playback (FreeSWITCH reads EOF).
func (s *callSession) closePipe() {
	if s.pipe != nil {
		s.pipe.Close()
	}
}

func (s *callSession) startRecording() {
	if s.c.opts.RecordingsDir == "" {
		s.log.Warn("recording skipped: no recordings directory configured")
		return
	}
	path := strings.TrimRight(s.c.opts.RecordingsDir, "/") + "/" + s.id + ".wav"
	if _, err := s.api("uuid_setvar " + s.uuid + " RECORD_STEREO true"); err != nil {
		s.log.Warn("recording: RECORD_STEREO not set", "err", err)
	}
	if out, err := s.api("uuid_record " + s.uuid + " start " + path); err != nil {
		s.log.Warn("recording not started", "err", err, "reply", out)
		s.event(call.EventRecordingFailed, db.JSONMap{"error": strings.TrimSpace(out)})
		return
	}
	s.recordPath = path
	s.update(map[string]any{"recording_path": path})
	s.event(call.EventRecordingStarted, nil)
}

// startStream asks mod_audio_stream for the caller's audio (mono 16k: a
// recorded stereo stream sends nothing while nothing plays) with a fresh
// per-stream token.
func (s *callSession) startStream() {
	token, gen := s.newStreamToken()
	rate := audio.PlaybackSampleRate
	if s.info.AudioFormat == assistant.AudioL16k16 {
		rate = audio.PlaybackWidebandRate // .r16 files of the assistant's own 16 kHz
	}
	s.play = audio.NewPlayback(audio.WithPlaybackClock(s.c.opts.Now), audio.WithPlaybackRate(rate))
	s.pending = nil
	s.streamMoved(call.InProgress, call.Connecting) // a restart
	// The URL host may hold letters, digits, '-' and '.' only, and a query
	// needs a path (DESIGN.md); the metadata is sent as the first text frame
	// and must hold no space (the api splits its arguments on spaces).
	u := fmt.Sprintf("%s/fs/stream/%s/?token=%s", s.c.opts.StreamWSBase, s.id, token)
	meta := `{"call_id":"` + s.id + `","gen":` + strconv.Itoa(gen) + `}`
	for _, v := range []string{"STREAM_MESSAGE_DEFLATE false", "STREAM_HEART_BEAT " + strconv.Itoa(s.c.opts.HeartBeat)} {
		if out, err := s.api("uuid_setvar " + s.mediaUUID() + " " + v); err != nil {
			s.log.Warn("uuid_setvar failed", "var", v, "err", err, "reply", out)
		}
	}
	out, err := s.api("uuid_audio_stream " + s.mediaUUID() + " start " + u + " mono 16k " + meta)
	if err != nil {
		s.log.Warn("uuid_audio_stream start failed", "err", err, "reply", out)
		s.streamFault("uuid_audio_stream start: " + strings.TrimSpace(out))
		return
	}
	s.streamUntil = s.c.opts.Now().Add(s.c.opts.StreamConnectTimeout)
	s.event(call.EventStreamRequested, db.JSONMap{"generation": gen})
}

// sendChunks sends playback chunks to mod_audio_stream (or keeps them until
// it connects) and echoes the marks that are due.
func (s *callSession) sendChunks(out audio.PlaybackOutput) {
	if len(out.Chunks) > 0 {
		if s.fs == nil {
			s.pending = append(s.pending, out.Chunks...)
		} else {
			s.writeChunks(out.Chunks)
		}
	}
	s.sendMarks(out.Marks)
}

func (s *callSession) writeChunks(chunks []audio.Chunk) {
	for _, ch := range chunks {
		_ = s.fs.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if err := s.fs.WriteMessage(textMessage, ch.Message); err != nil {
			s.log.Warn("streamAudio not sent", "err", err)
			return
		}
	}
}

func (s *callSession) sendMarks(marks []string) {
	for _, m := range marks {
		if s.stream == nil {
			return
		}
		if err := s.stream.SendMark(m); err != nil {
			s.log.Debug("mark not sent", "err", err)
		}
	}
}

// pipeStopped: the pipe's playback ended while the pipe is open (a
// uuid_break from outside, a media renegotiation): play it again, a few
// times at most.
func (s *callSession) pipeStopped() {
	if s.ending() || s.transferred() || s.pipe.Closed() {
		return
	}
	if s.pipeRestarts >= 3 {
		s.log.Warn("playback pipe stopped again: the assistant is no longer heard")
		return
	}
	s.pipeRestarts++
	s.log.Warn("playback pipe stopped: playing it again", "restarts", s.pipeRestarts)
	s.broadcastPipe()
}

// playbackLeft estimates how long the audio already sent takes to play.
func (s *callSession) playbackLeft() time.Duration {
	switch {
	case s.pipe != nil:
		return s.pipe.Left()
	case s.play != nil:
		return s.play.Buffered() + time.Duration(s.play.Outstanding())*audio.PlaybackChunk
	}
	return 0
}
