//go:build linux

package sip_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/call/sip"
	"github.com/sipbridge/sipbridge/db/dbtest"
	"github.com/sipbridge/sipbridge/freeswitch/esl"
	"gorm.io/gorm"
)

// A previous process frozen past its lease (a stalled VM) leaves its
// playback pipe open and empty: the channel's session thread waits in its
// read (no caller audio to any media bug, uuid_break unseen). The next
// process's adoption breaks that playback and feeds the pipe silence until
// the channel lets go of it: the new assistant socket gets the caller's
// audio, and one fork only is attached.
func TestAdoptAfterAFrozenProcess(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, g *gorm.DB) {
		r := newAdoptRig(t, g)
		ctx := context.Background()
		first := r.startConnected(sip.ShutdownHandoff)
		live, rec := r.liveCall("+14165551100")
		first.Close()

		// What the frozen process holds: its pipe, open for reading and
		// writing, playing on the channel, nothing written any more.
		fifo := filepath.Join(t.TempDir(), rec.ID+".PCMU")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		fd, err := syscall.Open(fifo, syscall.O_RDWR|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(fd)
		if _, err := syscall.Write(fd, bytes.Repeat([]byte{0xFF}, 320)); err != nil {
			t.Fatal(err)
		}
		cli := esl.New(r.sw.Addr(), "ClueCon")
		if err := cli.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		if !waitFor(5*time.Second, cli.Connected) {
			t.Fatal("no Event Socket connection to the switch")
		}
		if out, err := cli.API(ctx, "uuid_broadcast "+live+" "+fifo+" aleg"); err != nil {
			t.Fatal(err, out)
		}
		if !waitFor(5*time.Second, func() bool { return r.sw.PlaybackStalls(live) >= 5 }) {
			t.Fatal("the frozen process's pipe never held the channel")
		}

		r.startApp(sip.ShutdownHangup)
		if !waitFor(5*time.Second, func() bool { c, ok := r.asst.conn(1); return ok && c.media >= 5 }) {
			c, _ := r.asst.conn(1)
			t.Fatalf("the adopted call's caller audio never reached the new assistant socket (%d media)", c.media)
		}
		stalls := r.sw.PlaybackStalls(live)
		time.Sleep(200 * time.Millisecond)
		if n := r.sw.PlaybackStalls(live); n != stalls {
			t.Errorf("the channel is still held by the old pipe: %d more stalls", n-stalls)
		}
		bugs, err := cli.API(ctx, "uuid_buglist "+live)
		if err != nil || strings.Count(bugs, "<function>audio_stream</function>") != 1 {
			t.Errorf("the channel's media bugs: %q, %v; want one audio_stream", bugs, err)
		}
	})
}
