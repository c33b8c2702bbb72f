package esl

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type wantFrame struct {
	ct   string
	get  map[string]string
	body string
}

func TestReadFrame(t *testing.T) {
	long := strings.Repeat("x", 200_000)
	tests := []struct {
		name    string
		in      string
		want    []wantFrame
		wantErr error // after the frames
	}{
		{
			name: "command reply with colon in value",
			in:   "Content-Type: command/reply\nReply-Text: +OK Job-UUID: 7f4db8a2-3c55-4c1e-9a0b-5e2f6d1c0a01\nJob-UUID: 7f4db8a2-3c55-4c1e-9a0b-5e2f6d1c0a01\n\n",
			want: []wantFrame{{ct: "command/reply", get: map[string]string{
				"Reply-Text": "+OK Job-UUID: 7f4db8a2-3c55-4c1e-9a0b-5e2f6d1c0a01",
				"Job-UUID":   "7f4db8a2-3c55-4c1e-9a0b-5e2f6d1c0a01"}}},
			wantErr: io.EOF,
		},
		{
			name: "content-length counts bytes, not runes",
			in:   "Content-Type: api/response\nContent-Length: 9\n\n+OK café\nContent-Type: auth/request\n\n",
			want: []wantFrame{
				{ct: "api/response", body: "+OK café"},
				{ct: "auth/request"},
			},
			wantErr: io.EOF,
		},
		{
			name: "body may hold blank lines and header-like text",
			in:   "Content-Type: api/response\nContent-Length: 26\n\nA: b\n\nContent-Type: fake\n\n\nContent-Type: command/reply\nReply-Text: +OK\n\n",
			want: []wantFrame{
				{ct: "api/response", body: "A: b\n\nContent-Type: fake\n\n"},
				{ct: "command/reply", get: map[string]string{"Reply-Text": "+OK"}},
			},
			wantErr: io.EOF,
		},
		{
			name:    "CRLF and blank lines between frames",
			in:      "\r\n\nContent-Type: command/reply\r\nReply-Text: +OK bye\r\n\r\n",
			want:    []wantFrame{{ct: "command/reply", get: map[string]string{"Reply-Text": "+OK bye"}}},
			wantErr: io.EOF,
		},
		{
			name:    "header line longer than the read buffer",
			in:      "Content-Type: command/reply\nX-Long: " + long + "\n\n",
			want:    []wantFrame{{ct: "command/reply", get: map[string]string{"X-Long": long}}},
			wantErr: io.EOF,
		},
		{
			name:    "Content-Length 0",
			in:      "Content-Type: text/disconnect-notice\nContent-Disposition: linger\nContent-Length: 0\n\nContent-Type: auth/request\n\n",
			want:    []wantFrame{{ct: "text/disconnect-notice", get: map[string]string{"Content-Disposition": "linger"}}, {ct: "auth/request"}},
			wantErr: io.EOF,
		},
		{name: "line without colon", in: "Content-Type: command/reply\ngarbage\n\n", wantErr: ErrProtocol},
		{name: "line starting with colon", in: ": x\n\n", wantErr: ErrProtocol},
		{name: "non-numeric length", in: "Content-Length: 12a\n\n", wantErr: ErrProtocol},
		{name: "negative length", in: "Content-Length: -1\n\n", wantErr: ErrProtocol},
		{name: "huge length", in: "Content-Length: 99999999999\n\n", wantErr: ErrProtocol},
		{name: "body cut short", in: "Content-Type: api/response\nContent-Length: 10\n\n+OK", wantErr: io.ErrUnexpectedEOF},
		{name: "headers cut short", in: "Content-Type: api/response\nContent-Le", wantErr: io.ErrUnexpectedEOF},
		{name: "headers without blank line", in: "Content-Type: api/response\n", wantErr: io.ErrUnexpectedEOF},
		{name: "empty stream", in: "", wantErr: io.EOF},
	}
	readers := map[string]func(string) io.Reader{
		"whole":    func(s string) io.Reader { return strings.NewReader(s) },
		"one byte": func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
		"halves":   func(s string) io.Reader { return iotest.HalfReader(strings.NewReader(s)) },
	}
	for _, tc := range tests {
		for rname, mk := range readers {
			t.Run(tc.name+"/"+rname, func(t *testing.T) {
				fr := newFrameReader(mk(tc.in))
				for i, w := range tc.want {
					f, err := fr.readFrame()
					if err != nil {
						t.Fatalf("frame %d: %v", i, err)
					}
					if got := f.get("Content-Type"); got != w.ct {
						t.Errorf("frame %d: Content-Type %q, want %q", i, got, w.ct)
					}
					for k, v := range w.get {
						if got := f.get(k); got != v {
							t.Errorf("frame %d: %s = %.80q, want %.80q", i, k, got, v)
						}
					}
					if string(f.body) != w.body {
						t.Errorf("frame %d: body %q, want %q", i, f.body, w.body)
					}
				}
				_, err := fr.readFrame()
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("end: %v, want %v", err, tc.wantErr)
				}
			})
		}
	}
}

func TestCommandBytes(t *testing.T) {
	tests := []struct {
		cmd  string
		hdrs []header
		body string
		want string
	}{
		{"api status", nil, "", "api status\n\n"},
		{"bgapi status", []header{{"Job-UUID", "7f4db8a2-3c55-4c1e-9a0b-5e2f6d1c0a01"}}, "",
			"bgapi status\nJob-UUID: 7f4db8a2-3c55-4c1e-9a0b-5e2f6d1c0a01\n\n"},
		{"sendmsg", []header{{"call-command", "execute"}}, "a\nb", "sendmsg\ncall-command: execute\ncontent-length: 3\n\na\nb"},
	}
	for _, tc := range tests {
		if got := string(commandBytes(tc.cmd, tc.hdrs, tc.body)); got != tc.want {
			t.Errorf("commandBytes(%q) = %q, want %q", tc.cmd, got, tc.want)
		}
	}
}
