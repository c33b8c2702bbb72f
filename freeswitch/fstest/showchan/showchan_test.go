package showchan

import (
	"encoding/json"
	"testing"
)

// The shapes the real switch answered: no rows with a space and a
// newline; rows in one compact object whose columns keep their order.
func TestJSON(t *testing.T) {
	if got := JSON(nil); got != "{\"row_count\": 0}\n" {
		t.Fatalf("no channel: %q", got)
	}
	got := JSON([]Row{{"uuid": "u1", "direction": "inbound", "callstate": "ACTIVE", "cid_name": `a"b`}})
	want := `{"row_count":1,"rows":[{"uuid":"u1","direction":"inbound","created":"","created_epoch":"","name":"","state":"","cid_name":"a\"b",`
	if len(got) < len(want) || got[:len(want)] != want {
		t.Fatalf("one channel:\n%s\nwant it to start\n%s", got, want)
	}
	var out struct {
		RowCount int                 `json:"row_count"`
		Rows     []map[string]string `json:"rows"`
	}
	if err := json.Unmarshal([]byte(got), &out); err != nil || out.RowCount != 1 || len(out.Rows[0]) != len(Columns) || out.Rows[0]["callstate"] != "ACTIVE" {
		t.Fatalf("%+v %v", out, err)
	}
}
