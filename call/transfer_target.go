package call

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sipbridge/sipbridge/route/did"
)

// TransferTarget is where a transfer goes: a sip: URI or an E.164 number.
type TransferTarget struct {
	SIPURI   string // sip:user@host
	HostPort string // its host[:port]
	E164     string
}

// ParseTransferTarget accepts sip:/sips: URIs (no spaces, no line breaks:
// they go into an api command) and E.164 numbers.
func ParseTransferTarget(to string) (TransferTarget, error) {
	to = strings.TrimSpace(to)
	low := strings.ToLower(to)
	if strings.HasPrefix(low, "sip:") || strings.HasPrefix(low, "sips:") {
		u, err := ParseSIPURI(to, false)
		if err != nil {
			return TransferTarget{}, fmt.Errorf("%w: %q: %v", ErrBadTransferTarget, to, err)
		}
		if u.User == "" {
			return TransferTarget{}, fmt.Errorf("%w: %q has no user part (sip:user@host)", ErrBadTransferTarget, to)
		}
		return TransferTarget{SIPURI: to, HostPort: u.HostPort}, nil
	}
	if did.IsE164(to) {
		return TransferTarget{E164: to}, nil
	}
	return TransferTarget{}, fmt.Errorf("%w: %q", ErrBadTransferTarget, to)
}

// E164User returns the user part of a sip: URI when it is an E.164 number.
func E164User(uri string) string {
	_, rest, _ := strings.Cut(uri, ":")
	user, _, _ := strings.Cut(rest, "@")
	if did.IsE164(user) {
		return user
	}
	return ""
}

// CheckReferTemplate validates a trunk's Refer-To template: tel:{e164} or a
// sip:/sips: URI holding {e164} in its user part (ParseSIPURI), nothing
// that could break an api command or be expanded by FreeSWITCH.
func CheckReferTemplate(t string) error {
	low := strings.ToLower(t)
	if !strings.Contains(t, e164Placeholder) || !(strings.HasPrefix(low, "tel:") || strings.HasPrefix(low, "sip:") || strings.HasPrefix(low, "sips:")) {
		return errors.New("refer_to_template must be tel:{e164} or sip:{e164}@host")
	}
	if strings.ContainsAny(t, " \t\r\n'\"|,") || len(t) > 200 {
		return errors.New("refer_to_template must not contain spaces, quotes, '|' or ','")
	}
	if strings.HasPrefix(low, "tel:") {
		rest := strings.ReplaceAll(t[len("tel:"):], e164Placeholder, "+1")
		if i := badURIChar(rest, telChar); i >= 0 {
			return fmt.Errorf("refer_to_template: character %q not allowed in a tel: URI", rest[i])
		}
		return nil
	}
	if _, err := ParseSIPURI(t, true); err != nil {
		return fmt.Errorf("refer_to_template: %w", err)
	}
	return nil
}

func telChar(c byte) bool { return paramChar(c) || c == ';' || c == '=' }

// ReferTemplateHostPort is the host[:port] of a sip: Refer-To template, ""
// for a tel: one or an invalid one (for the address policy).
func ReferTemplateHostPort(t string) string {
	u, err := ParseSIPURI(t, true)
	if err != nil {
		return ""
	}
	return u.HostPort
}

// ApplyReferTemplate puts the number into a Refer-To template.
func ApplyReferTemplate(t, e164 string) string { return strings.ReplaceAll(t, "{e164}", e164) }
