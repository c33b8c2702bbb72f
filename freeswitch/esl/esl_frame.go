package esl

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Frame limits. FreeSWITCH frames are far below them (the largest recorded
// event is ~10 KB); they only stop a broken peer from exhausting memory.
const (
	maxLineLen   = 1 << 20  // one header line
	maxHeaders   = 4096     // header lines in one frame
	maxBodyLen   = 64 << 20 // Content-Length
	keepBodyCap  = 1 << 20  // body buffers larger than this are not reused
	readBufSize  = 64 << 10 // bufio.Reader size
	writeBufSize = 4 << 10
)

// Content types of frames sent by FreeSWITCH.
const (
	ctAuthRequest = "auth/request"
	ctCommandRepl = "command/reply"
	ctAPIResponse = "api/response"
	ctEventJSON   = "text/event-json"
	ctEventPlain  = "text/event-plain"
	ctEventXML    = "text/event-xml"
	ctDisconnect  = "text/disconnect-notice"
	ctLogData     = "log/data"
)

// header is one "Name: value" line of a frame, value as sent (no decoding).
type header struct {
	name, value string
}

// frame is one ESL message: header lines, a blank line, then exactly
// Content-Length bytes of body (if the header is present).
type frame struct {
	hdrs []header
	// body is valid only until the next readFrame call on the same reader
	// (the buffer is reused); copy what must outlive it.
	body []byte
}

// get returns the first value of a header (exact name), or "".
func (f *frame) get(name string) string {
	for i := range f.hdrs {
		if f.hdrs[i].name == name {
			return f.hdrs[i].value
		}
	}
	return ""
}

// frameReader reads frames from a byte stream. It handles partial reads
// (bufio), long header lines, and counts Content-Length in bytes.
type frameReader struct {
	r    *bufio.Reader
	body []byte // reused body buffer
	long []byte // accumulator for lines longer than the bufio buffer
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, readBufSize)}
}

// readFrame returns the next frame. io.EOF means the stream ended cleanly
// between frames; a stream ending inside a frame gives io.ErrUnexpectedEOF.
// Malformed input gives an error wrapping ErrProtocol.
func (fr *frameReader) readFrame() (*frame, error) {
	f := &frame{}
	started := false
	contentLen := -1
	for {
		line, err := fr.readLine()
		if err != nil {
			if err == io.EOF && started {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if len(line) == 0 {
			if !started {
				continue // tolerate blank lines between frames
			}
			break
		}
		if !started {
			started = true
			f.hdrs = make([]header, 0, 4)
		}
		if len(f.hdrs) >= maxHeaders {
			return nil, fmt.Errorf("%w: more than %d header lines", ErrProtocol, maxHeaders)
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return nil, fmt.Errorf("%w: header line without name: %q", ErrProtocol, truncate(line, 64))
		}
		name := line[:colon]
		value := bytes.TrimLeft(line[colon+1:], " \t")
		h := header{name: internName(name)}
		if h.name == "Content-Length" {
			n, err := parseContentLength(value)
			if err != nil {
				return nil, err
			}
			if contentLen < 0 {
				contentLen = n
			}
		}
		h.value = internValue(value)
		f.hdrs = append(f.hdrs, h)
	}
	if contentLen > 0 {
		if cap(fr.body) < contentLen {
			fr.body = make([]byte, contentLen)
		}
		f.body = fr.body[:contentLen]
		if _, err := io.ReadFull(fr.r, f.body); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if cap(fr.body) > keepBodyCap {
			fr.body = nil // do not pin a huge buffer; f.body keeps it alive for now
		}
	}
	return f, nil
}

// readLine returns one line without its "\n" (and a "\r" before it). The
// slice is valid until the next read.
func (fr *frameReader) readLine() ([]byte, error) {
	line, err := fr.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		fr.long = append(fr.long[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(fr.long) > maxLineLen {
				return nil, fmt.Errorf("%w: header line longer than %d bytes", ErrProtocol, maxLineLen)
			}
			line, err = fr.r.ReadSlice('\n')
			fr.long = append(fr.long, line...)
		}
		line = fr.long
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

func parseContentLength(v []byte) (int, error) {
	v = bytes.TrimRight(v, " \t")
	if len(v) == 0 || len(v) > 10 {
		return 0, fmt.Errorf("%w: bad Content-Length %q", ErrProtocol, truncate(v, 16))
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: bad Content-Length %q", ErrProtocol, truncate(v, 16))
		}
		n = n*10 + int(c-'0')
	}
	if n > maxBodyLen {
		return 0, fmt.Errorf("%w: Content-Length %d over limit %d", ErrProtocol, n, maxBodyLen)
	}
	return n, nil
}

// internName returns a constant string for the header names FreeSWITCH puts
// on every frame, so reading them does not allocate.
func internName(b []byte) string {
	switch string(b) {
	case "Content-Type":
		return "Content-Type"
	case "Content-Length":
		return "Content-Length"
	case "Reply-Text":
		return "Reply-Text"
	case "Job-UUID":
		return "Job-UUID"
	case "Content-Disposition":
		return "Content-Disposition"
	}
	return string(b)
}

func internValue(b []byte) string {
	switch string(b) {
	case ctEventJSON:
		return ctEventJSON
	case ctEventPlain:
		return ctEventPlain
	case ctCommandRepl:
		return ctCommandRepl
	case ctAPIResponse:
		return ctAPIResponse
	case "+OK":
		return "+OK"
	}
	return string(b)
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// Writing ---------------------------------------------------------------------

// validLine reports whether s can be sent inside one command or header line.
func validLine(s string) bool { return !strings.ContainsAny(s, "\r\n") }

// commandBytes renders a command with optional header lines and body:
//
//	<cmd>\n[<name>: <value>\n]...[Content-Length: n\n]\n[<body>]
func commandBytes(cmd string, hdrs []header, body string) []byte {
	n := len(cmd) + 2 + len(body) + 32
	for _, h := range hdrs {
		n += len(h.name) + len(h.value) + 3
	}
	b := make([]byte, 0, n)
	b = append(b, cmd...)
	b = append(b, '\n')
	for _, h := range hdrs {
		b = append(b, h.name...)
		b = append(b, ": "...)
		b = append(b, h.value...)
		b = append(b, '\n')
	}
	if body != "" {
		b = append(b, "content-length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, '\n', '\n')
		b = append(b, body...)
		return b
	}
	return append(b, '\n')
}
