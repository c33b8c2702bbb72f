package fstest

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/freeswitch/fstest/ezxml"
)

// FuzzParseXML: the ezxml-like parser never panics; an error is an
// *ezxml.Error with a line inside the document.
func FuzzParseXML(f *testing.F) {
	for _, s := range []string{gwGood, gwBroken, gwDollar, aclFile("l", "127.0.0.1/32"), "<a><!-- -- --></a>",
		"<a><![CDATA[x]]></a>", "<?xml?><a b='c'/>", "<a x=\"1>", "</a>", "<a>&#x110000;&#0;&amp</a>"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		root, err := ezxml.Parse(data)
		if err == nil {
			if root == nil {
				t.Fatalf("no root and no error for %q", data)
			}
			return
		}
		var xe *ezxml.Error
		if !errors.As(err, &xe) || xe.Line < 1 || xe.Line > bytes.Count(data, []byte{'\n'})+1 {
			t.Fatalf("error %v for %q", err, data)
		}
	})
}

// FuzzAPI: any api command line gets an answer without a panic.
func FuzzAPI(f *testing.F) {
	for _, s := range []string{"status", "sofia profile external rescan", "sofia profile external killgw x",
		"sofia xmlstatus gateway", "sofia status gateway a b", "acl 1.2.3.4 l", "acl ::1 loopback.auto",
		"module_exists mod_sofia", "uuid_kill", "uuid_answer x", "sofia profile", "sofia", ""} {
		f.Add(s)
	}
	gen := f.TempDir()
	s := New(Options{GenDir: gen})
	defer s.Close()
	f.Fuzz(func(t *testing.T, line string) {
		if strings.Contains(line, "restart") {
			return // its timers outlive the iteration; covered by TestProfileRestart
		}
		if s.exec(line) == "" {
			t.Fatalf("empty answer to %q", line)
		}
	})
}
