package dialstring

import (
	"reflect"
	"testing"
)

func TestParseDialString(t *testing.T) {
	d, err := Parse("{originate_continue_on_timeout=true}[leg_timeout=3]sofia/gateway/org1_noanswer/15551230000|[leg_timeout=10]sofia/gateway/org1_uas/15551230000")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Groups) != 2 || d.Groups[0][0].Endpoint != "sofia/gateway/org1_noanswer/15551230000" || d.Groups[1][0].Endpoint != "sofia/gateway/org1_uas/15551230000" {
		t.Fatalf("Groups %+v", d.Groups)
	}
	if v := d.Vars(d.Groups[0][0]); v["leg_timeout"] != "3" || v["originate_continue_on_timeout"] != "true" {
		t.Errorf("leg 1 vars %v", v)
	}
	for _, tc := range []struct {
		in   string
		want map[string]string // vars of the first leg
		legs int               // legs of the first group
	}{
		{`{a=1,b=x=y}sofia/gateway/g/1`, map[string]string{"a": "1", "b": "x=y"}, 1},
		{`{a=1}{b=2} [c=3][d=4]sofia/gateway/g/1`, map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"}, 1},
		{`{a=1,a=2}[b=1,b=2]sofia/gateway/g/1`, map[string]string{"a": "2", "b": "1"}, 1},
		{`{a=x\,y}sofia/gateway/g/1`, map[string]string{"a": "x,y"}, 1},
		{`{^^:a=x,y:b=z}sofia/gateway/g/1`, map[string]string{"a": "x,y", "b": "z"}, 1},
		{`[a=x,b=y]sofia/gateway/g/1,sofia/gateway/h/2`, map[string]string{"a": "x", "b": "y"}, 2},
		{`[a='x,y']sofia/gateway/g/1`, map[string]string{"a": "x"}, 1}, // quotes are gone after the | split
		{`{a=1,novalue,=,b= 2 }sofia/gateway/g/1`, map[string]string{"a": "1", "b": "2"}, 1},
		{`{leg_timeout=3}sofia/gateway/g/1`, map[string]string{"leg_timeout": "3"}, 1},
	} {
		d, err := Parse(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if got := d.Vars(d.Groups[0][0]); !reflect.DeepEqual(got, tc.want) || len(d.Groups[0]) != tc.legs {
			t.Errorf("%s: vars %v legs %d, want %v %d", tc.in, got, len(d.Groups[0]), tc.want, tc.legs)
		}
	}
	for _, bad := range []string{"", "{a=1", "{a=1}", "[a=1", "[a=1]", "|", "{a=1}|"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// FuzzDialString: the parser never panics, and what it accepts has at
// least one group, each leg an endpoint.
func FuzzDialString(f *testing.F) {
	for _, s := range []string{
		"sofia/gateway/org1_uas/15551230000",
		"{originate_continue_on_timeout=true}[leg_timeout=3]sofia/gateway/org1_noanswer/15551230000|[leg_timeout=10]sofia/gateway/org1_uas/15551230000",
		`{^^:a=x,y:b=z}[^^;c=1;d=2]sofia/gateway/g/1,sofia/gateway/h/2`, `<u=1>{a='x y'}[b=\,]x`, "[[[", "{}}", "\\", "'", "|,|",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		d, err := Parse(in)
		if err != nil {
			return
		}
		if len(d.Groups) == 0 {
			t.Fatalf("%q: accepted without a group", in)
		}
		for _, g := range d.Groups {
			for _, l := range g {
				if l.Endpoint == "" {
					t.Fatalf("%q: a leg without Endpoint", in)
				}
				d.Vars(l)
			}
		}
		again, _ := Parse(in)
		if !reflect.DeepEqual(d, again) {
			t.Fatalf("%q: not deterministic", in)
		}
	})
}
