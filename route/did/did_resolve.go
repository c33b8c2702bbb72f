package did

import (
	"fmt"
	"slices"
	"strings"
)

// Resolve finds the called DID of an inbound call from its channel
// variables; the order and the selection rule are in the package
// documentation. The Result's Candidates are filled in on error too, for
// the log.
func Resolve(vars Vars, o Options) (Result, error) {
	if vars == nil {
		vars = func(string) []string { return nil }
	}
	res := Result{Candidates: collect(vars, o.DefaultCountry)}
	cands := res.Candidates
	pick := func(c Candidate) (Result, error) {
		res.DID, res.Source, res.Raw = c.E164, c.Source, c.Raw
		return res, nil
	}
	firstE164 := -1
	for i, c := range cands {
		if c.E164 != "" {
			firstE164 = i
			break
		}
	}
	if o.Known != nil && firstE164 >= 0 {
		asked := make(map[string]bool, 4)
		for _, c := range cands[firstE164:] {
			if c.E164 == "" || asked[c.E164] {
				continue
			}
			asked[c.E164] = true
			if o.Known(c.E164) {
				return pick(c)
			}
		}
	}
	ext := -1
	for i, c := range cands {
		if c.Extension != "" {
			ext = i
			break
		}
	}
	trunk := trunkNumbers(o.TrunkNumbers)
	mapExt := func() (Result, error) {
		c := cands[ext]
		res.DID, res.Source, res.Raw, res.Extension = trunk[0], SourceExtension, c.Raw, c.Extension
		return res, nil
	}
	// Known set and none known: the trunk's single number beats an E.164
	// candidate the platform does not have (see the package documentation).
	if o.Known != nil && ext >= 0 && len(trunk) == 1 {
		return mapExt()
	}
	if firstE164 >= 0 {
		return pick(cands[firstE164])
	}
	if ext < 0 {
		return res, ErrNoCandidate
	}
	switch len(trunk) {
	case 0:
		return res, fmt.Errorf("%w: extension %s and no number on the trunk", ErrNoCandidate, cands[ext].Extension)
	case 1:
		return mapExt()
	default:
		return res, &AmbiguousError{Extension: cands[ext].Extension, DIDs: trunk}
	}
}

// trunkNumbers returns the strict E.164 entries, sorted, without repeats.
func trunkNumbers(in []string) []string {
	out := make([]string, 0, len(in))
	for _, n := range in {
		if n = strings.TrimSpace(n); IsE164(n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// collect lists the candidates in the documented order.
func collect(vars Vars, country string) []Candidate {
	var out []Candidate
	// The same user often appears more than once (Request-URI and To, a
	// Diversion and the To): normalize each one once.
	type seen struct{ user, ctx, e164, ext string }
	var memo []seen
	add := func(source, raw string, e entry) {
		if e.user == "" || (len(e.user) > 3 && strings.EqualFold(e.user[:3], "gw+")) {
			return
		}
		c := Candidate{Source: source, Raw: raw, User: e.user}
		i := slices.IndexFunc(memo, func(m seen) bool { return m.user == e.user && m.ctx == e.phoneContext })
		if i < 0 {
			m := seen{user: e.user, ctx: e.phoneContext}
			if n, err := normalize(e.user, e.phoneContext, country); err == nil {
				m.e164 = n
			} else if isExtension(e.user) {
				m.ext = e.user
			}
			memo = append(memo, m)
			i = len(memo) - 1
		}
		c.E164, c.Extension = memo[i].e164, memo[i].ext
		out = append(out, c)
	}

	// Diversion: bottom (oldest) first.
	div := diversionVars.entries(vars)
	if len(div) > maxEntries {
		div = div[len(div)-maxEntries:]
	}
	for i := len(div) - 1; i >= 0; i-- {
		add(SourceDiversion, div[i], parseEntry(div[i]))
	}

	// History-Info: lowest index first.
	hist := historyVars.entries(vars)
	if len(hist) > maxEntries {
		hist = hist[:maxEntries]
	}
	parsed := make([]entry, len(hist))
	for i, h := range hist {
		parsed[i] = parseEntry(h)
	}
	historyOrder(hist, parsed)
	for i := range hist {
		add(SourceHistoryInfo, hist[i], parsed[i])
	}

	for _, h := range singleVars {
		vals := h.entries(vars)
		if len(vals) > maxEntries {
			vals = vals[:maxEntries]
		}
		for _, v := range vals {
			add(h.source, v, parseEntry(v))
		}
	}

	// The Request-URI and To users as FreeSWITCH parsed them (the user part
	// only; a tel: To arrives as its number). Fall back to the full URI.
	if u := firstOf(vars, "variable_sip_req_user"); u != "" {
		add(SourceRequestURI, u, parseEntry(u))
	} else if u := firstOf(vars, "variable_sip_req_uri"); u != "" {
		add(SourceRequestURI, u, parseEntry(u))
	}
	if u := firstOf(vars, "variable_sip_to_user"); u != "" {
		add(SourceTo, u, parseEntry(u))
	} else if u := firstOf(vars, "variable_sip_i_to"); u != "" {
		add(SourceTo, u, parseEntry(u))
	}
	return out
}

func firstOf(vars Vars, name string) string {
	if v := vars(name); len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}
