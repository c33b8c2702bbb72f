// Package dialstring parses the dial string of FreeSWITCH's originate
// command for the simulator (freeswitch/fstest).
package dialstring

import (
	"errors"
	"strings"
)

// The originate dial string, parsed the way FreeSWITCH 1.11 does it, read
// from its source (signalwire/freeswitch):
//
//   - mod_commands.c originate_function: the command line is split on
//     blanks (switch_separate_string, at most 10 words; single quotes group,
//     and are then stripped with the escapes), `undef` stands for an empty
//     argument, 2 to 7 arguments or "-USAGE: …";
//   - switch_ivr_originate.c switch_ivr_originate: leading `<…>` then
//     `{…}` sets are global variables (switch_event_create_brackets with
//     `,`, or another delimiter after `^^`), the rest is split on `|`
//     (sequential Groups), each group on `,` (simultaneous legs; commas
//     inside `[…]` are protected first), each leg may start with `[…]`
//     sets of its own variables, then `<endpoint>/<data>`;
//   - switch_utils.c separate_string_char_delim / cleanup_separated_string:
//     a backslash protects the next byte from being a delimiter, a quote
//     pair protects delimiters and is removed, leading blanks and trailing
//     blanks outside quotes are trimmed; `name=value` is split at the first
//     `=` only and a word without `=` is dropped.
//
// Consequence kept on purpose: quotes do not survive the first split, so
// on a real switch (and here) a comma inside a {} value must be escaped
// (`\,`) or the set must use another delimiter (`{^^:a=x,y:b=z}`).

// ErrParse means the dial string could not be parsed (FreeSWITCH logs
// "Parse Error!" and the originate fails).
var ErrParse = errors.New("dialstring: parse error")

const (
	quotedEscComma   = '\x01' // switch_ivr_originate.c QUOTED_ESC_COMMA
	unquotedEscComma = '\x02' // UNQUOTED_ESC_COMMA
)

// Var is one variable of a {} or [] set, in the order given.
type Var struct{ name, value string }

// Leg is one endpoint of a dial string with its own [] variables.
type Leg struct {
	vars     []Var
	Endpoint string // e.g. sofia/gateway/org1_uas/15551230000
}

// Parsed is a parsed dial string: global variables and the `|`
// Groups of `,` legs.
type Parsed struct {
	global []Var
	Groups [][]Leg
}

// separate is switch_separate_string for a delimiter that is not a blank:
// at most max parts (the last one keeps the rest), each cleaned up.
func fsSeparate(s string, delim byte, max int) []string {
	if s == "" || max <= 0 {
		return nil
	}
	var parts []string
	start, quoted := 0, false
	for i := 0; i < len(s) && len(parts) < max-1; i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case c == '\'' && (quoted || strings.IndexByte(s[i+1:], '\'') >= 0):
			quoted = !quoted
		case c == delim && !quoted:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	// A delimiter at the very end leaves no empty last part (the C loop
	// stops at the terminating NUL before starting one).
	if start < len(s) || len(parts) == 0 {
		parts = append(parts, s[start:])
	}
	for i, p := range parts {
		parts[i] = fsCleanup(p, delim)
	}
	return parts
}

// cleanup is cleanup_separated_string: leading blanks skipped, escapes
// resolved (\' \" \<delim> \\ \n \r \t \s), quote pairs removed, trailing
// blanks outside quotes trimmed.
func fsCleanup(s string, delim byte) string {
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	var b strings.Builder
	end, quoted := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			e := s[i+1]
			if u := fsUnescape(e); e == '\'' || e == '"' || (delim != 0 && e == delim) || e == '\\' || u != e {
				b.WriteByte(u)
				end = b.Len()
				i++
				continue
			}
		}
		if c == '\'' && (quoted || strings.IndexByte(s[i+1:], '\'') >= 0) {
			if quoted = !quoted; quoted {
				end = b.Len()
			}
			continue
		}
		b.WriteByte(c)
		if c != ' ' || quoted {
			end = b.Len()
		}
	}
	return b.String()[:end]
}

func fsUnescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 's':
		return ' '
	}
	return c
}

// findEndParen is switch_find_end_paren: the index of the bracket closing
// the one s starts with (after blanks), nested ones counted; -1 if none.
func fsFindEndParen(s string, open, close byte) int {
	i := 0
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i >= len(s) || s[i] != open {
		return -1
	}
	depth := 1
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == open && open != close:
			depth++
		case s[j] == close:
			if depth--; depth == 0 {
				return j
			}
		}
	}
	return -1
}

// brackets reads the variable set s starts with (switch_event_create_brackets
// for one set): its variables and what follows it.
func dialBrackets(s string, open, close, delim byte) ([]Var, string, bool) {
	end := fsFindEndParen(s, open, close)
	if end < 0 {
		return nil, s, false
	}
	inner := s[strings.IndexByte(s, open)+1 : end]
	if len(inner) >= 3 && inner[0] == '^' && inner[1] == '^' {
		delim, inner = inner[2], inner[3:]
	}
	var vars []Var
	for _, item := range fsSeparate(inner, delim, 1024) {
		if kv := fsSeparate(item, '=', 2); len(kv) == 2 {
			vars = append(vars, Var{kv[0], kv[1]})
		}
	}
	return vars, s[end+1:], true
}

// Parse parses the first argument of originate.
func Parse(data string) (Parsed, error) {
	var d Parsed
	for _, pair := range [][2]byte{{'<', '>'}, {'{', '}'}} {
		for strings.HasPrefix(strings.TrimLeft(data, " "), string(pair[0])) {
			vars, rest, ok := dialBrackets(strings.TrimLeft(data, " "), pair[0], pair[1], ',')
			if !ok {
				return d, ErrParse
			}
			d.global = append(d.global, vars...)
			data = rest
		}
	}
	data = strings.TrimLeft(data, " ")
	for _, group := range fsSeparate(data, '|', 128) {
		// Commas inside [] are not leg separators (switch_ivr_originate
		// marks them before splitting the group on ',').
		g := []byte(group)
		end, q, alt := -1, false, false
		for p := 0; p < len(g); p++ {
			if end < 0 && g[p] == '[' {
				if e := fsFindEndParen(group[p:], '[', ']'); e >= 0 {
					end = p + e
				}
				alt = p+2 < len(g) && g[p+1] == '^' && g[p+2] == '^'
				q = false
			}
			if g[p] == '\'' {
				q = !q
			}
			if end >= 0 && p < end && g[p] == ',' && p > 0 && g[p-1] != '\\' {
				if q || alt {
					g[p] = quotedEscComma
				} else {
					g[p] = unquotedEscComma
				}
			}
			if p == end {
				end = -1
			}
		}
		var legs []Leg
		for _, name := range fsSeparate(string(g), ',', 128) {
			leg, err := parseDialLeg(name)
			if err != nil {
				return d, err
			}
			legs = append(legs, leg)
		}
		if len(legs) > 0 {
			d.Groups = append(d.Groups, legs)
		}
	}
	if len(d.Groups) == 0 {
		return d, ErrParse
	}
	return d, nil
}

func parseDialLeg(s string) (Leg, error) {
	var leg Leg
	s = strings.TrimLeft(s, " ")
	for strings.HasPrefix(s, "[") {
		if e := fsFindEndParen(s, '[', ']'); e >= 0 {
			s = strings.ReplaceAll(s[:e], string(rune(quotedEscComma)), ",") + s[e:]
		}
		vars, rest, ok := dialBrackets(s, '[', ']', unquotedEscComma)
		if !ok || rest == s {
			return leg, ErrParse
		}
		leg.vars = append(leg.vars, vars...)
		s = rest
	}
	leg.Endpoint = strings.NewReplacer(string(rune(quotedEscComma)), ",", string(rune(unquotedEscComma)), ",").Replace(strings.TrimLeft(s, " "))
	if leg.Endpoint == "" {
		return leg, ErrParse
	}
	return leg, nil
}

// Vars merges the global and the leg's variables: a leg variable wins, and
// within one set the first occurrence of a name counts for [] (a plain
// event: the first header is found) and the last for {} (EF_UNIQ_HEADERS).
func (d Parsed) Vars(leg Leg) map[string]string {
	out := map[string]string{}
	for _, v := range d.global {
		out[v.name] = v.value
	}
	seen := map[string]bool{}
	for _, v := range leg.vars {
		if !seen[v.name] {
			out[v.name] = v.value
			seen[v.name] = true
		}
	}
	return out
}
