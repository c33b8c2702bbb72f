// Package xmlgen renders FreeSWITCH configuration from plain records: one
// gateway file per enabled trunk, one ACL list per trunk, and the profile's
// apply-inbound-acl parameters. Pure functions, no I/O; output is byte for
// byte deterministic.
//
// Values are escaped for XML (& < > " ') and for FreeSWITCH's preprocessor,
// which expands $${var} on every raw line before parsing: '$' is written as
// &#36;, which survives preprocessing and reads as a literal '$'
// (dollar-expansion recording). Control characters, CR and LF included, are
// refused.
package xmlgen

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalid wraps every refusal to render.
var ErrInvalid = errors.New("xmlgen: invalid value")

// Trunk is what a gateway and its ACL list are rendered from.
type Trunk struct {
	ID                   string // trunk id, carried as the inbound channel variable sipbridge_trunk_id
	OrgID                int64
	GatewayName          string // also the ACL list name
	Register             bool   // registration trunk (true) or IP-auth (false)
	Username, Password   string
	Realm, Proxy         string // host[:port]; default Gateway
	Gateway              string // host[:port] of the carrier
	Transport            string // udp | tcp | tls
	FromUser, FromDomain string
	CallerIDInFrom       bool
	ExpireSeconds        int // 0 = FreeSWITCH default
	RetrySeconds         int
	PingSeconds          int
	Codecs               []string // rendered as absolute_codec_string on outbound legs
	SRTP                 string   // off | optional | mandatory: rtp_secure_media on its calls ("" = off)
	ACL                  []string // CIDRs allowed to send this trunk's INVITEs
}

// validName is FreeSWITCH's rule for gateway names (others are dropped silently).
var validName = regexp.MustCompile(`^[\w.\-]+$`)

// ValidGatewayName reports whether FreeSWITCH accepts name as a gateway name.
func ValidGatewayName(name string) bool { return len(name) <= 64 && validName.MatchString(name) }

const maxSlug = 40

// ourName matches the names GatewayName makes (o<org id>_…).
var ourName = regexp.MustCompile(`^o[0-9]+_[A-Za-z0-9_.\-]+$`)

// IsOurGateway reports whether a gateway name is one GatewayName makes:
// sipbridge's, as opposed to a gateway an operator configured by hand.
// The reconciler removes only these, and records live state only for these.
func IsOurGateway(name string) bool { return ourName.MatchString(name) }

// GatewayName returns a gateway name for a trunk of orgID that reads well in
// fs_cli — "o12_zadarma_main" for organization 12's "Zadarma Main" — and that
// taken does not report as used (_2, _3, … are appended). The ACL list of
// the trunk carries the same name, so sip_acl_authed_by names the trunk.
func GatewayName(orgID int64, trunkName string, taken func(string) bool) string {
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(trunkName) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			if sep && b.Len() > 0 {
				b.WriteByte('_')
			}
			sep = false
			b.WriteRune(r)
		} else {
			sep = true
		}
		if b.Len() >= maxSlug {
			break
		}
	}
	slug := strings.TrimRight(b.String(), "_")
	if slug == "" {
		slug = "trunk"
	}
	base := "o" + strconv.FormatInt(orgID, 10) + "_" + slug
	name := base
	for i := 2; taken != nil && taken(name); i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	return name
}

func checkValue(field, v string) error {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("%w: %s contains a control character", ErrInvalid, field)
		}
		if c >= utf8.RuneSelf {
			for _, r := range v[i:] {
				if r == utf8.RuneError || unicode.IsControl(r) {
					return fmt.Errorf("%w: %s contains a control character or invalid UTF-8", ErrInvalid, field)
				}
			}
			return nil
		}
	}
	return nil
}

// appendEscaped appends v escaped for an XML attribute that FreeSWITCH's
// preprocessor reads.
func appendEscaped(b []byte, v string) []byte {
	if !strings.ContainsAny(v, "&<>\"'$") {
		return append(b, v...)
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '&':
			b = append(b, "&amp;"...)
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '"':
			b = append(b, "&quot;"...)
		case '\'':
			b = append(b, "&apos;"...)
		case '$':
			b = append(b, "&#36;"...)
		default:
			b = append(b, c)
		}
	}
	return b
}

func appendParam(b []byte, name, value string) []byte {
	b = append(b, "    <param name=\""...)
	b = append(b, name...)
	b = append(b, "\" value=\""...)
	b = appendEscaped(b, value)
	return append(b, "\"/>\n"...)
}

// RenderGateway renders one trunk's gateway file, included by the profile
// inside <gateways>.
func RenderGateway(t Trunk) ([]byte, error) {
	if !ValidGatewayName(t.GatewayName) {
		return nil, fmt.Errorf("%w: gateway name %q must match ^[\\w.-]+$", ErrInvalid, t.GatewayName)
	}
	for _, f := range [...]struct{ name, v string }{
		{"id", t.ID}, {"username", t.Username}, {"password", t.Password}, {"realm", t.Realm}, {"proxy", t.Proxy},
		{"gateway", t.Gateway}, {"transport", t.Transport}, {"from_user", t.FromUser}, {"from_domain", t.FromDomain},
	} {
		if err := checkValue(f.name, f.v); err != nil {
			return nil, err
		}
	}
	for _, c := range t.Codecs {
		if err := checkValue("codecs", c); err != nil {
			return nil, err
		}
		if strings.IndexByte(c, ',') >= 0 {
			return nil, fmt.Errorf("%w: codec %q contains a comma", ErrInvalid, c)
		}
	}
	if t.Gateway == "" && t.Proxy == "" {
		return nil, fmt.Errorf("%w: gateway (host) is required", ErrInvalid)
	}
	if t.SRTP != "" && t.SRTP != "off" && t.SRTP != "optional" && t.SRTP != "mandatory" {
		return nil, fmt.Errorf("%w: srtp %q must be off, optional or mandatory", ErrInvalid, t.SRTP)
	}
	b := make([]byte, 0, 640)
	b = append(b, "<include>\n  <gateway name=\""...)
	b = appendEscaped(b, t.GatewayName)
	b = append(b, "\">\n"...)
	b = appendParam(b, "register", strconv.FormatBool(t.Register))
	if t.Username != "" {
		b = appendParam(b, "username", t.Username)
	}
	if t.Password != "" {
		b = appendParam(b, "password", t.Password)
	}
	b = appendParam(b, "realm", first(t.Realm, t.Gateway, t.Proxy))
	b = appendParam(b, "proxy", first(t.Proxy, t.Gateway))
	if t.Transport != "" {
		b = appendParam(b, "register-transport", t.Transport)
	}
	if t.FromUser != "" {
		b = appendParam(b, "from-user", t.FromUser)
	}
	if t.FromDomain != "" {
		b = appendParam(b, "from-domain", t.FromDomain)
	}
	b = appendParam(b, "caller-id-in-from", strconv.FormatBool(t.CallerIDInFrom))
	for _, p := range [...]struct {
		name string
		v    int
	}{{"expire-seconds", t.ExpireSeconds}, {"retry-seconds", t.RetrySeconds}, {"ping", t.PingSeconds}} {
		if p.v > 0 {
			b = append(b, "    <param name=\""...)
			b = append(b, p.name...)
			b = append(b, "\" value=\""...)
			b = strconv.AppendInt(b, int64(p.v), 10)
			b = append(b, "\"/>\n"...)
		}
	}
	// The called number of a call to the registered contact is the To user.
	b = appendParam(b, "extension", "auto_to_user")
	b = appendVariables(b, t)
	b = append(b, "    </variables>\n  </gateway>\n</include>\n"...)
	return b, nil
}

// appendVariables appends the channel variables the gateway sets: the
// trunk id on inbound calls, the codec string on outbound legs and
// rtp_secure_media on both.
func appendVariables(b []byte, t Trunk) []byte {
	b = append(b, "    <variables>\n      <variable name=\"sipbridge_trunk_id\" value=\""...)
	b = appendEscaped(b, t.ID)
	b = append(b, "\" direction=\"inbound\"/>\n"...)
	if len(t.Codecs) > 0 {
		b = append(b, "      <variable name=\"absolute_codec_string\" value=\""...)
		for i, c := range t.Codecs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendEscaped(b, c)
		}
		b = append(b, "\" direction=\"outbound\"/>\n"...)
	}
	if t.SRTP == "optional" || t.SRTP == "mandatory" {
		// SDES: optional offers a=crypto on RTP/AVP and accepts plain
		// RTP; mandatory offers RTP/SAVP only and refuses an answer (or,
		// inbound, an offer) without crypto.
		b = append(b, "      <variable name=\"rtp_secure_media\" value=\""...)
		b = append(b, t.SRTP...)
		b = append(b, "\"/>\n"...)
	}
	return b
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// NormalizeCIDRs turns addresses and CIDRs into sorted, unique, masked
// prefixes (a bare address becomes /32 or /128).
func NormalizeCIDRs(cidrs []string) ([]string, error) {
	seen := map[netip.Prefix]bool{}
	var ps []netip.Prefix
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		p, err := netip.ParsePrefix(c)
		if err != nil {
			a, aerr := netip.ParseAddr(c)
			if aerr != nil {
				return nil, fmt.Errorf("%w: %q is not an address or CIDR", ErrInvalid, c)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		p = p.Masked()
		if !seen[p] {
			seen[p] = true
			ps = append(ps, p)
		}
	}
	sort.Slice(ps, func(i, j int) bool {
		if c := ps[i].Addr().Compare(ps[j].Addr()); c != 0 {
			return c < 0
		}
		return ps[i].Bits() < ps[j].Bits()
	})
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out, nil
}

// RenderACLList renders one ACL list (default deny, allow nodes), included
// inside acl.conf.xml's <network-lists>. An empty list denies everything.
func RenderACLList(name string, cidrs []string) ([]byte, error) {
	if !ValidGatewayName(name) {
		return nil, fmt.Errorf("%w: ACL list name %q", ErrInvalid, name)
	}
	norm, err := NormalizeCIDRs(cidrs)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 96+48*len(norm))
	b = append(b, "<include>\n  <list name=\""...)
	b = appendEscaped(b, name)
	b = append(b, "\" default=\"deny\">\n"...)
	for _, c := range norm {
		b = append(b, "    <node type=\"allow\" cidr=\""...)
		b = append(b, c...)
		b = append(b, "\"/>\n"...)
	}
	return append(b, "  </list>\n</include>\n"...), nil
}

// ProxyACLList is the ACL list of the trusted SIP fronts (SIP_PROXIES):
// not a gateway name (those begin with o<org id>_), so no trunk's list can
// take its place. A call it lets in carries sip_acl_authed_by=ProxyACLList,
// and sipbridge identifies the trunk by the carrier address the front adds.
const ProxyACLList = "sipbridge_proxies"

// RenderInboundACLParams renders the apply-inbound-acl parameters, included
// inside the sofia profile's <settings> (rescan replaces the profile's lists
// with these: acl-rescan-params recording).
func RenderInboundACLParams(names []string) ([]byte, error) {
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	b := make([]byte, 0, 32+64*len(sorted))
	b = append(b, "<include>\n"...)
	for i, n := range sorted {
		if !ValidGatewayName(n) {
			return nil, fmt.Errorf("%w: ACL list name %q", ErrInvalid, n)
		}
		if i > 0 && sorted[i-1] == n {
			continue
		}
		b = append(b, "  <param name=\"apply-inbound-acl\" value=\""...)
		b = appendEscaped(b, n)
		b = append(b, "\"/>\n"...)
	}
	return append(b, "</include>\n"...), nil
}
