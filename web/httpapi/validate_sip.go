package httpapi

import (
	"context"
	"strings"

	"github.com/sipbridge/sipbridge/call"
)

// CheckSIPTarget validates a sip:/sips: URI a call may be sent to
// (fallback_transfer_number): sip:user@host[:port][;params] with only the
// characters call.ParseSIPURI allows, and a host the address policy
// allows.
func (s *Server) CheckSIPTarget(ctx context.Context, field, v string) error {
	u, err := call.ParseSIPURI(v, false)
	if err != nil {
		return Invalid(field, "%s: %s", field, strings.TrimPrefix(err.Error(), call.ErrBadSIPURI.Error()+": "))
	}
	if u.User == "" {
		return Invalid(field, "%s sip: URI must be sip:user@host", field)
	}
	return s.CheckHostPortAddress(ctx, field, u.HostPort, true)
}
