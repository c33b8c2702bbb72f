package trunk

import (
	"context"
	"sort"
	"strings"

	"github.com/sipbridge/sipbridge/db"
	"github.com/sipbridge/sipbridge/xmlgen"
)

// StatusAPI is the Event Socket command a diagnosis needs.
type StatusAPI interface {
	API(ctx context.Context, cmd string) (string, error)
}

// Diagnosis is what FreeSWITCH holds against the trunks in the database:
// `sipbridge diag` prints it for every trunk, the console's Switch page
// shows it for one organization's.
type Diagnosis struct {
	Status      string // the first two lines of `status`
	AudioStream string // `module_exists mod_audio_stream`: "true" when loaded
	// Trunks has one row per trunk given, in their order.
	Trunks []GatewayDiag
	// Others are the profile's gateways no given trunk names, by name.
	Others []GatewayDiag
	Loaded int // trunks whose gateway FreeSWITCH holds
}

// GatewayDiag is one gateway, as FreeSWITCH and the database see it.
type GatewayDiag struct {
	Name  string
	Trunk *db.SIPTrunk // nil for Others
	Live  GatewayStatus
	// Drift is a difference sipbridge should not leave (an enabled trunk
	// missing, a disabled one loaded, a gateway of ours without a trunk);
	// Note names a gateway that is not sipbridge's (not a drift).
	Drift, Note string
}

// AudioStreamLoaded reports whether mod_audio_stream is loaded.
func (d *Diagnosis) AudioStreamLoaded() bool { return d.AudioStream == "true" }

// Diagnose asks FreeSWITCH for its status, mod_audio_stream and the
// profile's gateways, and compares the gateways with trunks.
func Diagnose(ctx context.Context, sw StatusAPI, profile string, trunks []db.SIPTrunk) (*Diagnosis, error) {
	status, err := sw.API(ctx, "status")
	if err != nil {
		return nil, err
	}
	mod, _ := sw.API(ctx, "module_exists mod_audio_stream")
	d := &Diagnosis{Status: firstLines(status, 2), AudioStream: strings.TrimSpace(mod)}
	reply, err := sw.API(ctx, "sofia xmlstatus gateway")
	if err != nil {
		return nil, err
	}
	live, err := ParseXMLStatus(reply)
	if err != nil {
		return nil, err
	}
	inFS := map[string]GatewayStatus{}
	for _, g := range live {
		if g.Profile == "" || g.Profile == profile {
			inFS[g.Name] = g
		}
	}
	known := map[string]bool{}
	for i := range trunks {
		t := &trunks[i]
		known[t.GatewayName] = true
		g, ok := inFS[t.GatewayName]
		row := GatewayDiag{Name: t.GatewayName, Trunk: t, Live: g}
		switch {
		case t.Enabled && !ok:
			row.Drift = "missing in FreeSWITCH"
		case !t.Enabled && ok:
			row.Drift = "disabled but loaded"
		}
		if ok {
			d.Loaded++
		}
		d.Trunks = append(d.Trunks, row)
	}
	names := make([]string, 0, len(inFS))
	for name := range inFS {
		if !known[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		row := GatewayDiag{Name: name, Live: inFS[name], Note: "not sipbridge's"}
		if xmlgen.IsOurGateway(name) {
			row.Drift, row.Note = "no trunk in the database", ""
		}
		d.Others = append(d.Others, row)
	}
	return d, nil
}

// Drifts counts the rows whose Drift is set.
func Drifts(rows []GatewayDiag) int {
	n := 0
	for _, r := range rows {
		if r.Drift != "" {
			n++
		}
	}
	return n
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(strings.TrimSpace(s), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
