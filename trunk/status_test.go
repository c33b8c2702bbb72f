package trunk

import (
	"os"
	"testing"
)

// TestParseXMLStatusRawUsername: the real switch prints a username holding
// `& < > " '` raw in xmlstatus (recorded on FreeSWITCH 1.11.1 by the e2e
// suite's hostile_values scenario); the reply must still parse, or every
// trunk sync pass after the next reconnect or tick fails for every trunk.
func TestParseXMLStatusRawUsername(t *testing.T) {
	reply, err := os.ReadFile("testdata/xmlstatus/raw-username.xml")
	if err != nil {
		t.Fatal(err)
	}
	list, err := ParseXMLStatus(string(reply))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "o1_hostile_ip" || list[0].Profile != "external" || list[0].State != "NOREG" || list[0].Status != "UP" {
		t.Fatalf("parsed %+v", list)
	}
	// Already-escaped fields are left as they are.
	if got := repairXMLStatus("<from>&lt;sip:a&amp;b@h&gt;</from>\n"); got != "<from>&lt;sip:a&amp;b@h&gt;</from>\n" {
		t.Fatalf("repaired an escaped field: %q", got)
	}
	for raw, want := range map[string]string{
		"  <username>a&b<c>\"'</username>\n": "  <username>a&amp;b&lt;c&gt;\"'</username>\n",
		"  <username>a<b></username>\n":      "  <username>a&lt;b&gt;</username>\n",
	} {
		if got := repairXMLStatus(raw); got != want {
			t.Errorf("%q repaired as %q, want %q", raw, got, want)
		}
	}
}
