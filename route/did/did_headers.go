package did

import (
	"slices"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// maxEntries bounds how many entries of one header are examined. Real
// redirection chains are a handful long; the bound keeps a hostile INVITE
// with thousands of list entries from costing thousands of number parses.
const maxEntries = 16

// headerVars are the channel variables that may carry one header, best
// first: with parse-all-invite-headers FreeSWITCH sets sip_i_<lower_snake>
// for every header (all instances); sip_h_<Name> keeps the wire case.
type headerVars struct {
	source string
	names  []string
}

var (
	diversionVars = headerVars{SourceDiversion, []string{"variable_sip_i_diversion", "variable_sip_h_Diversion", "variable_sip_h_diversion"}}
	historyVars   = headerVars{SourceHistoryInfo, []string{"variable_sip_i_history_info", "variable_sip_history_info", "variable_sip_h_History-Info"}}
	// Order matters: see the package documentation.
	singleVars = [...]headerVars{
		{SourceXOriginalCalled, []string{"variable_sip_i_x_original_called", "variable_sip_h_X-Original-Called", "variable_sip_h_x-original-called"}},
		{SourceXOriginalNumber, []string{"variable_sip_i_x_original_number", "variable_sip_h_X-Original-Number", "variable_sip_h_x-original-number"}},
		{SourceXForwardedTo, []string{"variable_sip_i_x_forwarded_to", "variable_sip_h_X-Forwarded-To", "variable_sip_h_x-forwarded-to"}},
		{SourceXOriginalTo, []string{"variable_sip_i_x_original_to", "variable_sip_h_X-Original-To", "variable_sip_h_x-original-to"}},
		{SourcePCalledPartyID, []string{"variable_sip_i_p_called_party_id", "variable_sip_h_P-Called-Party-ID", "variable_sip_h_p-called-party-id"}},
	}
)

// entries returns the header's entries in wire order from the first of its
// variables that has any; a value holding a comma-separated list is split.
func (h headerVars) entries(vars Vars) []string {
	for _, n := range h.names {
		var out []string
		for _, v := range vars(n) {
			out = splitEntries(v, out)
		}
		if len(out) > 0 {
			return out
		}
	}
	return nil
}

// splitEntries appends the comma-separated entries of a header value to out,
// ignoring commas inside <…> and inside quoted strings (with \ escapes).
func splitEntries(v string, out []string) []string {
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			if quoted {
				i++
			}
		case '"':
			quoted = !quoted
		case '<':
			if !quoted {
				depth++
			}
		case '>':
			if !quoted && depth > 0 {
				depth--
			}
		case ',':
			if depth == 0 && !quoted {
				if e := strings.TrimSpace(v[start:i]); e != "" {
					out = append(out, e)
				}
				start = i + 1
			}
		}
	}
	if e := strings.TrimSpace(v[min(start, len(v)):]); e != "" {
		out = append(out, e)
	}
	return out
}

// entry is what one header value says.
type entry struct {
	user         string // number or user part, %-decoded; "" if none
	phoneContext string // phone-context of a tel: or user=phone number
	params       sip.HeaderParams
}

// parseEntry reads a header value: a name-addr ("Name" <uri>;params), a
// bare sip:/sips:/tel: URI, user@host, or a bare number.
func parseEntry(v string) entry {
	v = strings.TrimSpace(v)
	if v == "" {
		return entry{}
	}
	var e entry
	var u sip.Uri
	switch {
	case strings.Contains(v, "<"):
		e.params = sip.NewParams()
		if _, err := sip.ParseAddressValue(v, &u, &e.params); err != nil {
			return entry{}
		}
	case hasScheme(v):
		// A bare URI in a custom header: its ;params belong to the URI
		// (a tel: URI's phone-context), not to the header.
		if err := sip.ParseUri(v, &u); err != nil {
			return entry{}
		}
	default:
		user, _, _ := strings.Cut(v, "@")
		e.user, e.phoneContext = splitUserParams(unescape(user))
		return e
	}
	switch u.Scheme {
	case "sip", "sips":
		e.user, e.phoneContext = splitUserParams(unescape(u.User))
	case "tel":
		e.user, e.phoneContext = splitUserParams(unescape(u.Raw()))
	}
	return e
}

// hasScheme reports a sip:, sips: or tel: URI (any other scheme is no
// phone number and stays a bare value, which then fails as a number).
func hasScheme(v string) bool {
	scheme, _, ok := strings.Cut(v, ":")
	if !ok {
		return false
	}
	switch strings.ToLower(scheme) {
	case "sip", "sips", "tel":
		return true
	}
	return false
}

// historyIndex parses a History-Info index ("1.1.2"); ok is false when it is
// missing or malformed.
func historyIndex(p sip.HeaderParams) (idx []int, ok bool) {
	s, found := p.Get("index")
	if !found || s == "" {
		return nil, false
	}
	for part := range strings.SplitSeq(s, ".") {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			return nil, false
		}
		idx = append(idx, n)
	}
	return idx, true
}

// historyOrder sorts parsed History-Info entries by index (1 < 1.1 < 1.2 <
// 2); entries without a valid index follow, in wire order.
func historyOrder(raws []string, parsed []entry) {
	type item struct {
		raw string
		e   entry
		idx []int
		ok  bool
	}
	items := make([]item, len(raws))
	for i := range raws {
		idx, ok := historyIndex(parsed[i].params)
		items[i] = item{raws[i], parsed[i], idx, ok}
	}
	slices.SortStableFunc(items, func(a, b item) int {
		switch {
		case a.ok != b.ok:
			if a.ok {
				return -1
			}
			return 1
		case !a.ok:
			return 0
		}
		return slices.Compare(a.idx, b.idx)
	})
	for i, it := range items {
		raws[i], parsed[i] = it.raw, it.e
	}
}
