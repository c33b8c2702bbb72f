package trunkapi

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// appendJSON writes what encoding/json writes, for every field of the
// view (filled by reflection, so a field added to trunkView and not to
// appendJSON fails here) and strings that need escaping.
func TestTrunkViewJSONAsEncodingJSON(t *testing.T) {
	strs := []string{"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnew\nline\r\x00\x1f\b\f",
		"ünïcödé ☎", "line\u2028sep\u2029", "bad \xff utf-8", "\x7f del"}
	zone := time.FixedZone("x", 2*3600+30*60)
	times := []time.Time{{}, time.Date(2026, 12, 2, 23, 4, 5, 123456000, time.UTC), time.Date(1999, 1, 2, 3, 4, 5, 0, zone), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)}
	for i := range 40 {
		var v trunkView
		fill(reflect.ValueOf(&v).Elem(), i, strs, times)
		if i%3 == 0 {
			v.AllowedAddresses, v.Codecs, v.SyncStatus.AppliedAt, v.Nodes = nil, []string{}, nil, nil
		}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := v.appendJSON(nil); string(got) != string(want) {
			t.Fatalf("view %d:\n got %s\nwant %s", i, got, want)
		}
		if !v.timesEncodable() {
			t.Fatalf("view %d: times said not encodable", i)
		}
	}
	if v := (trunkView{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}); v.timesEncodable() {
		t.Fatal("year 10000 said encodable (encoding/json refuses it)")
	}
}

// fill sets every field of v, reflection deep, from seed.
func fill(v reflect.Value, seed int, strs []string, times []time.Time) {
	for f := range v.NumField() {
		fv, k := v.Field(f), seed+f
		switch fv.Interface().(type) {
		case time.Time:
			fv.Set(reflect.ValueOf(times[k%len(times)]))
			continue
		case *time.Time:
			at := times[(k+1)%len(times)]
			fv.Set(reflect.ValueOf(&at))
			continue
		}
		switch fv.Kind() {
		case reflect.String:
			fv.SetString(strs[k%len(strs)])
		case reflect.Bool:
			fv.SetBool(k%2 == 0)
		case reflect.Int:
			fv.SetInt(int64(k*7919 - 3000))
		case reflect.Slice:
			if fv.Type().Elem().Kind() == reflect.Struct { // the nodes: two entries
				fv.Set(reflect.MakeSlice(fv.Type(), 2, 2))
				fill(fv.Index(0), k, strs, times)
				fill(fv.Index(1), k+5, strs, times)
				continue
			}
			fv.Set(reflect.ValueOf([]string{strs[k%len(strs)], strs[(k+3)%len(strs)]}))
		case reflect.Struct:
			fill(fv, k, strs, times)
		default:
			panic("fill: a field of kind " + fv.Kind().String())
		}
	}
}
