package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/call/sip"
	"github.com/sipbridge/sipbridge/netpolicy"
)

// TestTransferHostCheckedAtTransferTime: the host of a sip: transfer target
// goes through the address policy when the transfer happens. The API gets
// 403 address_not_allowed naming `to`; the assistant's transfer event is
// refused with the reason in the timeline and the call stays with the
// assistant; nothing is sent to the switch.
func TestTransferHostCheckedAtTransferTime(t *testing.T) {
	// Loopback allowed (the fake assistant and trunk are on 127.0.0.1),
	// private networks not: internal.example resolves to 10.1.2.3.
	ce := newCallEnv(t, func(o *sip.CallsOptions) {
		o.AddressPolicy = &netpolicy.Policy{AllowLoopback: true, Resolver: testResolver}
	})
	ce.addNumber("+16478491000", ce.assistant.ID)
	ce.allowCountries("CA")
	uuid, ac, rec := ce.liveCall()
	for _, to := range []string{"sip:desk@10.1.2.3", "sip:+14165550199@internal.example:5060", "sips:desk@[fd00::1]"} {
		r := ce.do("POST", "/api/v1/calls/"+rec.ID+"/transfer", ce.keyA, map[string]any{"to": to})
		if r.Status != 403 || r.errCode() != "address_not_allowed" || r.errField() != "to" || !strings.Contains(r.Raw, "private") {
			t.Errorf("%s: %d %s", to, r.Status, r.Raw)
		}
	}
	if r := ce.do("POST", "/api/v1/calls/"+rec.ID+"/transfer", ce.keyA, map[string]any{"to": "sip:a@b>;foo"}); r.Status != 400 || r.errField() != "to" {
		t.Errorf("bad URI: %d %s", r.Status, r.Raw)
	}

	_ = ac.send(map[string]any{"event": "transfer", "transfer": map[string]any{"to": "sip:desk@internal.example"}})
	if !waitUntil(3*time.Second, func() bool {
		r := ce.mustDo("GET", "/api/v1/calls/"+rec.ID+"/events", ce.keyA, nil, 200)
		return strings.Count(r.Raw, `"type":"transfer_failed"`) >= 4 && strings.Contains(r.Raw, "internal.example resolves to 10.1.2.3")
	}) {
		t.Fatalf("timeline: %s", ce.mustDo("GET", "/api/v1/calls/"+rec.ID+"/events", ce.keyA, nil, 200).Raw)
	}
	if c := ce.commandsWith("uuid_deflect"); len(c) != 0 {
		t.Fatalf("a REFER was sent: %q", c)
	}
	if c := ce.commandsWith("uuid_audio_stream " + uuid + " stop"); len(c) != 0 {
		t.Fatalf("the stream was stopped: %q", c)
	}
	n := ac.mediaCount()
	if !waitUntil(2*time.Second, func() bool { return ac.mediaCount() > n+10 }) {
		t.Fatal("the assistant stopped hearing the caller after a refused transfer")
	}

	// A public host is let through: the REFER goes out.
	ce.mustDo("POST", "/api/v1/calls/"+rec.ID+"/transfer", ce.keyA, map[string]any{"to": "sip:desk@203.0.113.9"}, 202)
	ce.waitCommand("uuid_deflect "+uuid+" sip:desk@203.0.113.9", 3*time.Second)
}
