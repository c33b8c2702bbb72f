package conf

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestInstallScriptPlan runs scripts/install-freeswitch.sh in its plan mode (PRINT_PLAN=1:
// nothing is installed, downloaded or built) and checks what a full build would produce: exactly
// the modules this conf loads (a module added to modules.conf.xml and not to the script would
// make FreeSWITCH refuse to start on a switch built by it), the pinned sources, and PREFIX honoured.
func TestInstallScriptPlan(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not found")
	}
	cmd := exec.Command("bash", "../../scripts/install-freeswitch.sh")
	cmd.Env = append(os.Environ(), "PRINT_PLAN=1", "PREFIX=/opt/fs-plan-test", "SRC_DIR=", "NO_APT=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("install-freeswitch.sh PRINT_PLAN=1: %v\n%s", err, out)
	}
	var modules []string
	sources := map[string][]string{} // name → url, ref, commit
	prefix := ""
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "module":
			modules = append(modules, f[1])
		case len(f) == 5 && f[0] == "source":
			sources[f[1]] = f[2:]
		case len(f) == 2 && f[0] == "prefix":
			prefix = f[1]
		case len(f) > 1 && f[0] == "apt":
		default:
			t.Errorf("unexpected plan line %q", line)
		}
	}
	slices.Sort(modules)
	if want := loadedModules(t); !slices.Equal(modules, want) {
		t.Errorf("the install script builds %v; modules.conf.xml loads %v", modules, want)
	}
	if prefix != "/opt/fs-plan-test" {
		t.Errorf("plan prefix %q, want the PREFIX given", prefix)
	}
	commit := regexp.MustCompile(`^[0-9a-f]{40}$`)
	for name, ref := range map[string]string{"freeswitch": "v1.11.1", "sofia-sip": "", "spandsp": "", "mod_audio_stream": "", "libwsc": ""} {
		s, ok := sources[name]
		if !ok {
			t.Errorf("no source %s in the plan", name)
			continue
		}
		if !strings.HasPrefix(s[0], "https://github.com/") || !commit.MatchString(s[2]) {
			t.Errorf("source %s = %v: want a public git URL pinned to a full commit", name, s)
		}
		if ref != "" && s[1] != ref {
			t.Errorf("source %s at %s, want %s", name, s[1], ref)
		}
	}
}
