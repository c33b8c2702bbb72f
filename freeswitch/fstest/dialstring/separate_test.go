package dialstring

import (
	"strings"
	"testing"
)

func TestSeparateBlank(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want []string
	}{
		{"u start ws://h/ mono 8k {\"call\":\"x\"}", 6, []string{"u", "start", "ws://h/", "mono", "8k", `{"call":"x"}`}},
		{"u start ws://h/ mono 8k {\"a\": 1, \"b\": 2}", 6, []string{"u", "start", "ws://h/", "mono", "8k", `{"a": 1, "b": 2}`}},
		{"u  x   y", 3, []string{"u", "x", "y"}},
		{`a  'b c'  d\ e`, 10, []string{"a", "b c", `d\ e`}}, // quotes group, escapes stay
		{"u v 'hello world' z", 4, []string{"u", "v", "hello world", "z"}},
		{`u v a\'b`, 3, []string{"u", "v", "a'b"}},
		{"u var value with spaces", 3, []string{"u", "var", "value with spaces"}},
		{"", 3, nil},
	} {
		if got := SeparateBlank(tc.in, tc.n); strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
}
