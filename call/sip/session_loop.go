package sip

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/audio"
	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/call/sip/transfer"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
)

// loop runs until the channel's CHANNEL_HANGUP_COMPLETE (or Close).
func (s *callSession) loop() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	check := time.NewTicker(s.c.opts.ChannelCheck)
	defer check.Stop()
	for {
		var msgs <-chan assistant.AssistantMessage
		if s.stream != nil {
			msgs = s.stream.Messages()
		}
		s.armTimer(timer)
		select {
		case <-s.c.ctx.Done():
			if s.handOff() {
				return
			}
			s.cancelBridge() // a bridge leg still ringing
			s.warmStep(transfer.CallerGone, "")
			s.kill(causeNormal, "sipbridge stopped")
			s.finish(nil)
			return
		case <-s.events.Wake():
			for _, e := range s.events.Drain() {
				if s.handleEvent(e) {
					return
				}
			}
		case <-s.requests.Wake():
			if s.handleRequests(s.requests.Drain()) {
				return
			}
		case <-s.fsNotes.Wake():
			for _, n := range s.fsNotes.Drain() {
				s.handleFSNote(n)
			}
		case <-s.pipeWake:
			if s.pipe != nil {
				s.sendMarks(s.pipe.Due())
			}
			s.endIfPlayed()
		case m, ok := <-msgs:
			if !ok {
				s.assistantClosed()
				continue
			}
			call.HandleAssistantMessage(m, assistantSink{s})
		case <-timer.C:
			s.onTimer()
		case <-check.C:
			if s.checkChannel() {
				return
			}
		}
	}
}

// assistantClosed handles the end of the assistant's stream: during a
// transfer it is let go, a normal close ends the call once its audio is
// heard, anything else is a fault.
func (s *callSession) assistantClosed() {
	err := s.stream.Err()
	if s.transferPending() {
		// The assistant let go of a call being transferred: the
		// transfer's outcome decides (a failed one hangs up).
		s.event(call.EventAssistantEnded, db.JSONMap{"close": fmt.Sprint(err), "during": "transfer"})
		s.stream = nil
		s.asst.Store(nil)
		s.warmStep(transfer.AssistantGone, "")
		return
	}
	if assistant.IsNormalClose(err) && !s.ending() && !s.transferred() {
		// The assistant's way to end the call (Twilio: the
		// server closing a <Connect><Stream>): play what it
		// sent, then hang up.
		s.log.Info("assistant closed its stream: ending the call once its audio is heard", "err", err)
		s.event(call.EventAssistantEnded, db.JSONMap{"close": fmt.Sprint(err)})
		s.stream = nil
		s.asst.Store(nil)
		s.endWhenPlayed = true
		s.endBy = s.c.opts.Now().Add(s.playbackLeft() + 5*time.Second)
		s.endIfPlayed()
		return
	}
	s.log.Warn("assistant stream ended", "err", err)
	s.event(call.EventAssistantDisconnected, db.JSONMap{"error": fmt.Sprint(err)})
	s.stream = nil
	s.asst.Store(nil)
	if !s.ending() && !s.transferred() {
		s.fault("assistant disconnected")
	}
}

func (s *callSession) armTimer(t *time.Timer) {
	var next time.Time
	if s.play != nil {
		if at, ok := s.play.NextFlush(); ok {
			next = at
		}
	}
	if !s.streamUntil.IsZero() && (next.IsZero() || s.streamUntil.Before(next)) {
		next = s.streamUntil
	}
	if s.refering != nil && (next.IsZero() || s.refering.Next.Before(next)) {
		next = s.refering.Next
	}
	if s.endWhenPlayed && (next.IsZero() || s.endBy.Before(next)) {
		next = s.endBy
	}
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
	d := time.Hour
	if !next.IsZero() {
		d = max(time.Until(next), 0)
	}
	t.Reset(d)
}

func (s *callSession) onTimer() {
	if s.refering != nil {
		s.referDone(s.refering.Poll(s.c.opts.Now(), s.getvarInt))
	}
	if s.play != nil {
		s.sendChunks(s.play.Tick())
	}
	s.endIfPlayed()
	if !s.streamUntil.IsZero() && !s.c.opts.Now().Before(s.streamUntil) {
		s.streamUntil = time.Time{}
		s.streamFault("mod_audio_stream did not connect in time")
	}
}

// handleEvent reacts to one FreeSWITCH event; true when the call is over.
func (s *callSession) handleEvent(e *esl.Event) bool {
	if e.UUID() != s.uuid {
		return s.handleLegEvent(e)
	}
	switch e.Name() {
	case "CHANNEL_HANGUP":
		// The channel is going: nothing is restarted or transferred now, and
		// a bridge leg still ringing is cancelled.
		s.to(call.Ending)
		s.cancelBridge()
		s.warmStep(transfer.CallerGone, "")
	case "CHANNEL_ANSWER":
		// Answered by FreeSWITCH itself (a bridge before our uuid_answer).
		if !s.life.WasAnswered() && s.rec != nil && s.rec.Status != db.CallRefused {
			s.answered(s.c.opts.Now().UTC())
			s.update(map[string]any{"status": db.CallInProgress, "answered_at": s.answeredAt})
			s.event(call.EventAnswered, db.JSONMap{"by": "bridge"})
		}
	case "CHANNEL_HANGUP_COMPLETE":
		s.finish(e)
		return true
	case "DTMF":
		s.onDTMF(e)
	case "PLAYBACK_STOP":
		s.holdEnded(e)
		s.onPlaybackStop(e.Get("Playback-File-Path"))
	case "RECORD_STOP":
		if n, err := strconv.ParseInt(e.Get("variable_record_file_size"), 10, 64); err == nil {
			s.recordBytes = n
		}
	case "CHANNEL_BRIDGE":
		s.event(call.EventBridged, db.JSONMap{"other_leg": e.Get("Other-Leg-Unique-ID")})
	case "CUSTOM":
		s.handleCustom(e)
	}
	return false
}

// onDTMF forwards a key pressed (by the caller, or by a warm transfer's
// target while it is briefed) to the assistant.
func (s *callSession) onDTMF(e *esl.Event) {
	if d := e.Get("DTMF-Digit"); d != "" {
		s.event(call.EventDTMF, db.JSONMap{"digit": d})
		if s.stream != nil {
			if err := s.stream.SendDTMF(d); err != nil {
				s.log.Debug("dtmf not forwarded", "err", err)
			}
		}
	}
}

// onPlaybackStop follows the end of a playback on the media's channel.
func (s *callSession) onPlaybackStop(path string) {
	if s.notAssistantAudio(path) {
		return // the ringback, the welcome audio or the hold audio
	}
	if s.pipe != nil && path == s.pipe.Path() {
		s.pipeStopped()
		return
	}
	if s.play != nil {
		s.sendMarks(s.play.Played(path).Marks)
	}
	s.endIfPlayed()
}

func (s *callSession) handleCustom(e *esl.Event) {
	switch e.Subclass() {
	case "mod_audio_stream::connect":
		s.event(call.EventStreamConnected, nil)
	case "mod_audio_stream::play":
		if s.play == nil || s.transferred() || e.UUID() != s.mediaUUID() {
			return // a file of a stream the media has left
		}
		pe, err := audio.ParsePlayEvent([]byte(e.Body))
		if err != nil {
			s.log.Warn("bad mod_audio_stream::play event", "err", err)
			return
		}
		if s.play.Stale(pe.File) {
			return // a chunk a clear dropped
		}
		if err := s.playFile(pe.File); err != nil {
			s.log.Warn("playback of a streamAudio file failed", "err", err)
			s.sendMarks(s.play.Played(pe.File).Marks)
		}
	case "mod_audio_stream::disconnect", "mod_audio_stream::error":
		if s.eslFaultsDue > 0 {
			s.eslFaultsDue--
			return
		}
		s.streamFault(e.Subclass() + " " + e.Body)
	case "sofia::notify_refer":
		s.onReferNotify(e.Body)
	}
}

// reqChannelCheck asks the session whether its channel still exists, after
// an Event Socket reconnect (Calls.SwitchReconnected).
const reqChannelCheck requestKind = -1

// reasonSwitchLost is the end reason of a call whose channel was gone
// when the Event Socket came back.
const reasonSwitchLost = "FreeSWITCH connection lost: the call's channel was gone when it reconnected"

// handleRequests handles what was asked of the session; true when its
// channel turned out gone (the record is closed: the loop ends, and the
// requests left are answered by exit).
func (s *callSession) handleRequests(rs []request) bool {
	for i, r := range rs {
		if r.kind == reqRelease {
			s.letGo()
			for _, left := range rs[i+1:] {
				s.requests.Push(left)
			}
			return true
		}
		if r.kind != reqChannelCheck {
			s.handleRequest(r)
			continue
		}
		if !s.channelGone() {
			continue
		}
		s.log.Warn("call lost with the FreeSWITCH connection: its channel was gone on reconnect")
		s.endReason = reasonSwitchLost // what ended it, whatever was tried meanwhile
		s.finish(nil)
		for _, left := range rs[i+1:] {
			s.requests.Push(left)
		}
		return true
	}
	return false
}

// channelGone: FreeSWITCH says the call's channel does not exist (an
// error, e.g. the switch still unreachable, is not taken as gone).
func (s *callSession) channelGone() bool {
	gone, err := s.askChannel()
	return err == nil && gone
}

// askChannel asks FreeSWITCH whether the call's channel exists: gone when
// it says it does not; err when it could not be asked.
func (s *callSession) askChannel() (gone bool, err error) {
	out, err := s.api("uuid_exists " + s.uuid)
	return err == nil && strings.TrimSpace(out) == "false", err
}

func (s *callSession) handleRequest(r request) {
	switch r.kind {
	case reqHangup:
		s.event(call.EventHangupRequested, db.JSONMap{"by": "api"})
		s.closeAssistant(true)
		s.kill(causeNormal, "hung up through the API")
	case reqTransfer:
		s.event(call.EventTransferRequested, db.JSONMap{"to": r.to, "mode": r.mode, "by": "api"})
		p, err := s.planTransfer(r.to, r.mode)
		r.reply <- err
		if err != nil {
			s.event(call.EventTransferFailed, db.JSONMap{"to": r.to, "error": err.Error()})
			return
		}
		s.runTransfer(p)
	case reqDialDone:
		s.onDialDone(r)
	case reqAMD:
		s.onAMD(r.amd)
	}
}

func (s *callSession) handleFSNote(n fsNote) {
	if n.gen != s.currentGen() {
		if n.conn != nil {
			_ = n.conn.Close() // an old generation's stream
		}
		return
	}
	if n.conn != nil {
		if s.fs != nil {
			_ = s.fs.Close()
		}
		s.fs, s.fsGen = n.conn, n.gen
		s.streamUntil = time.Time{} // connected in time
		s.streamMoved(call.Connecting, call.InProgress)
		s.adoptedStream()
		pending := s.pending
		s.pending = nil
		s.writeChunks(pending)
		return
	}
	if n.closed && s.fs != nil && s.fsGen == n.gen {
		s.fs = nil
		// mod_audio_stream reports its side with ::disconnect/::error; a
		// websocket that breaks without either is a fault too.
		// mod_audio_stream closes with 1000 when it stops on purpose (hangup,
		// uuid_audio_stream stop): not a failure.
		if !s.ending() && !s.transferred() && !call.StreamClosedNormally(n.err) {
			if s.briefLeg == "" { // a target's leg reports nothing more once given back
				s.eslFaultsDue++
			}
			s.streamFault("websocket closed: " + fmt.Sprint(n.err))
		}
	}
}
