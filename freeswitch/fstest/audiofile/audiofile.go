// Package audiofile reads the audio the simulator (freeswitch/fstest)
// plays as FreeSWITCH would: raw L16 (.r8 … .r64), G.711 (.pcmu, .pcma,
// also as a FIFO read while it plays), 16-bit WAV and tone_stream:// TGML,
// all as 8 kHz mono.
package audiofile

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// FrameSamples is one 20 ms frame at 8 kHz.
const FrameSamples = 160

// ErrFormat means a file the simulator cannot play.
var ErrFormat = errors.New("fstest: unsupported audio file")

// Load reads a file as FreeSWITCH would play it, as 8 kHz mono, and
// its native rate.
func Load(path string) ([]int16, int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	ext := strings.ToLower(filepath.Ext(path))
	switch ext {
	case ".r8", ".r16", ".r24", ".r32", ".r48", ".r64":
		rate, _ := strconv.Atoi(ext[2:])
		rate *= 1000
		return Resample8k(L16(data), rate), rate, nil
	case ".pcmu", ".pcma":
		out := make([]int16, len(data))
		for i, c := range data {
			if ext == ".pcmu" {
				out[i] = ULaw(c)
			} else {
				out[i] = ALaw(c)
			}
		}
		return out, 8000, nil
	case ".wav":
		return ReadWAV(data)
	}
	return nil, 0, ErrFormat
}

func L16(data []byte) []int16 {
	out := make([]int16, len(data)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
	}
	return out
}

// Resample8k takes the nearest sample (enough for tones and lengths).
func Resample8k(in []int16, rate int) []int16 {
	if rate == 8000 || rate <= 0 {
		return in
	}
	n := int(int64(len(in)) * 8000 / int64(rate))
	out := make([]int16, n)
	for i := range out {
		out[i] = in[int(int64(i)*int64(rate)/8000)]
	}
	return out
}

// ReadWAV decodes RIFF/WAVE PCM 16-bit, channels mixed to mono.
func ReadWAV(data []byte) ([]int16, int, error) {
	if len(data) < 12 || string(data[:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		return nil, 0, ErrFormat
	}
	var channels, rate, bits int
	var pcm []byte
	for p := 12; p+8 <= len(data); {
		id, size := string(data[p:p+4]), int(binary.LittleEndian.Uint32(data[p+4:]))
		body := data[p+8 : min(len(data), p+8+max(0, size))]
		switch id {
		case "fmt ":
			if len(body) < 16 {
				return nil, 0, ErrFormat
			}
			if tag := binary.LittleEndian.Uint16(body); tag != 1 && tag != 0xfffe { // PCM, or EXTENSIBLE
				return nil, 0, ErrFormat
			}
			channels = int(binary.LittleEndian.Uint16(body[2:]))
			rate = int(binary.LittleEndian.Uint32(body[4:]))
			bits = int(binary.LittleEndian.Uint16(body[14:]))
		case "data":
			pcm = body
		}
		if size < 0 || p+8+size+size%2 > len(data) {
			break
		}
		p += 8 + size + size%2
	}
	if bits != 16 || channels < 1 || rate < 1000 || pcm == nil {
		return nil, 0, ErrFormat
	}
	all := L16(pcm)
	mono := make([]int16, len(all)/channels)
	for i := range mono {
		sum := 0
		for c := 0; c < channels; c++ {
			sum += int(all[i*channels+c])
		}
		mono[i] = int16(sum / channels)
	}
	return Resample8k(mono, rate), rate, nil
}

// ULaw and ALaw decode G.711 (ITU-T G.711 tables, computed).
func ULaw(c byte) int16 {
	c = ^c
	t := (int(c&0x0f)<<3 + 0x84) << (uint(c&0x70) >> 4)
	if c&0x80 != 0 {
		return int16(0x84 - t)
	}
	return int16(t - 0x84)
}

func ALaw(c byte) int16 {
	c ^= 0x55
	t := int(c&0x0f) << 4
	seg := int(c&0x70) >> 4
	switch seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t = (t + 0x108) << (seg - 1)
	}
	if c&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

// Native files: a .PCMU or .PCMA path (G.711 at 8 kHz, one byte a sample,
// no header) is opened by mod_native_file and read as the playback goes,
// so it may be a named pipe a writer keeps feeding. What a real switch did
// with a FIFO (strace of FreeSWITCH 1.11.1, the writer holding it open
// O_RDWR|O_NONBLOCK):
//
//   - open(path, O_RDONLY), "Opening File [<path>] 8000hz";
//   - read(fd, buf, 32768): the channel takes all the pipe holds into its
//     own buffer (switch_core_file_read's pre_buffer) and plays 160 bytes a
//     frame from it, reading again when at most one frame is left — with a
//     writer keeping 320 bytes in the pipe it read 320 every 40 ms, so the
//     writer's FIONREAD mostly reads 0 right after a read;
//   - an empty pipe while a writer holds it open: read blocks, and with it
//     the channel's media thread (a stall: no frame is played, read or
//     recorded until data comes; a 300 ms pause of the writer stopped the
//     caller's frames to mod_audio_stream for ~300 ms and lost them);
//   - every writer closed: what was read plays out, read returns 0, then
//     PLAYBACK_STOP (done).
//
// The simulator reads the same way without blocking: a frame the buffer
// and the pipe cannot fill while a writer is there is a stall, counted
// (Switch.PlaybackStalls); a frame partly filled is padded with silence,
// and an empty pipe holds the channel's media loop as the real switch's
// read does (package media). Two simplifications: a hangup still ends a
// held playback (the real switch's hangup would wait for the read), and
// the caller's audio is paused while held rather than lost. A FIFO nobody
// holds open for writing reads as ended at once (a real switch would
// block in open until a writer comes).

// nativeReadSize is the read FreeSWITCH makes on a native file.
const nativeReadSize = 32768

// Native is a native file being played.
type Native struct {
	fd   int
	alaw bool
	buf  []byte // read from the file, not played yet
	eof  bool
}

// OpenNative opens a native file (regular or FIFO) for playback.
func OpenNative(path string, alaw bool) (*Native, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() && fi.Mode()&os.ModeNamedPipe == 0 {
		return nil, ErrFormat
	}
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &Native{fd: fd, alaw: alaw}, nil
}

// IsFIFO reports whether path is a named pipe.
func IsFIFO(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode()&os.ModeNamedPipe != 0
}

// fill is the channel's read: everything there is, up to nativeReadSize.
func (n *Native) fill() {
	tmp := make([]byte, nativeReadSize)
	for {
		k, err := syscall.Read(n.fd, tmp)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			// A writer is there, the pipe is empty.
		case err != nil || k == 0:
			n.eof = true
		default:
			n.buf = append(n.buf, tmp[:k]...)
		}
		return
	}
}

// Frame returns the next 20 ms as 8 kHz samples and the bytes of the file
// in it; stalled when the file could not fill the frame while a writer is
// still there (padded with silence); done at the end (nothing played).
func (n *Native) Frame() (out []int16, used int, stalled, done bool) {
	if len(n.buf) <= FrameSamples && !n.eof {
		n.fill()
	}
	if len(n.buf) == 0 && n.eof {
		return nil, 0, false, true
	}
	used = min(len(n.buf), FrameSamples)
	out = make([]int16, FrameSamples)
	for i, c := range n.buf[:used] {
		if n.alaw {
			out[i] = ALaw(c)
		} else {
			out[i] = ULaw(c)
		}
	}
	n.buf = n.buf[used:]
	return out, used, used < FrameSamples && !n.eof, false
}

// Blocked tells whether the channel's read of the file blocks now: a
// named pipe, empty, that a writer still holds open (read() would wait for
// a byte or for the last writer to close it).
func (n *Native) Blocked() bool {
	if len(n.buf) == 0 && !n.eof {
		n.fill()
	}
	return len(n.buf) == 0 && !n.eof
}

func (n *Native) Close() {
	if n.fd >= 0 {
		syscall.Close(n.fd)
		n.fd = -1
	}
}

// tone_stream:// paths (mod_tone_stream, TGML), as uuid_broadcast plays
// them: segments separated by ';', each `%(on,off,freq[,freq…])` — on ms
// of the frequencies mixed, then off ms of silence — and `loops=N` (the
// whole script N times; -1: until a break). The real switch played
// `tone_stream://%(300,0,1000)` like a file: PLAYBACK_START, 300 ms,
// PLAYBACK_STOP (done), FILE PLAYED (e2e TestConformance). Other TGML
// (v=, L=, >=, named tones) is skipped; a script with no tone is not
// found.

const ToneStreamPrefix = "tone_stream://"

// ToneStream renders a TGML script as 8 kHz samples, once; loop reports
// whether it repeats until broken.
func ToneStream(spec string) (samples []int16, loop bool, ok bool) {
	loops := 1
	for _, seg := range strings.Split(spec, ";") {
		seg = strings.TrimSpace(seg)
		if v, found := strings.CutPrefix(seg, "loops="); found {
			if n, err := strconv.Atoi(v); err == nil {
				loops = n
			}
			continue
		}
		if !strings.HasPrefix(seg, "%(") || !strings.HasSuffix(seg, ")") {
			continue
		}
		f := strings.Split(seg[2:len(seg)-1], ",")
		if len(f) < 3 {
			continue
		}
		on, err1 := strconv.Atoi(strings.TrimSpace(f[0]))
		off, err2 := strconv.Atoi(strings.TrimSpace(f[1]))
		if err1 != nil || err2 != nil || on < 0 || off < 0 {
			continue
		}
		var freqs []float64
		for _, x := range f[2:] {
			if hz, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil && hz > 0 {
				freqs = append(freqs, hz)
			}
		}
		n := 8 * on
		for i := 0; i < n; i++ {
			var v float64
			for _, hz := range freqs {
				v += math.Sin(2 * math.Pi * hz * float64(i) / 8000)
			}
			if len(freqs) > 0 {
				v /= float64(len(freqs))
			}
			samples = append(samples, int16(8000*v))
		}
		samples = append(samples, make([]int16, 8*off)...)
	}
	if len(samples) == 0 || loops == 0 {
		return nil, false, false
	}
	if loops < 0 {
		return samples, true, true
	}
	once := samples
	for i := 1; i < loops; i++ {
		samples = append(samples, once...)
	}
	return samples, false, true
}

// WAV encodes 16-bit PCM at rate as a RIFF/WAVE file, one channel per
// slice (interleaved; all as long as the first).
func WAV(rate int, chans ...[]int16) []byte {
	ch := len(chans)
	n := len(chans[0])
	data := make([]byte, 44+2*ch*n)
	copy(data, "RIFF")
	binary.LittleEndian.PutUint32(data[4:], uint32(len(data)-8))
	copy(data[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(data[16:], 16)
	binary.LittleEndian.PutUint16(data[20:], 1)
	binary.LittleEndian.PutUint16(data[22:], uint16(ch))
	binary.LittleEndian.PutUint32(data[24:], uint32(rate))
	binary.LittleEndian.PutUint32(data[28:], uint32(rate*2*ch))
	binary.LittleEndian.PutUint16(data[32:], uint16(2*ch))
	binary.LittleEndian.PutUint16(data[34:], 16)
	copy(data[36:], "data")
	binary.LittleEndian.PutUint32(data[40:], uint32(2*ch*n))
	for i := 0; i < n; i++ {
		for c, pcm := range chans {
			binary.LittleEndian.PutUint16(data[44+2*(ch*i+c):], uint16(pcm[i]))
		}
	}
	return data
}
