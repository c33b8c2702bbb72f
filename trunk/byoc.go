package trunk

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/sipbridge/sipbridge/db"
)

// BYOC numbers: a customer's own carrier number with a trunk of its own
// (termination URI plus optional digest credentials for outbound calls).
// The number's record is the numbers service's; its trunk is made here.

// ErrBadTerminationURI: the termination URI is not sip:host[:port][;params].
var ErrBadTerminationURI = errors.New("terminationUri must be sip:host[:port] (params such as ;transport=tcp allowed)")

// BYOCSettings are a BYOC number's trunk settings sent; nil fields are
// left as they are.
type BYOCSettings struct {
	TerminationURI *string
	Username       *string
	Password       *string
}

func (in BYOCSettings) empty() bool {
	return in.TerminationURI == nil && in.Username == nil && in.Password == nil
}

// ParseTerminationURI returns host[:port] and the transport of a termination URI.
func ParseTerminationURI(uri string) (hostport, transport string, err error) {
	u := strings.TrimSpace(uri)
	lower := strings.ToLower(u)
	switch {
	case strings.HasPrefix(lower, "sips:"):
		u, transport = u[5:], "tls"
	case strings.HasPrefix(lower, "sip:"):
		u = u[4:]
	}
	if i := strings.IndexByte(u, '@'); i >= 0 { // user part is not ours to keep
		u = u[i+1:]
	}
	hostport, params, _ := strings.Cut(u, ";")
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(k, "transport") {
			transport = strings.ToLower(v)
		}
	}
	if transport == "" {
		transport = "udp"
	}
	if transport != "udp" && transport != "tcp" && transport != "tls" {
		return "", "", ErrBadTerminationURI
	}
	host := HostOf(hostport)
	if host == "" || strings.ContainsAny(hostport, " \t\r\n<>\"'&$/?#") {
		return "", "", ErrBadTerminationURI
	}
	if _, port, err := net.SplitHostPort(hostport); err == nil && port == "" {
		return "", "", ErrBadTerminationURI
	}
	return hostport, transport, nil
}

// CreateBYOC makes (and names) the trunk of the BYOC number e164 of orgID,
// credentials sealed. The caller signals Changed once the number is saved
// (and deletes the trunk if it cannot be).
func (t *Service) CreateBYOC(ctx context.Context, orgID int64, e164 string, in BYOCSettings) (*db.SIPTrunk, error) {
	if in.TerminationURI == nil {
		return nil, ErrBadTerminationURI
	}
	tr := &db.SIPTrunk{ID: db.NewID(), OrgID: orgID, Name: "BYOC " + e164, Priority: 1, Enabled: true,
		Register: false, Provider: "byoc"}
	if err := t.applyBYOC(tr, in); err != nil {
		return nil, err
	}
	gw, err := t.GatewayName(ctx, orgID, tr.Name, "")
	if err != nil {
		return nil, err
	}
	tr.GatewayName = gw
	if err := t.store.CreateTrunk(ctx, tr); err != nil {
		return nil, err
	}
	return tr, nil
}

// UpdateBYOC applies the settings sent to a BYOC number's trunk and, when
// any was sent, writes it and signals the change.
func (t *Service) UpdateBYOC(ctx context.Context, tr *db.SIPTrunk, in BYOCSettings) error {
	if err := t.applyBYOC(tr, in); err != nil {
		return err
	}
	if in.empty() {
		return nil
	}
	tr.Status = nil
	if err := t.store.UpdateTrunk(ctx, tr); err != nil {
		return err
	}
	t.Changed(tr.OrgID)
	return nil
}

// byocRules are the trunk rules as the BYOC routes name their fields; the
// trunk's ACL is its termination host's address.
var byocRules = Rules{ACLFromGateway: true, Fields: map[string]string{
	"gateway": "terminationUri", "transport": "terminationUri", "username": "sipUsername", "password": "sipPassword"}}

// applyBYOC merges the settings sent into tr under the trunk rules; a
// refusal names the BYOC route's field and leaves the store untouched.
func (t *Service) applyBYOC(tr *db.SIPTrunk, in BYOCSettings) error {
	s := &Settings{Username: in.Username, Password: in.Password}
	if in.TerminationURI != nil {
		hp, transport, err := ParseTerminationURI(*in.TerminationURI)
		if err != nil {
			return err
		}
		s.Gateway, s.Transport = &hp, &transport
	}
	pw, err := Apply(tr, s, tr.PasswordEnc != "", byocRules)
	if err != nil {
		return err
	}
	if pw != nil {
		return t.store.SetTrunkPassword(tr, *pw)
	}
	return nil
}
