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
// make FreeSWITCH refuse to start on a switch built by it; so would mod_xml_curl missing with
// sipbridge_config_source=xml_curl), the pinned sources, and PREFIX honoured.
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
	if want := buildModules(t); !slices.Equal(modules, want) {
		t.Errorf("the install script builds %v; modules.conf.xml and the configuration sources load %v", modules, want)
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

// buildModules are the modules modules.conf.xml loads and those its
// configuration sources (config_source/*.xml) add, sorted.
func buildModules(t *testing.T) []string {
	out := loadedModules(t)
	load := regexp.MustCompile(`<load module="([^"]+)"/>`)
	for p, body := range files(t) {
		if strings.HasPrefix(p, "config_source/") {
			for _, m := range load.FindAllStringSubmatch(body, -1) {
				out = append(out, m[1])
			}
		}
	}
	slices.Sort(out)
	return out
}
