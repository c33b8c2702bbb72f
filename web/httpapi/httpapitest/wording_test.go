package httpapitest

import (
	"testing"

	"github.com/sipbridge/sipbridge/web/httpapi"
)

type recordingT struct {
	testing.TB
	errors int
}

func (r *recordingT) Helper()               {}
func (r *recordingT) Errorf(string, ...any) { r.errors++ }

// The check passes a row that says what the client reads and fails each
// row that differs in status, field or message.
func TestCheckWordingFailsOnEachDifference(t *testing.T) {
	err := httpapi.Invalid("to", "to must be an E.164 number")
	ok := Wording{Name: "ok", Err: err, Status: 400, Field: "to", Msg: "to must be an E.164 number"}
	rt := &recordingT{}
	CheckWording(rt, ok, Row("any message", err, 400, "to", ""))
	if rt.errors != 0 {
		t.Fatalf("matching rows failed %d times", rt.errors)
	}
	bad := []Wording{ok, ok, ok}
	bad[0].Status, bad[1].Field, bad[2].Msg = 422, "from", "another message"
	CheckWording(rt, bad...)
	if rt.errors != 3 {
		t.Fatalf("three differing rows failed %d times", rt.errors)
	}
}
