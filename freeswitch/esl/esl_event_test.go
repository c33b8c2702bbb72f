package esl

import (
	"errors"
	"maps"
	"slices"
	"testing"
)

func TestDecodeEventJSON(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		headers map[string]string
		multi   map[string][]string
		body    string
	}{
		{
			name:    "strings and body",
			in:      `{"Event-Name":"CUSTOM","Event-Subclass":"sofia::notify_refer","UniqueID":"u1","Content-Length":"16","_body":"SIP/2.0 200 OK\r\n"}`,
			headers: map[string]string{"Event-Name": "CUSTOM", "Event-Subclass": "sofia::notify_refer", "UniqueID": "u1", "Content-Length": "16"},
			body:    "SIP/2.0 200 OK\r\n",
		},
		{
			name:    "array keeps all values, first in Headers",
			in:      `{"variable_sip_i_diversion":["<sip:+1@a>;counter=1","<sip:+2@a>"],"variable_DP_MATCH":["9228","9228"],"empty":[]}`,
			headers: map[string]string{"variable_sip_i_diversion": "<sip:+1@a>;counter=1", "variable_DP_MATCH": "9228", "empty": ""},
			multi: map[string][]string{
				"variable_sip_i_diversion": {"<sip:+1@a>;counter=1", "<sip:+2@a>"},
				"variable_DP_MATCH":        {"9228", "9228"},
				"empty":                    {},
			},
		},
		{
			name:    "escapes",
			in:      `{"a":"q\"b\\s\/n\nt\tu\u00e9\u20ac","emoji":"\ud83d\ude00","lone":"\ud83dx","sdp":"v=0\r\no=-"}`,
			headers: map[string]string{"a": "q\"b\\s/n\nt\tué€", "emoji": "😀", "lone": "\ufffdx", "sdp": "v=0\r\no=-"},
		},
		{
			name:    "non-string values kept as JSON text",
			in:      " {\n \"n\" : 12.5e3 , \"t\":true,\"z\":null,\"o\":{\"k\":[1,\"x\"]},\"mixed\":[1,\"a\",null] }\n",
			headers: map[string]string{"n": "12.5e3", "t": "true", "z": "", "o": `{"k":[1,"x"]}`, "mixed": "1"},
			multi:   map[string][]string{"mixed": {"1", "a", "null"}},
		},
		{
			name:    "duplicate key: last wins",
			in:      `{"k":["a","b"],"k":"c"}`,
			headers: map[string]string{"k": "c"},
			multi:   map[string][]string{"k": {"c"}},
		},
		{name: "empty object", in: `{}`, headers: map[string]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := decodeEventJSON([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(ev.Headers, tc.headers) {
				t.Errorf("Headers %q, want %q", ev.Headers, tc.headers)
			}
			for k, v := range tc.multi {
				if got := ev.Values(k); !slices.Equal(got, v) {
					t.Errorf("Values(%q) = %q, want %q", k, got, v)
				}
			}
			if ev.Body != tc.body {
				t.Errorf("Body %q, want %q", ev.Body, tc.body)
			}
		})
	}
}

func TestDecodeEventJSONErrors(t *testing.T) {
	for _, in := range []string{
		``, `[]`, `{`, `{"a"}`, `{"a":}`, `{"a":"b"`, `{"a":"b",}`, `{"a":"b"} x`,
		`{"a":"b` + "\n" + `"}`, `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":["b"}`, `{"a":01}`,
		`{"a":-}`, `{"a":1.}`, `{"a":tru}`, `{a:"b"}`, `{"a":{"b"}}`,
	} {
		if _, err := decodeEventJSON([]byte(in)); !errors.Is(err, ErrProtocol) {
			t.Errorf("decodeEventJSON(%q) err = %v, want ErrProtocol", in, err)
		}
	}
}

func TestDecodeEventPlain(t *testing.T) {
	in := "Event-Name: BACKGROUND_JOB\n" +
		"FreeSWITCH-IPv6: fd00%3A%3A2\n" +
		"Caller-Caller-ID-Number: %2B14165550100\n" +
		"Literal-Plus: a+b\n" +
		"Bad-Escape: 100%zz%4\n" +
		"variable_DP_MATCH: ARRAY%3A%3A9228%7C%3A9229\n" +
		"Job-UUID: 0c1e2d3f-4a5b-4c6d-8e7f-901a2b3c4d5e\n" +
		"Content-Length: 9\n" +
		"\n" +
		"+OK café\nignored"
	ev, err := decodeEventPlain([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"Event-Name":              "BACKGROUND_JOB",
		"FreeSWITCH-IPv6":         "fd00::2",
		"Caller-Caller-ID-Number": "+14165550100",
		"Literal-Plus":            "a+b",
		"Bad-Escape":              "100%zz%4",
		"variable_DP_MATCH":       "9228",
		"Job-UUID":                "0c1e2d3f-4a5b-4c6d-8e7f-901a2b3c4d5e",
		"Content-Length":          "9",
	}
	if !maps.Equal(ev.Headers, want) {
		t.Errorf("Headers %q, want %q", ev.Headers, want)
	}
	if got := ev.Values("variable_DP_MATCH"); !slices.Equal(got, []string{"9228", "9229"}) {
		t.Errorf("ARRAY values %q", got)
	}
	if ev.Body != "+OK café" {
		t.Errorf("Body %q", ev.Body)
	}
	for _, bad := range []string{
		"Event-Name: X\nContent-Length: 10\n\nshort",
		"Event-Name: X\nno colon here\n\n",
		"Event-Name: X\nContent-Length: x\n\n",
	} {
		if _, err := decodeEventPlain([]byte(bad)); !errors.Is(err, ErrProtocol) {
			t.Errorf("decodeEventPlain(%q) err = %v, want ErrProtocol", bad, err)
		}
	}
}

func TestEventAccessors(t *testing.T) {
	tests := []struct {
		name        string
		ev          *Event
		evName, sub string
		uuid, str   string
	}{
		{
			name:   "channel event",
			ev:     &Event{Headers: map[string]string{"Event-Name": "CHANNEL_PARK", "Unique-ID": "u1", "UniqueID": "other"}},
			evName: "CHANNEL_PARK", uuid: "u1", str: "CHANNEL_PARK",
		},
		{
			name:   "notify_refer names its uuid UniqueID",
			ev:     &Event{Headers: map[string]string{"Event-Name": "CUSTOM", "Event-Subclass": "sofia::notify_refer", "UniqueID": "u2"}},
			evName: "CUSTOM", sub: "sofia::notify_refer", uuid: "u2", str: "CUSTOM sofia::notify_refer",
		},
		{
			name:   "no channel",
			ev:     &Event{Headers: map[string]string{"Event-Name": "HEARTBEAT"}},
			evName: "HEARTBEAT", str: "HEARTBEAT",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ev.Name() != tc.evName || tc.ev.Subclass() != tc.sub || tc.ev.UUID() != tc.uuid || tc.ev.String() != tc.str {
				t.Errorf("Name %q Subclass %q UUID %q String %q", tc.ev.Name(), tc.ev.Subclass(), tc.ev.UUID(), tc.ev.String())
			}
			if got := tc.ev.Values("Event-Name"); !slices.Equal(got, []string{tc.evName}) {
				t.Errorf("Values(Event-Name) = %q", got)
			}
			if got := tc.ev.Values("Absent"); got != nil {
				t.Errorf("Values(Absent) = %q, want nil", got)
			}
		})
	}
}

func TestURLDecode(t *testing.T) {
	tests := map[string]string{
		"":                  "",
		"plain":             "plain",
		"%2BOK%0A":          "+OK\n",
		"a%20b%2fc":         "a b/c",
		"trailing%":         "trailing%",
		"short%4":           "short%4",
		"%zz":               "%zz",
		"Sun,%2022%20Nov":   "Sun, 22 Nov",
		"%E2%82%AC":         "€",
		"a+b":               "a+b",
		"%%41":              "%A",
		"sofia/external/%2": "sofia/external/%2",
	}
	for in, want := range tests {
		if got := urlDecode(in); got != want {
			t.Errorf("urlDecode(%q) = %q, want %q", in, got, want)
		}
	}
}
