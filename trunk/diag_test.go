package trunk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/db"
)

type fakeStatusAPI map[string]string

func (f fakeStatusAPI) API(_ context.Context, cmd string) (string, error) {
	if r, ok := f[cmd]; ok {
		return r, nil
	}
	return "", errors.New("-ERR " + cmd)
}

func xmlstatusOf(gws ...[2]string) string {
	var b strings.Builder
	// One field a line, as FreeSWITCH writes it (ParseXMLStatus repairs
	// the reply line by line).
	b.WriteString("<gateways>\n")
	for _, g := range gws {
		fmt.Fprintf(&b, "  <gateway>\n    <name>%s</name>\n    <profile>%s</profile>\n    <state>REGED</state>\n    <status>UP</status>\n  </gateway>\n", g[0], g[1])
	}
	b.WriteString("</gateways>\n")
	return b.String()
}

// A diagnosis names each drift once: an enabled trunk FreeSWITCH lacks, a
// disabled one it still holds, a gateway of ours without a trunk; an
// operator's own gateway and another profile's are not drifts.
func TestDiagnoseNamesEachDrift(t *testing.T) {
	sw := fakeStatusAPI{
		"status":                         "UP 0 years, 0 days\nFreeSWITCH (Version 1.11.1) is ready\n3 session(s)",
		"module_exists mod_audio_stream": "true\n",
		"sofia xmlstatus gateway":        xmlstatusOf([2]string{"o1_pbx", "external"}, [2]string{"o1_old", "external"}, [2]string{"o2_gone", "external"}, [2]string{"office_pbx", "external"}, [2]string{"o3_other", "internal"}),
	}
	trunks := []db.SIPTrunk{{GatewayName: "o1_pbx", Enabled: true}, {GatewayName: "o1_old", Enabled: false}, {GatewayName: "o1_new", Enabled: true}}
	d, err := Diagnose(context.Background(), sw, "external", trunks)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != "UP 0 years, 0 days\nFreeSWITCH (Version 1.11.1) is ready" || !d.AudioStreamLoaded() || d.Loaded != 2 {
		t.Fatalf("status %q, audio stream %q, loaded %d", d.Status, d.AudioStream, d.Loaded)
	}
	var got []string
	for _, r := range append(d.Trunks, d.Others...) {
		got = append(got, r.Name+":"+r.Drift+r.Note)
	}
	want := "o1_pbx: o1_old:disabled but loaded o1_new:missing in FreeSWITCH o2_gone:no trunk in the database office_pbx:not sipbridge's"
	if strings.Join(got, " ") != want {
		t.Fatalf("rows\n %s\nwant\n %s", strings.Join(got, " "), want)
	}
	if Drifts(d.Trunks) != 2 || Drifts(d.Others) != 1 {
		t.Fatalf("drifts %d + %d, want 2 + 1", Drifts(d.Trunks), Drifts(d.Others))
	}
	delete(sw, "module_exists mod_audio_stream")
	if d, err := Diagnose(context.Background(), sw, "external", nil); err != nil || d.AudioStreamLoaded() {
		t.Fatalf("without mod_audio_stream: %v, loaded %v", err, d.AudioStreamLoaded())
	}
	delete(sw, "status")
	if _, err := Diagnose(context.Background(), sw, "external", trunks); err == nil {
		t.Fatal("a switch that does not answer status: no error")
	}
}
