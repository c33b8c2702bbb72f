package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func init() {
	addScenario(scenario{"tls_verify", testTLSVerify})
}

// srcTLSRogue is a TLS carrier whose certificate another CA signed;
// srcTLSGood one of the suite CA (the switch's cafile.pem).
const (
	srcTLSRogue = "127.0.0.79"
	srcTLSGood  = "127.0.0.80"
)

// testTLSVerify: the switch checks the certificate of every carrier it
// connects to over TLS (tls_verify_policy out, the shipped default)
// against its cafile.pem. A carrier whose certificate another CA signed
// gets no request at all: its trunk does not register (the REGISTER
// would time out as FAIL_WAIT, 408, after the 32 s of SIP timer F) and an
// outbound call through it fails (the leg times out, the next trunk is
// tried); the same trunk moved to a carrier of the trusted CA registers.
func testTLSVerify(t *testing.T, b *Bridge) {
	rogueCA, err := newTestCA("e2e rogue CA")
	if err != nil {
		t.Fatal(err)
	}
	rogue := startTLSCarrierOf(t, srcTLSRogue, rogueCA)
	good := startTLSCarrier(t, srcTLSGood)
	asst := StartAssistant(t)
	asstID := b.CreateAssistant(t, "TLS Verify", asst, nil)
	allowFSErrors(t, `o1_tls_rogue Failed Registration with status Request Timeout \[408\]`)
	allowFSErrors(t, `Gateway 'o1_tls_rogue' is down!`) // the call's second trunk, while it registers

	// The registration starts now and is tried while the call is.
	reg := b.CreateTrunk(t, map[string]any{"name": "TLS Rogue", "gateway": fmt.Sprintf("%s:%d", rogue.IP, rogue.Port),
		"username": "rogueuser", "password": "s3cret", "transport": "tls", "expire_seconds": 60, "retry_seconds": 30})
	b.WaitApplied(t, reg.ID, 10*time.Second)

	t.Run("call_refused", func(t *testing.T) {
		tr := b.ipTrunk(t, "TLS Rogue IP", srcTLSRogue, fmt.Sprintf("%s:%d", rogue.IP, rogue.Port), map[string]any{"transport": "tls"})
		const from = "+16478496100"
		b.addNumberOn(t, from, asstID, tr.ID)
		b.SW.WaitQuiet(t, 500*time.Millisecond, 10*time.Second)
		st, body := b.API.Do(t, "POST", "/api/v1/calls/initiate", map[string]any{"from_phone_number": from, "to_phone_number": "+12125556200", "wait": true})
		if st != 502 || !strings.Contains(string(body), `"all_trunks_failed"`) || !strings.Contains(string(body), `"trunk":"TLS Rogue IP"`) {
			t.Errorf("initiate through a carrier of another CA: %d %s, want 502 all_trunks_failed naming the trunk", st, body)
		}
		if n := len(rogue.Requests(sip.INVITE)); n != 0 {
			t.Errorf("the carrier of another CA got %d INVITEs, want none (the switch must refuse its certificate)", n)
		}
	})

	t.Run("register_refused", func(t *testing.T) {
		// The REGISTER has been tried for as long as the call's leg (more
		// than 3 s): no request reached the carrier, and the trunk is not
		// registered. The switch reports the failure only when SIP timer F
		// ends it (FAIL_WAIT, 408, 32 s after the first try), which this
		// does not wait for.
		if tr := b.Trunk(t, reg.ID); tr.GatewayState == "REGED" {
			t.Errorf("the trunk to a carrier of another CA is %s", tr.GatewayState)
		}
		if n := len(rogue.Requests(sip.REGISTER)); n != 0 {
			t.Errorf("the carrier of another CA got %d REGISTERs, want none", n)
		}
		b.UpdateTrunk(t, reg.ID, map[string]any{"gateway": fmt.Sprintf("%s:%d", good.IP, good.Port), "retry_seconds": 5})
		b.WaitApplied(t, reg.ID, 10*time.Second)
		b.WaitTrunk(t, reg.ID, "REGED at the carrier of the trusted CA", 15*time.Second, func(tr Trunk) bool { return tr.GatewayState == "REGED" })
		if len(good.Requests(sip.REGISTER)) == 0 {
			t.Error("the trusted carrier got no REGISTER")
		}
	})
}
