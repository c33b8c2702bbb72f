package nodes

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	got, err := Parse("fs1=10.0.0.11:8021, fs2=10.0.0.12:8021;sip=10.0.0.12:5060,v6=[2001:db8::1]:8021")
	if err != nil {
		t.Fatal(err)
	}
	want := []Node{{"fs1", "10.0.0.11:8021", "10.0.0.11:5080"}, {"fs2", "10.0.0.12:8021", "10.0.0.12:5060"},
		{"v6", "[2001:db8::1]:8021", "[2001:db8::1]:5080"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
}

func TestParseErrors(t *testing.T) {
	for in, want := range map[string]string{
		"":                              "entry 1 is empty",
		"fs1=a:8021,,fs2=b:8021":        "entry 2 is empty",
		"fs1":                           "want name=host:port",
		"fs 1=a:8021":                   `node name "fs 1"`,
		"fs1=a":                         `node fs1: event socket address "a": want host:port`,
		"fs1=a:0":                       "port must be 1-65535",
		"fs1=a:8021;sip=b":              `node fs1: sip address "b": want host:port`,
		"fs1=a:8021;weight=2":           "unknown option",
		"fs1=a:8021;sip=":               "sip= is empty",
		"fs1=a:8021,fs1=b:8021":         "node fs1 is listed twice",
		"fs1=a;b:8021":                  "unknown option",
		"fs1=a b:8021":                  "host must be a name or an IP address",
		"fs1=a:8021;sip=b:5080;sip=c:1": "unknown option",
	} {
		_, err := Parse(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", in, err, want)
		}
	}
}

func TestFromEnv(t *testing.T) {
	ns, err := FromEnv("", "127.0.0.1:8021")
	if err != nil || !reflect.DeepEqual(ns, []Node{{"fs1", "127.0.0.1:8021", "127.0.0.1:5080"}}) {
		t.Fatalf("%+v %v", ns, err)
	}
	if _, err := FromEnv("x", "127.0.0.1:8021"); err == nil || !strings.HasPrefix(err.Error(), "FS_NODES: ") {
		t.Fatalf("FS_NODES error %v", err)
	}
	if _, err := FromEnv("", "nowhere"); err == nil || !strings.HasPrefix(err.Error(), "FS_ESL_ADDR: ") {
		t.Fatalf("FS_ESL_ADDR error %v", err)
	}
}

func TestDispatcherList(t *testing.T) {
	ns, _ := Parse("fs1=10.0.0.11:8021,fs2=10.0.0.12:8021;sip=10.0.0.12:5060")
	got := DispatcherList(ns, 1)
	want := "1 sip:10.0.0.11:5080 0 2 duid=fs1\n1 sip:10.0.0.12:5060 0 1 duid=fs2\n"
	if !strings.HasSuffix(got, want) || strings.Count(got, "\n") != 4 {
		t.Fatalf("got\n%s", got)
	}
}

// FuzzParse: any input parses or fails without panicking; what parses
// renders lines with exactly five fields and no stray separators.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"fs1=10.0.0.11:8021", "a=[::1]:8021;sip=[::1]:5080,b=h:1", "x=y", ";", "=:", "a=b:c;sip"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ns, err := Parse(s)
		if err != nil {
			return
		}
		for _, line := range strings.Split(strings.TrimSpace(DispatcherList(ns, 1)), "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			if len(strings.Fields(line)) != 5 {
				t.Fatalf("line %q from %q", line, s)
			}
		}
	})
}
