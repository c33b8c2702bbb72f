package conf

import (
	"encoding/xml"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sipbridge/sipbridge/xmlgen"
)

var (
	setVar = regexp.MustCompile(`<X-PRE-PROCESS cmd="set" data="([a-z_]+)=`)
	useVar = regexp.MustCompile(`\$\$\{([a-z_]+)\}`)
)

func files(t *testing.T) map[string]string {
	out := map[string]string{}
	filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".xml") {
			b, _ := os.ReadFile(p)
			out[p] = string(b)
		}
		return nil
	})
	if len(out) < 10 {
		t.Fatalf("only %d XML files", len(out))
	}
	return out
}

func TestWellFormedAndVarsDefined(t *testing.T) {
	// FreeSWITCH's own globals, set before the configuration is read.
	vars := map[string]bool{"certs_dir": true}
	for _, m := range setVar.FindAllStringSubmatch(files(t)["vars.xml"], -1) {
		vars[m[1]] = true
	}
	for p, body := range files(t) {
		d := xml.NewDecoder(strings.NewReader(body))
		for {
			if _, err := d.Token(); err != nil {
				if err.Error() != "EOF" {
					t.Errorf("%s: %v", p, err)
				}
				break
			}
		}
		for _, m := range useVar.FindAllStringSubmatch(body, -1) {
			if !vars[m[1]] {
				t.Errorf("%s uses $${%s}, not set in vars.xml", p, m[1])
			}
		}
	}
}

// loadedModules is the sorted list of modules modules.conf.xml loads.
func loadedModules(t *testing.T) []string {
	var m struct {
		Modules []struct {
			Name string `xml:"module,attr"`
		} `xml:"modules>load"`
	}
	if err := xml.Unmarshal([]byte(files(t)["autoload_configs/modules.conf.xml"]), &m); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range m.Modules {
		got = append(got, x.Name)
	}
	slices.Sort(got)
	return got
}

func TestModulesExactly(t *testing.T) {
	got := loadedModules(t)
	want := []string{"mod_audio_stream", "mod_commands", "mod_console", "mod_dialplan_xml", "mod_dptools", "mod_event_socket",
		"mod_logfile", "mod_loopback", "mod_native_file", "mod_opus", "mod_sndfile", "mod_sofia", "mod_spandsp", "mod_tone_stream"}
	if !slices.Equal(got, want) {
		t.Fatalf("modules %v, want %v", got, want)
	}
}

func TestExternalProfile(t *testing.T) {
	body := files(t)["sip_profiles/external.xml"]
	var p struct {
		Name   string `xml:"name,attr"`
		Params []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"settings>param"`
	}
	if err := xml.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	params := map[string]string{}
	for _, x := range p.Params {
		params[x.Name] = x.Value
	}
	for k, v := range map[string]string{"parse-all-invite-headers": "true", "auth-calls": "true", "auth-calls-acl-only": "true",
		"apply-inbound-acl": "sipbridge_deny", "context": "public", "sip-ip": "$${bridge_ip}", "sip-port": "$${sip_port}",
		// TLS from vars.xml; inbound offers negotiated at the answer, after
		// sipbridge set the trunk's codecs and srtp.
		"tls": "$${sip_tls}", "tls-sip-port": "$${tls_sip_port}", "tls-cert-dir": "$${tls_cert_dir}",
		"tls-verify-policy": "$${tls_verify_policy}", "inbound-late-negotiation": "true"} {
		if params[k] != v {
			t.Errorf("external profile %s = %q, want %q", k, params[k], v)
		}
	}
	if p.Name != "external" {
		t.Fatalf("profile name %q", p.Name)
	}
	if !strings.Contains(files(t)["dialplan/public.xml"], `application="park"`) {
		t.Error("public dialplan does not park")
	}
}

// TestGeneratedFilesAreIncluded renders with xmlgen into a generated
// directory and checks the include globs pick the files up.
func TestGeneratedFilesAreIncluded(t *testing.T) {
	gen := t.TempDir()
	gw, _ := xmlgen.RenderGateway(xmlgen.Trunk{ID: "t1", GatewayName: "o1_main", Gateway: "sip.example.com", Register: false})
	acl, _ := xmlgen.RenderACLList("o1_main", []string{"203.0.113.0/24"})
	params, _ := xmlgen.RenderInboundACLParams([]string{"o1_main"})
	for rel, b := range map[string][]byte{"gateways/o1_main.xml": gw, "acl/o1_main.xml": acl, "profile/inbound-acl.xml": params} {
		os.MkdirAll(filepath.Join(gen, filepath.Dir(rel)), 0o755)
		os.WriteFile(filepath.Join(gen, rel), b, 0o644)
	}
	include := regexp.MustCompile(`cmd="include" data="\$\$\{sipbridge_gen_dir\}/([a-z]+/\*\.xml)"`)
	found := map[string]bool{}
	for _, body := range files(t) {
		for _, m := range include.FindAllStringSubmatch(body, -1) {
			matches, _ := filepath.Glob(filepath.Join(gen, m[1]))
			if len(matches) != 1 {
				t.Errorf("include %s matches %v", m[1], matches)
			}
			found[m[1]] = true
		}
	}
	for _, want := range []string{"gateways/*.xml", "acl/*.xml", "profile/*.xml"} {
		if !found[want] {
			t.Errorf("no include of $${sipbridge_gen_dir}/%s", want)
		}
	}
}

// TestConfigSource: vars.xml picks the configuration source by naming a
// file of config_source/ that modules.conf.xml includes; files (the
// default) loads nothing more, xml_curl loads mod_xml_curl, whose binding
// asks sipbridge for the configuration section only.
func TestConfigSource(t *testing.T) {
	all := files(t)
	if !strings.Contains(all["vars.xml"], `data="sipbridge_config_source=files"`) {
		t.Error("the default configuration source is not files")
	}
	mods := all["autoload_configs/modules.conf.xml"]
	inc := `<X-PRE-PROCESS cmd="include" data="../config_source/$${sipbridge_config_source}.xml"/>`
	if i, j := strings.Index(mods, inc), strings.Index(mods, `<load module="mod_sofia"/>`); i < 0 || i > j {
		t.Errorf("modules.conf.xml does not include the configuration source before mod_sofia")
	}
	for name, want := range map[string]string{"files": "", "xml_curl": "mod_xml_curl"} {
		var m struct {
			Loads []struct {
				Module string `xml:"module,attr"`
			} `xml:"load"`
		}
		body, ok := all["config_source/"+name+".xml"]
		if err := xml.Unmarshal([]byte(body), &m); !ok || err != nil {
			t.Errorf("config_source/%s.xml: present %v, %v", name, ok, err)
			continue
		}
		got := ""
		for _, l := range m.Loads {
			got += l.Module
		}
		if got != want {
			t.Errorf("config_source/%s.xml loads %q, want %q", name, got, want)
		}
	}
	if b := all["autoload_configs/xml_curl.conf.xml"]; !strings.Contains(b, `value="$${sipbridge_xml_curl_url}" bindings="configuration"`) {
		t.Errorf("xml_curl.conf.xml binding:\n%s", b)
	}
}
