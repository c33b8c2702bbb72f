package main

import (
	"errors"
	"fmt"
	"net/netip"
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
	for _, v := range strings.Split(get("FS_XML_CURL_ALLOW_FROM", ""), ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				errs = append(errs, fmt.Errorf("FS_XML_CURL_ALLOW_FROM: %q is not an address or CIDR", v))
				continue
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		x.AllowFrom = append(x.AllowFrom, p.Masked())
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
	return &xmlcurl.Options{User: x.User, Password: x.Password, AllowFrom: x.AllowFrom}
}
