package sofia

import (
	"regexp"
	"strings"
)

// ExtraHeaders are the extra headers of a request mod_sofia sends in a
// channel's dialog (a REFER, say), as sofia_glue.c
// sofia_glue_get_extra_headers(channel, "sip_h_") builds them: every channel variable whose name starts with sip_h_ (any case) becomes
// "<rest of the name>: <value>", and sip_geolocation becomes Geolocation.
// exclude_outgoing_extra_header is ONE regular expression (a single
// variable, not a list and not per header), matched by
// switch_regex_perform against the whole variable name, prefix included
// (e.g. "sip_h_X-Custom-Tag"), unanchored: "^sip_h_(X-|Diversion)" keeps
// the inbound X- and Diversion headers out. As in switch_regex_perform,
// "/re/i" is case-insensitive ("s": dot matches newline); an expression
// that does not compile excludes nothing. Here Go's RE2 syntax stands in
// for PCRE, and the "_" asterisk-pattern form is not supported.
func ExtraHeaders(vars map[string]any) map[string]string {
	var exclude *regexp.Regexp
	if expr := VarString(vars["variable_exclude_outgoing_extra_header"]); expr != "" {
		exclude = fsRegexp(expr)
	}
	out := map[string]string{}
	for k, v := range vars {
		name, ok := strings.CutPrefix(k, "variable_")
		if !ok {
			continue
		}
		if strings.EqualFold(name, "sip_geolocation") {
			out["Geolocation"] = VarString(v)
		}
		if len(name) >= len("sip_h_") && strings.EqualFold(name[:len("sip_h_")], "sip_h_") {
			if exclude != nil && exclude.MatchString(name) {
				continue
			}
			out[name[len("sip_h_"):]] = VarString(v)
		}
	}
	return out
}

// fsRegexp compiles an expression as switch_regex_perform reads it: plain,
// or "/re/opts" with i and s options; nil when it does not compile.
func fsRegexp(expr string) *regexp.Regexp {
	if body, ok := strings.CutPrefix(expr, "/"); ok {
		i := strings.LastIndexByte(body, '/')
		if i < 0 {
			return nil // "missing ending '/' delimiter": no match
		}
		flags := ""
		if strings.Contains(body[i+1:], "i") {
			flags += "i"
		}
		if strings.Contains(body[i+1:], "s") {
			flags += "s"
		}
		expr = body[:i]
		if flags != "" {
			expr = "(?" + flags + ")" + expr
		}
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil
	}
	return re
}

// VarString is a channel variable's value as an event carries it: a
// string, or the last of a list.
func VarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		if len(x) > 0 {
			return VarString(x[len(x)-1])
		}
	case nil:
		return ""
	}
	return ""
}
