package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/sipbridge/sipbridge/freeswitch/xmlcurl"
)

// xmlCurlConfig is FreeSWITCH's configuration over HTTP (POST /fs/xml, for
// mod_xml_curl): off unless FS_XML_CURL_PASSWORD is set.
type xmlCurlConfig struct {
	// User and Password are the HTTP basic credentials of every node
	// (FS_XML_CURL_USER, default freeswitch; FS_XML_CURL_PASSWORD).
	User, Password string
	// AllowFrom are the addresses allowed besides loopback and private
	// ones (FS_XML_CURL_ALLOW_FROM, comma-separated CIDRs or addresses).
	AllowFrom []netip.Prefix
	// Nodes are the FS_NODES names, each of which may present its own
	// credentials (xmlcurl.NodePassword); PerNode (FS_XML_CURL_PER_NODE)
	// refuses the shared pair.
	Nodes   []string
	PerNode bool
}

func (c *Config) loadXMLCurl(get envGetter) []error {
	x := &c.XMLCurl
	x.User, x.Password = get("FS_XML_CURL_USER", "freeswitch"), get("FS_XML_CURL_PASSWORD", "")
	var errs []error
	if strings.ContainsAny(x.User, ":\"'$ \t\r\n") {
		errs = append(errs, errors.New("FS_XML_CURL_USER must not contain ':', quotes, '$' or spaces (it is written as user:password in xml_curl.conf)"))
	}
	if strings.ContainsAny(x.Password, "\"'$\r\n") {
		errs = append(errs, errors.New("FS_XML_CURL_PASSWORD must not contain quotes, '$' or line breaks (it is written in vars.xml)"))
	}
	var perr []error
	x.AllowFrom, perr = parsePrefixes("FS_XML_CURL_ALLOW_FROM", get("FS_XML_CURL_ALLOW_FROM", ""))
	errs = append(errs, perr...)
	var err error
	if x.PerNode, err = strconv.ParseBool(get("FS_XML_CURL_PER_NODE", "false")); err != nil {
		errs = append(errs, fmt.Errorf("FS_XML_CURL_PER_NODE: %q is not true or false", get("FS_XML_CURL_PER_NODE", "")))
	}
	if x.Password == "" && len(x.AllowFrom) > 0 {
		errs = append(errs, errors.New("FS_XML_CURL_ALLOW_FROM is set but FS_XML_CURL_PASSWORD is not: /fs/xml stays off without a password"))
	}
	return errs
}

// options are the handler's, nil when /fs/xml is off.
func (x xmlCurlConfig) options() *xmlcurl.Options {
	if x.Password == "" {
		return nil
	}
	return &xmlcurl.Options{User: x.User, Password: x.Password, AllowFrom: x.AllowFrom, Nodes: x.Nodes, PerNode: x.PerNode}
}

// xmlCurlNodes gives /fs/xml the FS_NODES names (after loadFront), and
// refuses FS_XML_CURL_PER_NODE without them.
func (c *Config) xmlCurlNodes() error {
	x := &c.XMLCurl
	if c.SIPFront.PerNode {
		for _, n := range c.SIPFront.Nodes {
			x.Nodes = append(x.Nodes, n.Name)
		}
	}
	if x.PerNode && (len(x.Nodes) == 0 || x.Password == "") {
		return errors.New("FS_XML_CURL_PER_NODE needs FS_NODES (the nodes' names) and FS_XML_CURL_PASSWORD (their passwords derive from it)")
	}
	return nil
}

// xmlCurlCredentials prints a node's own /fs/xml credentials, for its
// xml_curl.conf (the gateway-credentials user:password).
func xmlCurlCredentials(cfg *Config, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return usageError{"xml-curl-credentials: want one node name (FS_NODES)"}
	}
	if cfg.XMLCurl.Password == "" {
		return usageError{"xml-curl-credentials: FS_XML_CURL_PASSWORD is not set (the node passwords derive from it)"}
	}
	if !slices.Contains(cfg.XMLCurl.Nodes, args[0]) {
		return usageError{fmt.Sprintf("xml-curl-credentials: %q is not a node of FS_NODES", args[0])}
	}
	_, err := fmt.Fprintf(stdout, "%s:%s\n", args[0], xmlcurl.NodePassword(cfg.XMLCurl.Password, args[0]))
	return err
}

// parsePrefixes reads a comma-separated list of addresses and CIDRs (the
// setting name), an address as its one-address prefix.
func parsePrefixes(name, list string) (out []netip.Prefix, errs []error) {
	for _, v := range strings.Split(list, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not an address or CIDR", name, v))
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, errs
}
