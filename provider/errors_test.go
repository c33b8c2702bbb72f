package provider_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/sipbridge/sipbridge/provider"
	"github.com/sipbridge/sipbridge/provider/internal/testkit"
)

func TestHTTPStatus(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{nil, 200},
		{provider.ErrNumberUnavailable, 409},
		{provider.ErrInsufficientBalance, 402},
		{provider.ErrInvalidCredentials, 424},
		{provider.ErrRateLimited, 429},
		{provider.ErrProviderDown, 502},
		{provider.ErrNotFound, 404},
		{provider.ErrNotSupported, 501},
		{provider.ErrBadRequest, 400},
		{provider.ErrInvalidSignature, 403},
		{context.DeadlineExceeded, 504},
		{errors.New("boom"), 500},
		// Wrapped, as clients return them.
		{fmt.Errorf("buying: %w", &provider.Error{Provider: provider.NameTwilio, Kind: provider.ErrNumberUnavailable}), 409},
		{&provider.Error{Provider: provider.NameTelnyx, Kind: provider.ErrInvalidCredentials, Message: "Authentication failed"}, 424},
	}
	for _, tc := range cases {
		if got := testkit.HTTPStatus(tc.err); got != tc.want {
			t.Errorf("HTTPStatus(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestErrorMessageCarriesProviderDetails(t *testing.T) {
	e := &provider.Error{Provider: provider.NameTwilio, Kind: provider.ErrInvalidCredentials, Status: 401, Code: "20003", Message: "Authenticate"}
	want := "twilio: invalid provider credentials: Authenticate (code 20003, http 401)"
	if e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}
}
