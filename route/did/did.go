// Package did resolves the real called number (DID) of an inbound call from
// the channel variables FreeSWITCH reports on CHANNEL_CREATE / CHANNEL_PARK.
// It is pure: no I/O, no database, no ESL.
//
// # Where the number is read
//
// A carrier or PBX that forwards a call usually sends the INVITE to an
// address of its own choosing (a PBX extension such as 9228, or a
// registration trunk's contact gw+<gateway>), so the Request-URI is often not
// the number the caller dialled. Candidates are read in this order:
//
//  1. Diversion (RFC 5806) — every entry, from variable_sip_i_diversion (a
//     JSON array, top first, when the header repeats) or else
//     variable_sip_h_Diversion (which keeps only the LAST header). Each
//     redirecting server adds its Diversion ON TOP, so the topmost entry is
//     the most recent redirection and the bottom one the first: the
//     ORIGINAL called number is the last entry in wire order. Entries are
//     therefore taken bottom-up (oldest first). Example: "Diversion:
//     <sip:+16478491001@pbx>;reason=unconditional" above "Diversion:
//     <sip:+16478491000@pbx>;reason=user-busy" resolves to +16478491000.
//  2. History-Info (RFC 7044) — every entry, lowest index first (1 < 1.1 <
//     1.2 < 2), from variable_sip_i_history_info (array) or
//     variable_sip_history_info (entries joined by ", "; commas inside <…>
//     and quoted display names do not split). Index 1 is the original
//     target.
//  3. X-Original-Called, X-Original-Number, X-Forwarded-To, X-Original-To, in
//     that order (variable_sip_i_x_original_called or
//     variable_sip_h_X-Original-Called, …; bare numbers or URIs).
//  4. P-Called-Party-ID (RFC 3455).
//  5. The Request-URI user (variable_sip_req_user); a registration trunk's
//     gw+<gateway> user is not a number and is skipped.
//  6. The To user (variable_sip_to_user).
//
// Each value may be a bare number, a sip:/sips:/tel: URI or a name-addr with
// display name and parameters; its user part is normalized to E.164 with
// [NormalizeE164] (a tel: or user=phone number's phone-context=+CC is
// applied, %2B is decoded).
//
// # Which candidate wins
//
//  1. Walking the candidates in the order above, the first whose E.164 form
//     Options.Known reports as one of the platform's numbers.
//  2. When Known is nil: the first candidate that is a valid E.164 number.
//  3. When Known is set but none of the E.164 candidates is known, a short
//     PBX extension (digits only, at most 8, not a valid national number for
//     DefaultCountry) maps to the trunk's number if the trunk has exactly
//     one; otherwise the first E.164 candidate is returned (unknown: the
//     caller refuses it). This departs from "first E.164 wins" on purpose:
//     a PBX that sends INVITE sip:9228@bridge with a Diversion naming an
//     outside number (the company's main number at another carrier, a
//     user's mobile) would otherwise always be refused, although the
//     trunk's single number is the only place the call can go.
//  4. When no candidate is a phone number, an extension maps to the trunk's
//     number when Options.TrunkNumbers holds exactly ONE; with several the
//     call is ambiguous and refused ([ErrAmbiguousExtension], wrapped in an
//     [*AmbiguousError] naming them) — never a guess; with none,
//     [ErrNoCandidate].
//
// Example: INVITE sip:9228@bridge with "Diversion:
// <sip:+16478491000@pbx.example.com>;reason=unconditional" resolves to
// +16478491000 from "diversion"; without the Diversion, and with one number
// on the trunk, 9228 maps to that number ("extension").
package did

import (
	"errors"
	"fmt"
	"strings"
)

// Sources of a Result and of each Candidate.
const (
	SourceDiversion       = "diversion"
	SourceHistoryInfo     = "history-info"
	SourceXOriginalCalled = "x-original-called"
	SourceXOriginalNumber = "x-original-number"
	SourceXForwardedTo    = "x-forwarded-to"
	SourceXOriginalTo     = "x-original-to"
	SourcePCalledPartyID  = "p-called-party-id"
	SourceRequestURI      = "request-uri"
	SourceTo              = "to"
	SourceExtension       = "extension" // Result only: mapped from an extension
)

var (
	// ErrNoCandidate means no header holds a usable called number.
	ErrNoCandidate = errors.New("did: no called number in the SIP headers")
	// ErrAmbiguousExtension means the call names a PBX extension and the
	// trunk has several numbers it could mean. Returned as *AmbiguousError.
	ErrAmbiguousExtension = errors.New("did: extension is ambiguous")
	// ErrNotE164 means a value is not a phone number NormalizeE164 accepts.
	ErrNotE164 = errors.New("did: not an E.164 number")
)

// AmbiguousError names the extension and the numbers it could mean.
// errors.Is(err, ErrAmbiguousExtension) holds for it.
type AmbiguousError struct {
	Extension string
	DIDs      []string // the trunk's numbers, sorted
}

func (e *AmbiguousError) Error() string {
	return fmt.Sprintf("%v: %s could be any of the trunk's numbers %s", ErrAmbiguousExtension, e.Extension, strings.Join(e.DIDs, ", "))
}

// Unwrap returns ErrAmbiguousExtension.
func (e *AmbiguousError) Unwrap() error { return ErrAmbiguousExtension }

// Vars returns every value of a channel variable: one for a string, several
// when FreeSWITCH reported a JSON array (a repeated header), none when the
// variable is absent. The caller adapts its ESL event type.
type Vars func(name string) []string

// First is the first value of the variable name ("" without one).
func (v Vars) First(name string) string {
	if vals := v(name); len(vals) > 0 {
		return vals[0]
	}
	return ""
}

// Options of a resolution.
type Options struct {
	// DefaultCountry is the ISO 3166-1 alpha-2 code (the trunk's or the
	// organization's) used to read national forms (6478491000, 020 7946
	// 0018) and international prefixes (011…, 00…). Empty: only numbers
	// written with a leading + are accepted.
	DefaultCountry string
	// TrunkNumbers are the active E.164 numbers assigned to the trunk the
	// call came in on; an extension maps to one of them only when there is
	// exactly one. Entries that are not strict E.164 are ignored.
	TrunkNumbers []string
	// Known reports whether an E.164 number is one of the platform's active
	// numbers; may be nil. It is asked at most once per distinct number.
	Known func(e164 string) bool
}

// Candidate is one value seen in the headers, in the order they are tried.
type Candidate struct {
	Source    string // SourceDiversion … SourceTo
	Raw       string // the header value (one entry of a list)
	User      string // the number or user part read from Raw
	E164      string // its E.164 form, when it is a phone number
	Extension string // its digits, when it is a short extension
}

// Result of a resolution.
type Result struct {
	DID        string      // E.164
	Source     string      // which header it came from, or SourceExtension
	Raw        string      // the header value it came from
	Extension  string      // the extension, when mapped from one
	Candidates []Candidate // everything seen, in the order tried, for the log
}
