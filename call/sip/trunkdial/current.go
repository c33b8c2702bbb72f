package trunkdial

import (
	"strings"
	"sync"
	"time"

	"github.com/sipbridge/sipbridge/call"
	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
)

// Current is the originate a call follows now: started by the call's
// goroutine, fed by the event dispatcher (Observe), read by the call's
// goroutine once the originate has returned (Attempts). Its zero value
// follows nothing.
type Current struct {
	mu sync.Mutex
	t  *Track
}

// Start follows the originate whose sipbridge_dial is id, dialling trunks
// in that order, instead of the one before.
func (c *Current) Start(id string, trunks []db.SIPTrunk) *Track {
	t := NewTrack(id, trunks)
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
	return t
}

// Observe feeds a leg's event to the current originate when it is one of
// its legs (its sipbridge_dial); it never blocks for long.
func (c *Current) Observe(e *esl.Event, now time.Time) {
	dial := e.Get("variable_sipbridge_dial")
	if dial == "" {
		return
	}
	c.mu.Lock()
	t := c.t
	c.mu.Unlock()
	if t != nil && t.ID == dial {
		t.Observe(e, now)
	}
}

// Attempts waits a moment for the legs' last events (they travel on the
// other connection), then lists the trunks tried (Track.Attempts); none
// when nothing is followed. The answered leg's CHANNEL_CREATE came long
// before the answer on the switch but may still be on its way: after
// 300 ms without it, its trunk is asked of its channel (trunkOf: its
// sipbridge_trunk_id), as when the event connection was reconnecting.
func (c *Current) Attempts(answered, final string, now func() time.Time, trunkOf func(leg string) (string, error)) ([]call.DialAttempt, *db.SIPTrunk) {
	c.mu.Lock()
	t := c.t
	c.mu.Unlock()
	if t == nil {
		return nil, nil
	}
	if answered == "" {
		time.Sleep(100 * time.Millisecond)
	} else {
		for i := 0; i < 30 && !t.Has(answered); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		if !t.Has(answered) {
			if tid, err := trunkOf(answered); err == nil {
				t.Observe(&esl.Event{Headers: map[string]string{"Event-Name": "CHANNEL_CREATE", "Unique-ID": answered,
					"variable_sipbridge_trunk_id": strings.TrimSpace(tid)}}, now())
			}
		}
	}
	return t.Attempts(answered, final)
}
