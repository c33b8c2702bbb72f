package trunkdial

import (
	"errors"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
)

// The dial string FreeSWITCH's originate gets: the asked-for trunk first,
// then by priority and name, disabled trunks left out, each leg with its
// ring time and trunk id, the originate timeout above the longest ring, and
// nothing that could break the string.
func TestDialString(t *testing.T) {
	trunks := []db.SIPTrunk{
		{ID: "b", Name: "Bravo", GatewayName: "gw_b", Priority: 2, Enabled: true},
		{ID: "a", Name: "alpha", GatewayName: "gw_a", Priority: 2, Enabled: true, RingTimeoutSeconds: 45},
		{ID: "off", Name: "Off", GatewayName: "gw_off", Priority: 1, Enabled: false},
		{ID: "c", Name: "Charlie", GatewayName: "gw_c", Priority: 1, Enabled: true},
	}
	got, err := DialString(trunks, "b", "+14165550100", Options{CallerID: "+16475550123", LegTimeout: 20 * time.Second,
		Vars: map[string]string{"sipbridge_call_id": "c1", "bad": "x,y", "z{": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "{originate_continue_on_timeout=true,ignore_early_media=true,origination_caller_id_number=16475550123,sipbridge_call_id=c1,originate_timeout=46}" +
		"[leg_timeout=20,sipbridge_trunk_id=b]sofia/gateway/gw_b/14165550100|" +
		"[leg_timeout=20,sipbridge_trunk_id=c]sofia/gateway/gw_c/14165550100|" +
		"[leg_timeout=45,sipbridge_trunk_id=a]sofia/gateway/gw_a/14165550100"
	if got != want {
		t.Fatalf("dial string\n got  %s\n want %s", got, want)
	}
	if MaxDialTime(got, 20*time.Second) != 15*time.Second+85*time.Second {
		t.Fatalf("MaxDialTime %v, want 100s", MaxDialTime(got, 20*time.Second))
	}
	plus, _ := DialString(trunks[3:], "", "+14165550100", Options{LeadingPlus: true})
	if want := "{originate_continue_on_timeout=true,ignore_early_media=true,originate_timeout=31}[leg_timeout=30,sipbridge_trunk_id=c]sofia/gateway/gw_c/+14165550100"; plus != want {
		t.Fatalf("with the leading plus\n got  %s\n want %s", plus, want)
	}
	if _, err := DialString(trunks, "", "14165550100", Options{}); !errors.Is(err, call.ErrBadTransferTarget) {
		t.Fatalf("a number that is not E.164: %v", err)
	}
	if _, err := DialString(trunks[2:3], "", "+14165550100", Options{}); !errors.Is(err, call.ErrNoEnabledTrunk) {
		t.Fatalf("no enabled trunk: %v", err)
	}
}
