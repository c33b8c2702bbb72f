package call

import (
	"testing"
	"time"
)

// TestQueue: items come out in the order pushed, Has looks without taking,
// and a push wakes the consumer once however many came.
func TestQueue(t *testing.T) {
	q := NewQueue[int]()
	select {
	case <-q.Wake():
		t.Fatal("an empty queue woke its consumer")
	default:
	}
	for i := range 3 {
		q.Push(i)
	}
	if !q.Has(func(v int) bool { return v == 2 }) || q.Has(func(v int) bool { return v == 7 }) {
		t.Error("Has should see 2 and not 7")
	}
	select {
	case <-q.Wake():
	case <-time.After(time.Second):
		t.Fatal("a push did not wake the consumer")
	}
	select {
	case <-q.Wake():
		t.Error("three pushes left more than one wake-up")
	default:
	}
	if got := q.Drain(); len(got) != 3 || got[0] != 0 || got[2] != 2 {
		t.Errorf("Drain = %v, want [0 1 2]", got)
	}
	if got := q.Drain(); len(got) != 0 {
		t.Errorf("Drain after Drain = %v, want nothing", got)
	}
}
