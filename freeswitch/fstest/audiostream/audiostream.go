// Package audiostream is the wire side of mod_audio_stream
// (amigniter/mod_audio_stream) for the simulator (freeswitch/fstest): the
// start arguments, the websocket URI check, libwsc's connect errors and the
// streamAudio messages a server sends back.
package audiostream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// libwsc error codes (WebSocketClient.h ErrorCode).
const (
	WSCIO            = 1
	WSCConnectFailed = 6
	WSCTimeout       = 10
)

// ParseRate is how the module reads the rate: 8k, 16k, else Atoi.
func ParseRate(arg string) int {
	switch arg {
	case "16k":
		return 16000
	case "8k":
		return 8000
	}
	return Atoi(arg)
}

// Atoi is C's Atoi: blanks, a sign, digits up to the first other byte.
func Atoi(s string) int {
	i := 0
	for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	n := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n < math.MaxInt32 {
			n = n*10 + int(s[i]-'0')
		}
	}
	if neg {
		return -n
	}
	return n
}

// ValidWSURI is validate_ws_uri: ws:// or wss://, a host of letters,
// digits, '-' and '.', an optional all-digit port ending at '/' or the end.
func ValidWSURI(u string) bool {
	var rest string
	switch {
	case strings.HasPrefix(u, "ws://"):
		rest = u[5:]
	case strings.HasPrefix(u, "wss://"):
		rest = u[6:]
	default:
		return false
	}
	i := 0
	for i < len(rest) && rest[i] != ':' && rest[i] != '/' {
		c := rest[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
		i++
	}
	if i == 0 {
		return false
	}
	if i < len(rest) && rest[i] == ':' {
		for i++; i < len(rest) && rest[i] != '/'; i++ {
			if rest[i] < '0' || rest[i] > '9' {
				return false
			}
		}
	}
	return true
}

// Args is a parsed `uuid_audio_stream … start` line.
type Args struct {
	URL, Mix string
	Rate     int
	Meta     string
}

// ParseStart checks start's arguments (argv after the uuid and
// "start": url, mix, [rate], [metadata]) as stream_function does. When
// they are refused, reply is the module's answer ("" when it writes none:
// a URL that is not UTF-8 while metadata is given).
func ParseStart(argv []string) (a Args, reply string, ok bool) {
	const fail = "-ERR Operation Failed\n"
	a = Args{URL: argv[0], Mix: argv[1], Rate: 8000}
	if len(argv) > 3 {
		a.Meta = argv[3]
		if !utf8.ValidString(argv[0]) { // the module checks the url here, not the metadata
			return a, "", false
		}
	}
	if a.Mix != "mono" && a.Mix != "mixed" && a.Mix != "stereo" {
		return a, fail, false
	}
	if len(argv) > 2 {
		a.Rate = ParseRate(argv[2])
	}
	// A rate that is not a multiple of 8000 is refused; 0 (Atoi of a word)
	// passes that check but the resampler cannot be made.
	if !ValidWSURI(a.URL) || a.Rate%8000 != 0 || a.Rate <= 0 {
		return a, fail, false
	}
	return a, "", true
}

// ConnectError maps a failed dial to libwsc's error callback.
func ConnectError(err error) (int, string) {
	var errno syscall.Errno
	var ne net.Error
	var dns *net.DNSError
	switch {
	case errors.Is(err, websocket.ErrBadHandshake):
		return WSCConnectFailed, "WebSocket upgrade failed"
	case errors.As(err, &dns):
		return WSCConnectFailed, "Connection error"
	case errors.As(err, &errno):
		return WSCConnectFailed, SysErrorText(errno)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return WSCConnectFailed, "Connection closed during handshake (EOF)"
	case errors.As(err, &ne) && ne.Timeout():
		return WSCTimeout, "Connection/handshake timeout"
	}
	return WSCConnectFailed, "Connection error"
}

// SysErrorText is libwsc's "<strerror> (system error N)".
func SysErrorText(e syscall.Errno) string {
	t := e.Error()
	if t != "" {
		t = strings.ToUpper(t[:1]) + t[1:]
	}
	return fmt.Sprintf("%s (system error %d)", t, int(e))
}

// Message is a valid streamAudio message.
type Message struct {
	Data  []Member // the data object, audioData removed
	Ext   string   // file suffix: .r8, .r16, …, .wav, .mp3, .ogg, .pcmu, .pcma
	Audio []byte
}

type Member struct {
	key string
	raw json.RawMessage
}

// Body is the ::play body: the data object with "file" added last.
func (sa Message) Body(file string) string {
	var b bytes.Buffer
	b.WriteByte('{')
	for _, m := range sa.Data {
		writeJSON(&b, m.key)
		b.WriteByte(':')
		var c bytes.Buffer
		if json.Compact(&c, m.raw) == nil {
			b.Write(c.Bytes())
		} else {
			b.Write(m.raw)
		}
		b.WriteByte(',')
	}
	b.WriteString(`"file":`)
	writeJSON(&b, file)
	b.WriteByte('}')
	return b.String()
}

// parseObject reads a JSON object keeping its members in order (nil,
// false when msg does not start with one; what follows it is ignored, as
// cJSON_Parse does).
func parseObject(raw []byte) ([]Member, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	var out []Member
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, false
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		out = append(out, Member{k, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	return out, true
}

// member is cJSON_GetObjectItem: the first member named so, ignoring case.
func member(obj []Member, name string) (int, json.RawMessage) {
	for i, m := range obj {
		if strings.EqualFold(m.key, name) {
			return i, m.raw
		}
	}
	return -1, nil
}

// cstr is cJSON_GetObjectCstr: the member's string value, if a string.
func cstr(obj []Member, name string) (string, bool) {
	_, raw := member(obj, name)
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// valueint is cJSON's valueint of a member: a number truncated and
// clamped to int32, 0 for anything else.
func valueint(raw json.RawMessage) int {
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return 0
	}
	switch {
	case f >= math.MaxInt32:
		return math.MaxInt32
	case f <= math.MinInt32:
		return math.MinInt32
	}
	return int(f)
}

var rawExt = map[int]string{8000: ".r8", 16000: ".r16", 24000: ".r24", 32000: ".r32", 48000: ".r48", 64000: ".r64"}

// ParseMessage is processMessage without the file: ok only for a
// streamAudio message the module would write (type "streamAudio", a data object
// with a known audioDataType, a sample rate it maps for raw, audioData a
// string its base64 decoder takes).
func ParseMessage(msg []byte) (Message, bool) {
	var sa Message
	root, ok := parseObject(msg)
	if !ok {
		return sa, false
	}
	if t, ok := cstr(root, "type"); !ok || t != "streamAudio" {
		return sa, false
	}
	_, rawData := member(root, "data")
	data, ok := parseObject(rawData)
	if !ok || len(rawData) == 0 || rawData[0] != '{' {
		return sa, false
	}
	dataType, _ := cstr(data, "audioDataType")
	i, rawAudio := member(data, "audioData")
	if i < 0 || len(rawAudio) == 0 || rawAudio[0] != '"' {
		return sa, false
	}
	var audio string
	if json.Unmarshal(rawAudio, &audio) != nil {
		return sa, false
	}
	rest := append(append([]Member(nil), data[:i]...), data[i+1:]...)
	rate := 0
	if _, r := member(rest, "sampleRate"); r != nil {
		rate = valueint(r)
	}
	switch dataType {
	case "raw":
		if sa.Ext = rawExt[rate]; sa.Ext == "" {
			return sa, false
		}
	case "wav", "mp3", "ogg", "pcmu", "pcma":
		sa.Ext = "." + dataType
	default:
		return sa, false
	}
	dec, ok := Base64Liberal(audio)
	if !ok {
		return sa, false
	}
	sa.Data, sa.Audio = rest, dec
	return sa, true
}

// Base64Liberal decodes as the module's base64.cpp does: both alphabets
// (+/ and -_), padding with '=' or '.' optional, chunk by chunk; any other
// byte, or a lone byte in the last chunk, is an error.
func Base64Liberal(s string) ([]byte, bool) {
	pos := func(c byte) (int, bool) {
		switch {
		case c >= 'A' && c <= 'Z':
			return int(c - 'A'), true
		case c >= 'a' && c <= 'z':
			return int(c-'a') + 26, true
		case c >= '0' && c <= '9':
			return int(c-'0') + 52, true
		case c == '+' || c == '-':
			return 62, true
		case c == '/' || c == '_':
			return 63, true
		}
		return 0, false
	}
	out := make([]byte, 0, len(s)/4*3+3)
	for p := 0; p < len(s); p += 4 {
		if p+1 >= len(s) {
			return nil, false
		}
		c1, ok1 := pos(s[p+1])
		c0, ok0 := pos(s[p])
		if !ok1 || !ok0 {
			return nil, false
		}
		out = append(out, byte(c0<<2+(c1&0x30)>>4))
		if p+2 < len(s) && s[p+2] != '=' && s[p+2] != '.' {
			c2, ok := pos(s[p+2])
			if !ok {
				return nil, false
			}
			out = append(out, byte((c1&0x0f)<<4+(c2&0x3c)>>2))
			if p+3 < len(s) && s[p+3] != '=' && s[p+3] != '.' {
				c3, ok := pos(s[p+3])
				if !ok {
					return nil, false
				}
				out = append(out, byte((c2&0x03)<<6+c3))
			}
		}
	}
	return out, true
}

func writeJSON(b *bytes.Buffer, v any) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	b.Truncate(b.Len() - 1) // Encode's newline
}
