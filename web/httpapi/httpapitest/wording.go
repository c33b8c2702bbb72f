// Package httpapitest holds what the handler packages' tests share about
// the HTTP core: the check that a route words the error table's answer in
// its own inputs without changing its status or code.
package httpapitest

import (
	"testing"

	"github.com/sipbridge/sipbridge/web/httpapi"
)

// Wording is one route's answer to one error, as the client sees it.
type Wording struct {
	Name   string
	Err    error // the route's error, already worded (e.g. byocError(err))
	Status int
	Field  string
	// Msg is the message the client reads ("": not checked).
	Msg string
}

// Row is a Wording, in the order a table reads: name, error, status,
// field, message ("": not checked).
func Row(name string, err error, status int, field, msg string) Wording {
	return Wording{Name: name, Err: err, Status: status, Field: field, Msg: msg}
}

// CheckWording fails for each row whose answer has another status, field
// or message than the row says.
func CheckWording(t testing.TB, rows ...Wording) {
	t.Helper()
	for _, r := range rows {
		ae := httpapi.ToAPIError(r.Err)
		if ae.Status != r.Status || ae.Field != r.Field || (r.Msg != "" && ae.Message != r.Msg) {
			t.Errorf("%s: %d field %q %q, want %d field %q %q", r.Name, ae.Status, ae.Field, ae.Message, r.Status, r.Field, r.Msg)
		}
	}
}
