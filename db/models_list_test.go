package db_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/sipbridge/sipbridge/db"
)

// A StringList column reads back as encoding/json reads it, whichever way
// Scan takes.
func TestStringListScan(t *testing.T) {
	for _, in := range []string{`[]`, `["PCMU"]`, `["PCMU","PCMA@8000h@20i"]`, `["203.0.113.0/24","2001:db8::/32"]`,
		`[ "a" ]`, `["a",]`, `["a""b"]`, `["a\"b"]`, `["\u00fc"]`, `["ü"]`, `[""]`, `["",""]`, `["a\\b"]`, `["a","b","c"]`} {
		var want db.StringList
		wantErr := json.Unmarshal([]byte(in), &want)
		var got db.StringList
		err := got.Scan(in)
		if (err != nil) != (wantErr != nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %#v, %v; want %#v, %v", in, got, err, want, wantErr)
		}
	}
	l := db.StringList{"x"}
	if err := l.Scan(`["a",`); err == nil {
		t.Errorf("a broken array read as %#v", l)
	}
}
