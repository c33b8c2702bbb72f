// Package conf is sipbridge's FreeSWITCH configuration directory. Its Go
// side carries the shipped files that sipbridge also serves over HTTP
// (mod_xml_curl), so the documents it answers are built from the same
// bytes FreeSWITCH reads in the single-box layout.
package conf

import "embed"

// Shipped holds the files the mod_xml_curl answers are built from.
//
//go:embed autoload_configs/sofia.conf.xml autoload_configs/acl.conf.xml sip_profiles/external.xml
var Shipped embed.FS
