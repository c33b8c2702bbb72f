// Package recording reads the ESL recordings made on a real FreeSWITCH
// (../shared/fixtures/freeswitch, see the README there) that the
// simulator (freeswitch/fstest), the Event Socket client and the e2e
// conformance test compare themselves with, and normalises what differs
// between two runs of one session.
package recording

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Frame is one ESL frame of a recording made on a real FreeSWITCH
// (../shared/fixtures/freeswitch, see the README there).
type Frame struct {
	TMs int64  `json:"t_ms"` // ms since the TCP connect
	Dir string `json:"dir"`  // "c2s" (client to switch) or "s2c"
	Raw string `json:"raw"`  // exact frame text
}

// ErrNoRecordings means the shared fixtures directory could not be found.
var ErrNoRecordings = errors.New("fstest: ../shared/fixtures/freeswitch not found")

// RecordingsDir finds shared/fixtures/freeswitch by walking up from the
// working directory. The project's checkout sits beside shared/, so from any
// package directory one of the parents holds it.
func RecordingsDir() (string, error) {
	if d := os.Getenv("SIPBRIDGE_FIXTURES_DIR"); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		cand := filepath.Join(dir, "shared", "fixtures", "freeswitch")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNoRecordings
		}
		dir = parent
	}
}

// RecordingPath returns the full path of a recording file by name.
func RecordingPath(name string) (string, error) {
	dir, err := RecordingsDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, name), nil
}

// LoadRecording reads an ESL recording (*.jsonl with t_ms/dir/raw lines).
func LoadRecording(name string) ([]Frame, error) {
	p, err := RecordingPath(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var frames []Frame
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var fr Frame
		if err := json.Unmarshal(sc.Bytes(), &fr); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		frames = append(frames, fr)
	}
	return frames, sc.Err()
}

// ListRecordings returns the names of the ESL recordings (*.jsonl files
// whose lines carry "raw" frames, i.e. not the websocket logs *-ws-*).
func ListRecordings() ([]string, error) {
	dir, err := RecordingsDir()
	if err != nil {
		return nil, err
	}
	all, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range all {
		name := filepath.Base(p)
		if matched, _ := filepath.Match("audio-stream-ws-*", name); matched {
			continue
		}
		out = append(out, name)
	}
	return out, nil
}
