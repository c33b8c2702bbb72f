package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sipbridge/sipbridge/assistant"
	"github.com/sipbridge/sipbridge/audio"
	"github.com/sipbridge/sipbridge/internal/testkit"
	"github.com/sipbridge/sipbridge/internal/tone"
)

// `sipbridge echo-assistant` serves the echo assistant: a stream gets its
// audio back, and the command stops cleanly when asked.
func TestEchoAssistantCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &testkit.LogBuffer{}
	env := func(string) string { return "" }
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"echo-assistant", "--addr", "127.0.0.1:0", "--delay", "100ms"}, env, io.Discard, stderr)
	}()
	var streamURL string
	deadline := time.Now().Add(5 * time.Second)
	for streamURL == "" && time.Now().Before(deadline) {
		for _, l := range strings.Split(stderr.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && strings.HasPrefix(m["msg"].(string), "echo assistant listening") {
				streamURL, _ = m["stream_url"].(string)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if streamURL == "" {
		t.Fatalf("no listening line naming the stream_url: %s", stderr.String())
	}
	st, err := assistant.Dial(ctx, streamURL, assistant.StartInfo{From: "+14165550100", To: "+16478491000"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pcm := tone.Generate(1004, 8000, 20, 8000)
	ulaw := make([]byte, len(pcm))
	audio.MulawEncode(ulaw, pcm)
	sent := time.Now()
	if err := st.SendMedia(ulaw); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-st.Messages():
		if m.Event != assistant.EventMedia || !bytes.Equal(m.Payload, ulaw) {
			t.Errorf("got %s %x, want the frame sent", m.Event, m.Payload)
		}
		if lag := time.Since(sent); lag < 100*time.Millisecond {
			t.Errorf("echoed after %v, before the 100 ms --delay", lag)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no echo within 3 s")
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit %d: %s", c, stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("echo-assistant did not stop with its context")
	}
	if !strings.Contains(stderr.String(), `"msg":"echo: stream ended"`) {
		t.Errorf("no end-of-stream line: %s", stderr.String())
	}
}

func TestEchoAssistantCommandUsage(t *testing.T) {
	for _, args := range [][]string{{"--delay", "0s"}, {"--nope"}, {"extra"}} {
		var stderr bytes.Buffer
		if c := run(context.Background(), append([]string{"echo-assistant"}, args...), func(string) string { return "" }, io.Discard, &stderr); c != 2 ||
			!strings.Contains(stderr.String(), "echo-assistant") {
			t.Errorf("%v: exit %d, %s", args, c, stderr.String())
		}
	}
}
