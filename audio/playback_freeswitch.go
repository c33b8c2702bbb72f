package audio

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
)

// The mod_audio_stream side of playback (amigniter mod_audio_stream v1.0.3+,
// checked against a recording of a real FreeSWITCH 1.11): the websocket
// server sends
//
//	{"type":"streamAudio","data":{"audioDataType":"raw","sampleRate":8000,"audioData":"<base64 L16 LE>"}}
//
// mod_audio_stream writes the decoded audio to
// <temp_dir>/<channel uuid>_<n>.tmp.r8 (n counts the files of that stream
// from 0) and fires CUSTOM mod_audio_stream::play with the body
//
//	{"audioDataType":"raw","sampleRate":8000,"file":"…/<uuid>_0.tmp.r8"}
//
// which the controller plays with uuid_broadcast.

// ErrBadPlayEvent means a mod_audio_stream play body or streamAudio message
// could not be used.
var ErrBadPlayEvent = errors.New("audio: bad mod_audio_stream play message")

// PlaybackSampleRate is the rate of the raw audio sipbridge sends back
// (the μ-law of the assistant decoded as is; mod_audio_stream names the file
// .r8).
const PlaybackSampleRate = 8000

// PlaybackWidebandRate is the rate of an l16_16k assistant's audio, sent
// back as it came (mod_audio_stream names the file .r16).
const PlaybackWidebandRate = 16000

// AppendStreamAudio appends a streamAudio message carrying pcm (raw L16 at
// sampleRate) to dst.
func AppendStreamAudio(dst []byte, pcm []int16, sampleRate int) []byte {
	dst = append(dst, `{"type":"streamAudio","data":{"audioDataType":"raw","sampleRate":`...)
	dst = strconv.AppendInt(dst, int64(sampleRate), 10)
	dst = append(dst, `,"audioData":"`...)
	// base64 of the L16 bytes, three samples' bytes at a time would avoid
	// the temporary; playback runs a few times a second, so keep it simple.
	le := AppendL16Bytes(make([]byte, 0, 2*len(pcm)), pcm)
	dst = base64.StdEncoding.AppendEncode(dst, le)
	return append(dst, `"}}`...)
}

// StreamAudio is a decoded streamAudio message.
type StreamAudio struct {
	AudioDataType string // "raw", "wav", "mp3", "ogg"
	SampleRate    int
	Audio         []byte // decoded audioData
}

// Samples returns raw L16 audio as samples (nil for other data types).
func (a StreamAudio) Samples() []int16 {
	if a.AudioDataType != "raw" {
		return nil
	}
	return AppendL16Samples(nil, a.Audio)
}

// ParseStreamAudio decodes a streamAudio message (for the FreeSWITCH
// simulator and tests). It requires type "streamAudio", a data object with
// a non-empty audioDataType and base64 audioData, and for raw audio one of
// the sample rates mod_audio_stream maps to a file extension.
func ParseStreamAudio(msg []byte) (StreamAudio, error) {
	var m struct {
		Type string `json:"type"`
		Data *struct {
			AudioDataType string `json:"audioDataType"`
			SampleRate    int    `json:"sampleRate"`
			AudioData     string `json:"audioData"`
		} `json:"data"`
	}
	if err := json.Unmarshal(msg, &m); err != nil {
		return StreamAudio{}, fmt.Errorf("%w: %w", ErrBadPlayEvent, err)
	}
	if m.Type != "streamAudio" || m.Data == nil || m.Data.AudioDataType == "" {
		return StreamAudio{}, fmt.Errorf("%w: not a streamAudio message with data", ErrBadPlayEvent)
	}
	if m.Data.AudioDataType == "raw" && !validRawRate(m.Data.SampleRate) {
		return StreamAudio{}, fmt.Errorf("%w: raw audio at unsupported rate %d", ErrBadPlayEvent, m.Data.SampleRate)
	}
	audio, err := base64.StdEncoding.DecodeString(m.Data.AudioData)
	if err != nil {
		return StreamAudio{}, fmt.Errorf("%w: audioData: %w", ErrBadPlayEvent, err)
	}
	return StreamAudio{AudioDataType: m.Data.AudioDataType, SampleRate: m.Data.SampleRate, Audio: audio}, nil
}

// validRawRate lists the rates mod_audio_stream writes raw files for.
func validRawRate(r int) bool {
	switch r {
	case 8000, 16000, 24000, 32000, 48000, 64000:
		return true
	}
	return false
}

// PlayEvent is the body of a mod_audio_stream::play event.
type PlayEvent struct {
	AudioDataType string `json:"audioDataType"`
	SampleRate    int    `json:"sampleRate"`
	File          string `json:"file"`
}

// ParsePlayEvent decodes the JSON body of a mod_audio_stream::play event.
// The file must be an absolute path without "..", NUL or line breaks: it
// goes into a uuid_broadcast command.
func ParsePlayEvent(body []byte) (PlayEvent, error) {
	var e PlayEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return PlayEvent{}, fmt.Errorf("%w: %w", ErrBadPlayEvent, err)
	}
	if e.File == "" {
		return PlayEvent{}, fmt.Errorf("%w: no file", ErrBadPlayEvent)
	}
	if !strings.HasPrefix(e.File, "/") || strings.ContainsAny(e.File, "\x00\r\n") ||
		slices.Contains(strings.Split(e.File, "/"), "..") {
		return PlayEvent{}, fmt.Errorf("%w: unsafe file path", ErrBadPlayEvent)
	}
	return e, nil
}

// Index returns n of a file named <uuid>_<n>.tmp.<ext>: the position of the
// streamAudio message that produced it, counted from 0 per stream.
func (e PlayEvent) Index() (int, bool) {
	return PlayFileIndex(e.File)
}

// PlayFileIndex extracts n from a mod_audio_stream file name
// ".../<uuid>_<n>.tmp.<ext>".
func PlayFileIndex(file string) (int, bool) {
	base := path.Base(file)
	dot := strings.Index(base, ".tmp")
	if dot < 0 {
		return 0, false
	}
	stem := base[:dot]
	us := strings.LastIndexByte(stem, '_')
	if us < 0 || us == len(stem)-1 {
		return 0, false
	}
	n, err := strconv.Atoi(stem[us+1:])
	if err != nil || n < 0 || stem[us+1] == '+' {
		return 0, false
	}
	return n, true
}
