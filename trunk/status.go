package trunk

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// GatewayStatus is one <gateway> of `sofia xmlstatus gateway`.
type GatewayStatus struct {
	Name    string `xml:"name"`
	Profile string `xml:"profile"`
	State   string `xml:"state"`  // REGED, NOREG, FAIL_WAIT, …
	Status  string `xml:"status"` // UP | DOWN
	Expires string `xml:"expires"`
	CallsIn int    `xml:"calls-in"`
}

// ParseXMLStatus parses the reply of `sofia xmlstatus gateway` (a <gateways>
// list) or `sofia xmlstatus gateway <name>` (a single <gateway>). FreeSWITCH
// declares ISO-8859-1; the bytes are converted to UTF-8. FreeSWITCH 1.11.1
// prints username, exten and to unescaped (a username "a&b" gives
// <username>a&b</username>, which is not XML) while it escapes from and
// contact: the reply is repaired line by line first (e2e, hostile values).
func ParseXMLStatus(reply string) ([]GatewayStatus, error) {
	trimmed := strings.TrimSpace(reply)
	if strings.HasPrefix(trimmed, "-ERR") || strings.HasPrefix(trimmed, "Invalid Gateway") {
		return nil, fmt.Errorf("%w: %s", ErrSwitch, trimmed)
	}
	reply = repairXMLStatus(reply)
	dec := xml.NewDecoder(strings.NewReader(reply))
	dec.CharsetReader = func(charset string, in io.Reader) (io.Reader, error) {
		switch strings.ToLower(charset) {
		case "iso-8859-1", "latin1", "us-ascii", "utf-8":
			return latin1Reader(in, strings.ToLower(charset) == "utf-8"), nil
		}
		return nil, fmt.Errorf("unsupported charset %q", charset)
	}
	var out []GatewayStatus
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: xmlstatus: %v", ErrSwitch, err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "gateway" {
			var g GatewayStatus
			if err := dec.DecodeElement(&g, &se); err != nil {
				return nil, fmt.Errorf("%w: xmlstatus: %v", ErrSwitch, err)
			}
			out = append(out, g)
		}
	}
}

var (
	statusField = regexp.MustCompile(`(?m)^(\s*<([A-Za-z][\w-]*)>)(.*)(</([A-Za-z][\w-]*)>\s*)$`)
	xmlEntity   = regexp.MustCompile(`^&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);`)
)

// repairXMLStatus escapes, inside each one-line <field>text</field>, the
// '<' and '>' and the '&' that do not start an entity: FreeSWITCH's raw
// fields become XML, its escaped ones stay as they are.
func repairXMLStatus(reply string) string {
	return statusField.ReplaceAllStringFunc(reply, func(line string) string {
		m := statusField.FindStringSubmatch(line)
		if m[2] != m[5] {
			return line
		}
		var b strings.Builder
		text := m[3]
		for i := 0; i < len(text); i++ {
			switch c := text[i]; {
			case c == '<':
				b.WriteString("&lt;")
			case c == '>':
				b.WriteString("&gt;")
			case c == '&' && !xmlEntity.MatchString(text[i:]):
				b.WriteString("&amp;")
			default:
				b.WriteByte(c)
			}
		}
		return m[1] + b.String() + m[4]
	})
}

func latin1Reader(in io.Reader, utf8 bool) io.Reader {
	if utf8 {
		return in
	}
	b, err := io.ReadAll(in)
	if err != nil {
		return bytes.NewReader(nil)
	}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	for _, c := range b {
		w.WriteRune(rune(c))
	}
	w.Flush()
	return &buf
}
