package fstest

import (
	"encoding/json"
	"strings"
	"testing"
)

// channelEventNames lists a recording's channel event names in order
// (HEARTBEAT, RE_SCHEDULE, API and CODEC left out).
func channelEventNames(t *testing.T, rec string) []string {
	frames, err := LoadRecording(rec)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range frames {
		if f.Dir != "s2c" || !strings.Contains(f.Raw, "text/event-json") {
			continue
		}
		_, body, _ := strings.Cut(f.Raw, "\n\n")
		var m map[string]any
		json.Unmarshal([]byte(body), &m)
		switch n, _ := m["Event-Name"].(string); n {
		case "HEARTBEAT", "RE_SCHEDULE", "API", "CODEC", "CUSTOM", "":
		default:
			out = append(out, n+"/"+m["Channel-State"].(string))
		}
	}
	return out
}

func TestInboundCallEventsAsRecorded(t *testing.T) {
	s := New(Options{GenDir: t.TempDir()})
	s.Start()
	defer s.Close()
	c := dial(t, s)
	c.send("auth ClueCon\n\n")
	c.reply()
	c.send("event json ALL\n\n")
	c.reply()
	id, err := s.Call(InboundCall{FromUser: "+14165550100", RequestUser: "9228",
		Headers: map[string][]string{"Diversion": {"<sip:+16478491001@pbx.example.com>;reason=unconditional;counter=1", "<sip:+16478491000@pbx.example.com>;reason=user-busy;counter=1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if r := s.exec("uuid_answer " + id); r != "+OK\n" {
		t.Fatalf("uuid_answer %q", r)
	}
	if r := s.exec("uuid_kill " + id); r != "+OK\n" {
		t.Fatalf("uuid_kill %q", r)
	}
	if r := s.exec("uuid_kill " + id); !strings.HasPrefix(r, "-ERR") {
		t.Fatalf("second kill %q", r)
	}
	var got []string
	var create map[string]any
	for len(got) < len(channelEventNames(t, "inbound-answer-hangup.jsonl")) {
		_, body, _ := strings.Cut(c.frame(), "\n\n")
		var m map[string]any
		json.Unmarshal([]byte(body), &m)
		got = append(got, m["Event-Name"].(string)+"/"+m["Channel-State"].(string))
		if m["Event-Name"] == "CHANNEL_CREATE" {
			create = m
		}
	}
	if want := channelEventNames(t, "inbound-answer-hangup.jsonl"); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("events\n got  %v\n want %v", got, want)
	}
	// The repeated header is an array, top first; sip_h_ keeps the bottom one (inbound-headers-b).
	arr, ok := create["variable_sip_i_diversion"].([]any)
	if !ok || len(arr) != 2 || !strings.Contains(arr[0].(string), "491001") ||
		!strings.Contains(create["variable_sip_h_Diversion"].(string), "491000") || create["Caller-Destination-Number"] != "9228" {
		t.Fatalf("CHANNEL_CREATE variables: %v %v", create["variable_sip_i_diversion"], create["variable_sip_h_Diversion"])
	}
}
