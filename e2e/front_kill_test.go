package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/internal/testkit"
)

// After a node is killed, the carrier sends a call every killCallEvery for
// killCallsFor through Kamailio.
const (
	killCallEvery = 300 * time.Millisecond
	killCallsFor  = 5 * time.Second
	// frTimer is Kamailio's fr_timer (NODE_TIMEOUT in
	// docker/kamailio/kamailio.cfg): an INVITE a node leaves unanswered
	// that long goes to the next node.
	frTimer = time.Second
	// probeInterval is the test Kamailio's PROBE_INTERVAL (e2e/front_test.go).
	probeInterval = time.Second
)

// frontNodeKill: fs2 is killed (SIGKILL: no BYE, no goodbye to Kamailio)
// and the carrier goes on calling Kamailio's one address. Every call is
// answered on fs1 and completed: a call the dispatcher still sends to fs2
// gets no answer there, and Kamailio's failure route marks fs2 failed and
// sends it to fs1 once fr_timer (1 s) has run out; from then on new calls
// go to fs1 at once.
func frontNodeKill(t *testing.T, b *Bridge, sws []*Switch, kam *Kamailio, number string) {
	killed := time.Now()
	if err := sws[1].Kill(); err != nil {
		t.Fatal(err)
	}
	type sent struct {
		from string
		at   time.Time
		uac  *Sipp
	}
	var calls []sent
	for i := 0; time.Since(killed) < killCallsFor; i++ {
		c := toUser(fmt.Sprintf("+141655521%02d", i), number)
		c.HoldMs, c.RecordRoute = 300, true
		at := time.Now()
		uac := StartSipp(t, SippOptions{Scenario: "uac-hold.xml", IP: srcFrontCarrier, Remote: kam.Addr, Calls: 1, Timeout: 20 * time.Second, Data: c})
		calls = append(calls, sent{from: c.From, at: at, uac: uac})
		time.Sleep(time.Until(at.Add(killCallEvery)))
	}
	for _, c := range calls {
		if code := c.uac.Wait(t, 20*time.Second); code != 0 {
			t.Errorf("the call from %s sent %v after the kill: sipp exited %d (%s): %s", c.from, c.at.Sub(killed).Round(time.Millisecond),
				code, sippExit(code), c.uac.Report())
		}
	}
	recs := map[string]Call{}
	testkit.Eventually(t, 10*time.Second, "every record of the calls after the kill ended", func() bool {
		for _, r := range b.Calls(t, "") {
			recs[r.From] = r
		}
		for _, c := range calls {
			if r, ok := recs[c.from]; !ok || r.EndedAt == nil {
				return false
			}
		}
		return true
	}, nil)
	var firstAnswered, lastFailedOver time.Duration
	var rows []string
	failedOver := 0
	for _, c := range calls {
		r, ok := recs[c.from]
		if !ok || r.AnsweredAt == nil || r.Status != "completed" || r.Node != "fs1" {
			t.Errorf("the call from %s sent %v after the kill: %+v, want completed on fs1", c.from, c.at.Sub(killed).Round(time.Millisecond), r)
			continue
		}
		sentAt, setup := c.at.Sub(killed), r.AnsweredAt.Sub(c.at)
		if firstAnswered == 0 {
			firstAnswered = r.AnsweredAt.Sub(killed)
		}
		if setup >= frTimer {
			failedOver++
			lastFailedOver = sentAt
		}
		rows = append(rows, fmt.Sprintf("%v→%v", sentAt.Round(10*time.Millisecond), setup.Round(10*time.Millisecond)))
	}
	t.Logf("node fs2 killed: %d calls in %v, every one answered on fs1; the first answered %v after the kill; %d sent to the dead node "+
		"and moved to fs1 after fr_timer (the last sent %v after the kill); sent→answered: %s",
		len(calls), killCallsFor, firstAnswered.Round(time.Millisecond), failedOver, lastFailedOver.Round(time.Millisecond), strings.Join(rows, " "))
	// fs2 is out of rotation once the first call sent to it has moved on
	// (the failure route marks it failed) or its probes, whose OPTIONS time
	// out after fr_timer too, have missed twice: a call sent more than the
	// probe interval plus fr_timer after the kill goes to fs1 at once.
	for _, c := range calls {
		if r, ok := recs[c.from]; ok && r.AnsweredAt != nil && c.at.Sub(killed) > probeInterval+frTimer && r.AnsweredAt.Sub(c.at) >= frTimer {
			t.Errorf("the call sent %v after the kill still waited %v on the dead node", c.at.Sub(killed).Round(time.Millisecond),
				r.AnsweredAt.Sub(c.at).Round(time.Millisecond))
		}
	}
}
