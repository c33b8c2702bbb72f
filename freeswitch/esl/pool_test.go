package esl_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/freeswitch/esl"
	"github.com/sipbridge/sipbridge/internal/testkit"
)

// A pool spreads commands over its connections, every reply reaches its
// caller, and commands keep going on the connections that stay up.
func TestPoolSpreadsCommands(t *testing.T) {
	fs := newFakeFS(t, "ClueCon")
	p := esl.NewPool(3, fs.addr(), "ClueCon", esl.WithHeartbeat(time.Hour, time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if !testkit.Until(5*time.Second, func() bool { return fs.sessionCount() == 3 && p.Connected() }) {
		t.Fatalf("%d sessions", fs.sessionCount())
	}
	time.Sleep(50 * time.Millisecond) // all three subscribed
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := "uuid_setvar x v" + strconv.Itoa(i)
			got, err := p.API(ctx, cmd)
			if err != nil || got != "+OK "+cmd+"\n" {
				errs <- errors.New(cmd + ": " + got)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got, err := p.BGAPI(ctx, "originate x &park()"); err != nil || got != "+OK originate x &park()\n" {
		t.Fatalf("bgapi %q %v", got, err)
	}
	fs.mu.Lock()
	sessions := append([]*fakeSession(nil), fs.sessions...)
	fs.mu.Unlock()
	for _, s := range sessions {
		s.mu.Lock()
		n := len(s.cmds)
		s.mu.Unlock()
		if n < 10 { // auth + subscription + about a third of the 61 commands
			t.Errorf("session %d got %d commands: the pool does not spread them", s.n, n)
		}
	}
}
