package controller

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
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
// declares ISO-8859-1; the bytes are converted to UTF-8.
func ParseXMLStatus(reply string) ([]GatewayStatus, error) {
	trimmed := strings.TrimSpace(reply)
	if strings.HasPrefix(trimmed, "-ERR") || strings.HasPrefix(trimmed, "Invalid Gateway") {
		return nil, fmt.Errorf("%w: %s", ErrSwitch, trimmed)
	}
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
