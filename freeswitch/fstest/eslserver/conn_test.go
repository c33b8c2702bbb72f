package eslserver

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadCommand(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []command
		wantErr error
	}{
		{"api status\n\n", []command{{line: "api status", headers: map[string]string{}}}, io.EOF},
		{"\n\nbgapi x y\nJob-UUID: abc\n\n", []command{{line: "bgapi x y", headers: map[string]string{"Job-UUID": "abc"}}}, io.EOF},
		{"sendmsg u\ncall-command: execute\nContent-Length: 5\n\nhello", []command{{line: "sendmsg u",
			headers: map[string]string{"call-command": "execute", "Content-Length": "5"}, body: "hello"}}, io.EOF},
		{"auth a\r\n\r\napi b\n\n", []command{{line: "auth a", headers: map[string]string{}}, {line: "api b", headers: map[string]string{}}}, io.EOF},
		{"api status\n", nil, io.ErrUnexpectedEOF},
		{"sendmsg u\nContent-Length: -1\n\n", nil, nil},
	} {
		r := bufio.NewReader(strings.NewReader(tc.in))
		var got []command
		var err error
		for {
			var c command
			if c, err = readCommand(r); err != nil {
				break
			}
			got = append(got, c)
		}
		if len(got) != len(tc.want) {
			t.Errorf("%q: %+v, want %+v", tc.in, got, tc.want)
			continue
		}
		for i := range got {
			if got[i].line != tc.want[i].line || got[i].body != tc.want[i].body || len(got[i].headers) != len(tc.want[i].headers) {
				t.Errorf("%q: %+v, want %+v", tc.in, got[i], tc.want[i])
			}
			for k, v := range tc.want[i].headers {
				if got[i].headers[k] != v {
					t.Errorf("%q: header %s=%q", tc.in, k, got[i].headers[k])
				}
			}
		}
		if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
			t.Errorf("%q: error %v, want %v", tc.in, err, tc.wantErr)
		}
	}
	big := "api " + strings.Repeat("x", maxCommand+1) + "\n\n"
	if _, err := readCommand(bufio.NewReader(strings.NewReader(big))); !errors.Is(err, ErrCommandTooLarge) {
		t.Errorf("oversized command: %v", err)
	}
}

// FuzzReadCommand: any client bytes parse or fail without panicking; a
// parsed command has a one-line first line and at most the declared body.
func FuzzReadCommand(f *testing.F) {
	for _, s := range []string{"auth ClueCon\n\n", "bgapi status\nJob-UUID: x\n\n", "sendmsg u\nContent-Length: 3\n\nabc",
		"\r\n\r\napi a b c\r\n\r\n", "api x\nContent-Length: 99\n\nshort", "event json ALL CUSTOM a::b\n\nexit\n\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for range 100 {
			c, err := readCommand(r)
			if err != nil {
				return
			}
			if strings.ContainsAny(c.line, "\n") || c.line == "" {
				t.Fatalf("bad command line %q", c.line)
			}
			if len(c.body) > len(data) {
				t.Fatalf("body longer than the input")
			}
		}
	})
}
