// Package xmlcurl serves FreeSWITCH's configuration over HTTP, for
// mod_xml_curl's configuration binding: sofia.conf (the shipped profile
// under FS_PROFILE's name, with every generated gateway and its
// apply-inbound-acl parameters) and acl.conf (the shipped lists and one list
// per trunk). The documents are built from the shipped files
// (freeswitch/conf) and from the generated files exactly as the trunk
// reconciler last wrote them, so a node on another host loads the same
// configuration as the single box reading FS_GEN_DIR, and a rejected pass's
// last good configuration is what it gets. Every other request is answered
// "not found", and FreeSWITCH falls back to its own files.
package xmlcurl

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/sipbridge/sipbridge/freeswitch/conf"
	"github.com/sipbridge/sipbridge/xmlgen"
)

// NotFound is mod_xml_curl's documented answer for "nothing here": the
// switch then reads its own files.
const NotFound = `<document type="freeswitch/xml"><section name="result"><result status="not found"/></section></document>` + "\n"

// The include lines of the shipped files that the documents replace with
// generated content (a change of the shipped conf fails loudly here).
const (
	includeProfiles = `<X-PRE-PROCESS cmd="include" data="../sip_profiles/*.xml"/>`
	includeGateways = `<X-PRE-PROCESS cmd="include" data="$${sipbridge_gen_dir}/gateways/*.xml"/>`
	includeParams   = `<X-PRE-PROCESS cmd="include" data="$${sipbridge_gen_dir}/profile/*.xml"/>`
	includeACL      = `<X-PRE-PROCESS cmd="include" data="$${sipbridge_gen_dir}/acl/*.xml"/>`
	shippedProfile  = `<profile name="external">`
)

// Generated folders, as the reconciler names its files (relative, '/').
const (
	dirGateways = "gateways/"
	dirACL      = "acl/"
	dirProfile  = "profile/"
)

var errShipped = errors.New("xmlcurl: the shipped configuration changed")

// SofiaConf renders sofia.conf: the shipped sofia.conf.xml whose profiles
// are the shipped external profile named profile, its gateways and
// inbound ACL parameters those of files (the generated files, relative
// path → bytes). The switch's preprocessor expands $${…} with the node's
// own vars.xml.
func SofiaConf(profile string, files map[string][]byte) ([]byte, error) {
	if !xmlgen.ValidGatewayName(profile) {
		return nil, fmt.Errorf("%w: profile name %q", xmlgen.ErrInvalid, profile)
	}
	p, err := shipped("sip_profiles/external.xml")
	if err != nil {
		return nil, err
	}
	if p, err = replaceOnce(p, shippedProfile, `<profile name="`+profile+`">`); err != nil {
		return nil, err
	}
	if p, err = replaceOnce(p, includeGateways, joinIncluded(files, dirGateways)); err != nil {
		return nil, err
	}
	if p, err = replaceOnce(p, includeParams, joinIncluded(files, dirProfile)); err != nil {
		return nil, err
	}
	c, err := shipped("autoload_configs/sofia.conf.xml")
	if err != nil {
		return nil, err
	}
	if c, err = replaceOnce(c, includeProfiles, p); err != nil {
		return nil, err
	}
	return document(c), nil
}

// ACLConf renders acl.conf: the shipped acl.conf.xml with one list per
// generated ACL file.
func ACLConf(files map[string][]byte) ([]byte, error) {
	c, err := shipped("autoload_configs/acl.conf.xml")
	if err != nil {
		return nil, err
	}
	if c, err = replaceOnce(c, includeACL, joinIncluded(files, dirACL)); err != nil {
		return nil, err
	}
	return document(c), nil
}

func shipped(name string) (string, error) {
	b, err := conf.Shipped.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errShipped, err)
	}
	return string(b), nil
}

func replaceOnce(s, old, with string) (string, error) {
	if strings.Count(s, old) != 1 {
		return "", fmt.Errorf("%w: %s is not there once", errShipped, old)
	}
	return strings.Replace(s, old, with, 1), nil
}

// joinIncluded is what FreeSWITCH's include glob makes of one generated
// folder: the files in name order, each without its <include> wrapper.
func joinIncluded(files map[string][]byte, dir string) string {
	var names []string
	for rel := range files {
		if strings.HasPrefix(rel, dir) && strings.HasSuffix(rel, ".xml") && !strings.Contains(rel[len(dir):], "/") {
			names = append(names, rel)
		}
	}
	sort.Strings(names)
	var b strings.Builder
	for _, rel := range names {
		body := bytes.TrimSpace(files[rel])
		body = bytes.TrimPrefix(body, []byte("<include>"))
		body = bytes.TrimSuffix(body, []byte("</include>"))
		b.Write(bytes.TrimSpace(body))
		b.WriteByte('\n')
	}
	return b.String()
}

func document(configuration string) []byte {
	var b bytes.Buffer
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n<document type=\"freeswitch/xml\">\n  <section name=\"configuration\">\n")
	b.WriteString(strings.TrimSpace(configuration))
	b.WriteString("\n  </section>\n</document>\n")
	return b.Bytes()
}
