package sms

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
)

// FuzzFlatJSON: a webhook body read as signed parameters never panics, and
// what it accepts is the body's scalars as written (nested values refused).
func FuzzFlatJSON(f *testing.F) {
	f.Add([]byte(`{"msisdn":"447700900001","to":"447700900000","text":"hi","sig":"abc","timestamp":1733076000}`))
	f.Add([]byte(`{"a":true,"b":{"c":1}}`))
	f.Add([]byte(`{"n":1e3,"s":"\u00e9"}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := flatJSON(body)
		if err != nil {
			return
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("accepted %q that does not decode: %v", body, err)
		}
		if len(got) != len(m) {
			t.Fatalf("%q: %d parameters from %d fields", body, len(got), len(m))
		}
		for k, v := range m {
			var want string
			switch x := v.(type) {
			case string:
				want = x
			case json.Number:
				want = x.String()
			case bool:
				want = strconv.FormatBool(x)
			default:
				t.Fatalf("%q: nested value %q accepted", body, k)
			}
			if got.Get(k) != want {
				t.Fatalf("%q: %s = %q, want %q", body, k, got.Get(k), want)
			}
		}
	})
}
