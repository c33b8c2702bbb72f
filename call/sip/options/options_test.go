package options

import (
	"testing"
	"time"
)

// Unset options get their documented defaults; set ones are kept, the
// websocket base without its trailing slash.
func TestWithDefaults(t *testing.T) {
	d := Options{}.WithDefaults()
	if d.StreamWSBase != "ws://127.0.0.1:8080" || d.StreamConnectTimeout != 3*time.Second || d.HeartBeat != 15 ||
		d.ChannelCheck != 30*time.Second || d.SwitchLostAfter != 2*time.Minute || d.Profile != "external" ||
		d.LegTimeout != 30*time.Second || d.Now == nil || d.AssistantConnectTimeout <= 0 {
		t.Fatalf("defaults: %+v", d)
	}
	set := Options{StreamWSBase: "wss://sb.example.com/", HeartBeat: 5, Profile: "internal", LegTimeout: time.Second}.WithDefaults()
	if set.StreamWSBase != "wss://sb.example.com" || set.HeartBeat != 5 || set.Profile != "internal" || set.LegTimeout != time.Second {
		t.Fatalf("set: %+v", set)
	}
}
