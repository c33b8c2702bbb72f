package sip_test

import (
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"
)

// TestSetupReadsAssistantWithRecord: a parked call's assistant is read
// while its record is written, not after (under load each database round
// trip before the answer waits its turn for the CPU), and the call still
// streams to its assistant. The record's insert waits for the assistant's
// read to begin, 2 s at most, and notes whether it did.
func TestSetupReadsAssistantWithRecord(t *testing.T) {
	r := newCallRig(t)
	g := r.app.Store.DB
	var mu sync.Mutex
	began := make(chan struct{})
	var once sync.Once
	overlapped := false
	err := g.Callback().Query().Before("gorm:query").Register("test:assistant_read", func(tx *gorm.DB) {
		if tx.Statement.Table == "assistants" {
			once.Do(func() { close(began) })
		}
	})
	if err == nil {
		err = g.Callback().Create().Before("gorm:create").Register("test:call_insert", func(tx *gorm.DB) {
			if tx.Statement.Table != "calls" {
				return
			}
			select {
			case <-began:
				mu.Lock()
				overlapped = true
				mu.Unlock()
			case <-time.After(2 * time.Second):
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	uuids := r.place(1, 0, 10*time.Second)
	r.hangUp(uuids, 10*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if !overlapped {
		t.Error("the call's record was written before its assistant was read: the setup waited for one round trip after the other")
	}
}
