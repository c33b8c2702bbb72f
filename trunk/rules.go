package trunk

import (
	"errors"
	"strings"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/field"
)

// Settings are a trunk's fields as sent (API names in the comments); nil
// fields are left as they are.
type Settings struct {
	Name             *string
	Gateway          *string // host[:port]
	Username         *string
	Password         *string
	Priority         *int
	Enabled          *bool
	Register         *bool
	Realm            *string
	Proxy            *string
	Transport        *string
	SRTP             *string // srtp: off | optional | mandatory
	FromUser         *string
	FromDomain       *string
	CallerIDInFrom   *bool
	ExpireSeconds    *int
	RetrySeconds     *int
	PingSeconds      *int
	AllowedAddresses *[]string
	Codecs           *[]string
	Provider         *string
	InboundEnabled   *bool
	TransferMode     *string // bridge | refer
	ReferToTemplate  *string
	RingTimeout      *int // ring_timeout_seconds
}

// Rules are the platform's parts of the trunk rules.
type Rules struct {
	ACL ACLLimits // bounds of allowed_addresses entries
	// ReferTemplate checks a refer_to_template (the SIP URI rules of the
	// call path); nil accepts any.
	ReferTemplate func(string) error
	// Fields are the route's own names of the trunk fields it sets
	// (gateway → terminationUri for a BYOC number): a refusal names the
	// route's field. Nil: the SIP trunks API's names.
	Fields map[string]string
	// ACLFromGateway: the trunk's ACL is its gateway's address (BYOC, the
	// organization's and the environment's trunks), so an IP-auth trunk
	// needs no allowed_addresses.
	ACLFromGateway bool
}

// named renames a refusal to the route's field: its Field, and the name
// its message starts with.
func (r Rules) named(err error) error {
	var fe *field.Error
	if !errors.As(err, &fe) {
		return err
	}
	name, ok := r.Fields[fe.Field]
	if !ok {
		return err
	}
	msg := fe.Message
	if rest, found := strings.CutPrefix(msg, fe.Field); found {
		msg = name + rest
	}
	return &field.Error{Field: name, Message: msg}
}

// Apply merges the settings sent into t and checks the result: each
// field's form, then what the trunk as a whole needs (a registration
// trunk's credentials, an IP-auth trunk's addresses, transfer_mode=refer's
// template). passwordSet tells whether t holds a password already. It
// returns the new password when one was sent; a refusal is a *field.Error.
func Apply(t *db.SIPTrunk, in *Settings, passwordSet bool, r Rules) (newPassword *string, err error) {
	newPassword, err = apply(t, in, passwordSet, r)
	if err != nil {
		return nil, r.named(err)
	}
	return newPassword, nil
}

func apply(t *db.SIPTrunk, in *Settings, passwordSet bool, r Rules) (newPassword *string, err error) {
	if newPassword, err = applyIdentity(t, in); err != nil {
		return nil, err
	}
	if newPassword != nil {
		passwordSet = *newPassword != ""
	}
	steps := []func(*db.SIPTrunk, *Settings, Rules) error{applyHosts, applyTimers, applyACL, applyCall}
	for _, step := range steps {
		if err := step(t, in, r); err != nil {
			return nil, err
		}
	}
	if err := complete(t, passwordSet, r); err != nil {
		return nil, err
	}
	return newPassword, nil
}

// applyIdentity: name, gateway, credentials, priority, enabled, register.
func applyIdentity(t *db.SIPTrunk, in *Settings) (newPassword *string, err error) {
	if in.Name != nil {
		if strings.TrimSpace(*in.Name) == "" {
			return nil, field.Invalid("name", "name must not be empty")
		}
		if err := setText(&t.Name, in.Name, "name", 100); err != nil {
			return nil, err
		}
	}
	if t.Name == "" {
		return nil, field.Invalid("name", "name is required")
	}
	if in.Gateway != nil {
		t.Gateway = strings.TrimSpace(*in.Gateway)
	}
	if err := field.HostPort("gateway", t.Gateway, true); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		dst   *string
		src   *string
		field string
	}{{&t.Username, in.Username, "username"}, {&t.FromUser, in.FromUser, "from_user"}} {
		if f.src != nil {
			if err := field.Token(f.field, *f.src, 128); err != nil {
				return nil, err
			}
			*f.dst = *f.src
		}
	}
	if in.Password != nil {
		if err := field.Token("password", *in.Password, 128); err != nil {
			return nil, err
		}
		newPassword = in.Password
	}
	if in.Priority != nil {
		if *in.Priority < 0 || *in.Priority > 1_000_000 {
			return nil, field.Invalid("priority", "priority must be ≥ 0 (lower is tried first)")
		}
		t.Priority = *in.Priority
	}
	if in.Enabled != nil {
		t.Enabled = *in.Enabled
	}
	if in.Register != nil {
		t.Register = *in.Register
	}
	return newPassword, nil
}

// applyHosts: realm, proxy, from_domain, transport, srtp, caller_id_in_from.
func applyHosts(t *db.SIPTrunk, in *Settings, _ Rules) error {
	for _, f := range []struct {
		dst   *string
		src   *string
		field string
	}{{&t.Realm, in.Realm, "realm"}, {&t.Proxy, in.Proxy, "proxy"}, {&t.FromDomain, in.FromDomain, "from_domain"}} {
		if f.src != nil {
			*f.dst = strings.TrimSpace(*f.src)
		}
		if err := field.HostPort(f.field, *f.dst, false); err != nil {
			return err
		}
	}
	if in.Transport != nil {
		t.Transport = strings.ToLower(strings.TrimSpace(*in.Transport))
	}
	if t.Transport == "" {
		t.Transport = "udp"
	}
	if t.Transport != "udp" && t.Transport != "tcp" && t.Transport != "tls" {
		return field.Invalid("transport", "transport must be udp, tcp or tls")
	}
	if in.SRTP != nil {
		t.SRTP = strings.ToLower(strings.TrimSpace(*in.SRTP))
	}
	if t.SRTP == "" {
		t.SRTP = "off"
	}
	if t.SRTP != "off" && t.SRTP != "optional" && t.SRTP != "mandatory" {
		return field.Invalid("srtp", "srtp must be off, optional or mandatory")
	}
	if in.CallerIDInFrom != nil {
		t.CallerIDInFrom = *in.CallerIDInFrom
	}
	return nil
}

// applyTimers: expire, retry and ping seconds.
func applyTimers(t *db.SIPTrunk, in *Settings, _ Rules) error {
	for _, f := range []struct {
		dst   *int
		src   *int
		field string
		max   int
	}{{&t.ExpireSeconds, in.ExpireSeconds, "expire_seconds", 86400}, {&t.RetrySeconds, in.RetrySeconds, "retry_seconds", 86400}, {&t.PingSeconds, in.PingSeconds, "ping_seconds", 3600}} {
		if f.src != nil {
			if *f.src < 0 || *f.src > f.max {
				return field.Invalid(f.field, "%s must be from 0 (FreeSWITCH default) to %d", f.field, f.max)
			}
			*f.dst = *f.src
		}
	}
	return nil
}

// applyACL: allowed_addresses (each entry once, as its network) and codecs.
func applyACL(t *db.SIPTrunk, in *Settings, r Rules) error {
	if in.AllowedAddresses != nil {
		seen := map[string]bool{}
		out := db.StringList{}
		for _, a := range *in.AllowedAddresses {
			if err := field.Text("allowed_addresses", a, 64); err != nil {
				return err
			}
			pf, err := ParseACLEntry(a, r.ACL)
			if err != nil {
				return err
			}
			if n := pf.String(); !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
		if len(out) > 256 {
			return field.Invalid("allowed_addresses", "allowed_addresses holds at most 256 entries")
		}
		t.AllowedAddresses = out
	}
	if in.Codecs != nil {
		out, err := checkCodecs(*in.Codecs)
		if err != nil {
			return err
		}
		t.Codecs = out
	}
	return nil
}

// applyCall: inbound_enabled, provider, transfer mode and template, ring timeout.
func applyCall(t *db.SIPTrunk, in *Settings, r Rules) error {
	if in.InboundEnabled != nil {
		t.InboundDisabled = !*in.InboundEnabled
	}
	if err := setText(&t.Provider, in.Provider, "provider", 64); err != nil {
		return err
	}
	if in.TransferMode != nil {
		if *in.TransferMode != "bridge" && *in.TransferMode != "refer" {
			return field.Invalid("transfer_mode", "transfer_mode must be bridge or refer")
		}
		t.TransferMode = *in.TransferMode
	}
	if t.TransferMode == "" {
		t.TransferMode = "bridge"
	}
	if in.ReferToTemplate != nil {
		v := strings.TrimSpace(*in.ReferToTemplate)
		if v != "" && r.ReferTemplate != nil {
			if err := r.ReferTemplate(v); err != nil {
				return field.Invalid("refer_to_template", "%s", err.Error())
			}
		}
		t.ReferToTemplate = v
	}
	if in.RingTimeout != nil {
		if *in.RingTimeout < 5 || *in.RingTimeout > 120 {
			return field.Invalid("ring_timeout_seconds", "ring_timeout_seconds must be from 5 to 120")
		}
		t.RingTimeoutSeconds = *in.RingTimeout
	}
	return nil
}

// complete checks what the trunk as a whole needs.
func complete(t *db.SIPTrunk, passwordSet bool, r Rules) error {
	if t.TransferMode == "refer" && t.ReferToTemplate == "" {
		return field.Invalid("refer_to_template", "transfer_mode=refer needs a refer_to_template such as tel:{e164} or sip:{e164}@pbx.example.com")
	}
	if !t.Register && len(t.AllowedAddresses) == 0 && !r.ACLFromGateway {
		return field.Invalid("allowed_addresses", "an IP-auth trunk (register=false) needs at least one allowed address")
	}
	if t.Register && (t.Username == "" || !passwordSet) {
		name := "username"
		if t.Username != "" {
			name = "password"
		}
		return field.Invalid(name, "a registration trunk (register=true) needs a username and a password")
	}
	return nil
}

// setText checks and assigns an optional text field, trimmed.
func setText(dst *string, src *string, name string, max int) error {
	if src == nil {
		return nil
	}
	if err := field.Text(name, *src, max); err != nil {
		return err
	}
	*dst = strings.TrimSpace(*src)
	return nil
}
