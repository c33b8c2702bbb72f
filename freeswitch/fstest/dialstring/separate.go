package dialstring

import "strings"

// SeparateBlank splits like switch_separate_string with a blank delimiter
// into at most n fields: runs of blanks separate, single quotes group (and
// are removed), a backslash escapes, and the last field keeps the rest of
// the line. mod_commands splits its commands' arguments so (originate,
// uuid_* commands).
func SeparateBlank(s string, n int) []string {
	var out []string
	i := 0
	for i < len(s) && len(out) < n {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) {
			break
		}
		start := i
		if len(out) == n-1 {
			out = append(out, cleanupSeparated(s[start:]))
			break
		}
		quoted := false
		for i < len(s) {
			c := s[i]
			if c == '\\' {
				i += 2
				continue
			}
			if c == '\'' {
				quoted = !quoted
			} else if c == ' ' && !quoted {
				break
			}
			i++
		}
		if i > len(s) {
			i = len(s)
		}
		out = append(out, cleanupSeparated(s[start:i]))
	}
	return out
}

// cleanupSeparated strips the quotes, escapes and blanks around a field
// as cleanup_separated_string does.
func cleanupSeparated(s string) string {
	s = strings.TrimLeft(s, " ")
	var b []byte
	end := -1
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			e := s[i+1]
			var u byte
			switch e {
			case '\'', '"', '\\':
				u = e
			case 'n':
				u = '\n'
			case 'r':
				u = '\r'
			case 't':
				u = '\t'
			case 's':
				u = ' '
			}
			if u != 0 {
				i++
				b = append(b, u)
				end = len(b)
				continue
			}
		}
		if c == '\'' && (quoted || strings.IndexByte(s[i+1:], '\'') >= 0) {
			quoted = !quoted
			if quoted {
				end = len(b)
			}
			continue
		}
		b = append(b, c)
		if c != ' ' || quoted {
			end = len(b)
		}
	}
	if end >= 0 {
		b = b[:end]
	}
	return string(b)
}
