package esl

import (
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestDispatcherOrderAndNoBlocking(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	seen := map[string][]int{}
	d := newDispatcher(4, func(ev *Event) {
		<-release
		n, _ := strconv.Atoi(ev.Get("Seq"))
		mu.Lock()
		seen[ev.UUID()] = append(seen[ev.UUID()], n)
		mu.Unlock()
	}, slog.New(slog.DiscardHandler))

	// Every handler is stuck: enqueue must still return at once.
	const perKey = 3000
	keys := []string{"a", "b", "c", "d", "e", ""}
	start := time.Now()
	for i := range perKey {
		for _, k := range keys {
			d.enqueue(&Event{Headers: map[string]string{"Unique-ID": k, "Seq": strconv.Itoa(i)}})
		}
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("enqueue blocked behind stuck handlers (%v)", el)
	}
	close(release)
	d.close() // drains before returning
	for _, k := range keys {
		got := seen[k]
		if len(got) != perKey {
			t.Fatalf("key %q: %d events handled, want %d (none may be dropped)", k, len(got), perKey)
		}
		for i, n := range got {
			if n != i {
				t.Fatalf("key %q: event %d has seq %d (out of order)", k, i, n)
			}
		}
	}
}

func TestDispatcherRecoversPanics(t *testing.T) {
	var mu sync.Mutex
	var handled []string
	d := newDispatcher(1, func(ev *Event) {
		if ev.Name() == "BOOM" {
			panic("handler bug")
		}
		mu.Lock()
		handled = append(handled, ev.Name())
		mu.Unlock()
	}, slog.New(slog.DiscardHandler))
	for _, n := range []string{"A", "BOOM", "B"} {
		d.enqueue(&Event{Headers: map[string]string{"Event-Name": n}})
	}
	d.close()
	if fmt.Sprint(handled) != "[A B]" {
		t.Errorf("handled %v, want [A B]", handled)
	}
}

func TestNextBackoff(t *testing.T) {
	tests := []struct{ cur, max, want time.Duration }{
		{time.Second, 30 * time.Second, 2 * time.Second},
		{20 * time.Second, 30 * time.Second, 30 * time.Second},
		{30 * time.Second, 30 * time.Second, 30 * time.Second},
		{1 << 62, 30 * time.Second, 30 * time.Second}, // overflow
	}
	for _, tc := range tests {
		if got := nextBackoff(tc.cur, tc.max); got != tc.want {
			t.Errorf("nextBackoff(%v, %v) = %v, want %v", tc.cur, tc.max, got, tc.want)
		}
	}
}
