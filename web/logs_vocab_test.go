package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// retiredLogKeys are names the log vocabulary replaced (README, Logs):
// the trunk is "trunk" (its gateway name), durations are *_ms numbers.
var retiredLogKeys = map[string]string{
	"gateway":  "trunk",
	"trunk_id": "trunk",
	"uuid":     "call_uuid",
	"retry_in": "retry_in_ms",
	"backoff":  "backoff_ms",
	"timeout":  "timeout_ms",
	"esl":      "component=esl",
}

// checkLogVocabulary fails on a log line that is not one JSON object, names
// a key twice, uses a retired key, or gives a *_ms duration as anything
// but a number. Every call test's harness runs it on all it logged.
func checkLogVocabulary(t testing.TB, logs string) {
	t.Helper()
	for i, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if line == "" {
			continue
		}
		if err := checkLogLine(line); err != nil {
			t.Errorf("log line %d: %v\n%s", i+1, err, line)
		}
	}
}

func checkLogLine(line string) error {
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	return checkObject(dec, "")
}

// checkObject reads one JSON object from dec, the keys at every level.
func checkObject(dec *json.Decoder, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("%s: not an object", path)
	}
	seen := map[string]bool{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return err
		}
		key := kt.(string)
		if seen[key] {
			return fmt.Errorf("key %q twice in %q", key, path)
		}
		seen[key] = true
		if path == "" {
			if repl, ok := retiredLogKeys[key]; ok {
				return fmt.Errorf("key %q: the vocabulary says %s", key, repl)
			}
		}
		if err := checkValue(dec, path+"."+key, strings.HasSuffix(key, "_ms")); err != nil {
			return err
		}
	}
	_, err = dec.Token() // '}'
	return err
}

func checkValue(dec *json.Decoder, path string, number bool) error {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	raw = bytes.TrimSpace(raw)
	if number {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return fmt.Errorf("%s = %s: a duration must be a number of milliseconds", path, raw)
		}
	}
	if len(raw) > 0 && raw[0] == '{' {
		return checkObject(json.NewDecoder(bytes.NewReader(raw)), path)
	}
	return nil
}

// The checker itself: what it must refuse, and what it lets through.
func TestLogVocabularyChecker(t *testing.T) {
	for _, tc := range []struct {
		line string
		ok   bool
	}{
		{`{"level":"INFO","msg":"call ended","call_id":"c1","org_id":3,"trunk":"o3_pbx","down_ms":120}`, true},
		{`{"msg":"x","err":{"op":"dial","net":"tcp"}}`, true},
		{`{"msg":"x","call_id":"a","call_id":"b"}`, false},
		{`{"msg":"x","gateway":"o3_pbx"}`, false},
		{`{"msg":"x","retry_in_ms":"1s"}`, false},
		{`{"msg":"x","req":{"id":1,"id":2}}`, false},
		{`not json`, false},
	} {
		err := checkLogLine(tc.line)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err %v, want ok=%v", tc.line, err, tc.ok)
		}
	}
}
