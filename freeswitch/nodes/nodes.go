// Package nodes reads the FreeSWITCH node list (FS_NODES) and renders it
// for Kamailio's dispatcher. sipbridge applies every trunk to each node
// (app, trunk) and runs call control on each (app, cluster).
package nodes

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// DefaultSIPPort is a node's SIP port when its entry names none: the
// shipped external profile's.
const DefaultSIPPort = 5080

// DefaultName is the name of the one node FS_ESL_ADDR describes.
const DefaultName = "fs1"

// Node is one FreeSWITCH.
type Node struct {
	Name string // [A-Za-z0-9_-], unique in the list
	ESL  string // Event Socket host:port
	SIP  string // SIP host:port of the profile carriers' calls go to
}

// FromEnv returns the node list: FS_NODES when set, else one node named
// DefaultName at FS_ESL_ADDR. Errors name the variable.
func FromEnv(fsNodes, eslAddr string) ([]Node, error) {
	if strings.TrimSpace(fsNodes) != "" {
		ns, err := Parse(fsNodes)
		if err != nil {
			return nil, fmt.Errorf("FS_NODES: %w", err)
		}
		return ns, nil
	}
	n, err := node(DefaultName, eslAddr, "")
	if err != nil {
		return nil, fmt.Errorf("FS_ESL_ADDR: %w", err)
	}
	return []Node{n}, nil
}

// Parse reads a comma-separated list of name=host:esl_port entries, each
// with an optional ;sip=host:port (default: the ESL host, port
// DefaultSIPPort): "fs1=10.0.0.11:8021,fs2=10.0.0.12:8021;sip=10.0.0.12:5060".
func Parse(s string) ([]Node, error) {
	var out []Node
	seen := map[string]bool{}
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("entry %d is empty", i+1)
		}
		name, rest, ok := strings.Cut(entry, "=")
		if !ok {
			return nil, fmt.Errorf("entry %d (%s): want name=host:port", i+1, clip(entry))
		}
		name = strings.TrimSpace(name)
		esl, opts, _ := strings.Cut(rest, ";")
		sip := ""
		if opts != "" {
			k, v, _ := strings.Cut(opts, "=")
			if strings.TrimSpace(k) != "sip" || strings.Contains(v, ";") {
				return nil, fmt.Errorf("node %s: unknown option %q (only sip=host:port)", clip(name), clip(opts))
			}
			if sip = strings.TrimSpace(v); sip == "" {
				return nil, fmt.Errorf("node %s: sip= is empty", clip(name))
			}
		}
		n, err := node(name, strings.TrimSpace(esl), sip)
		if err != nil {
			return nil, err
		}
		if seen[n.Name] {
			return nil, fmt.Errorf("node %s is listed twice", n.Name)
		}
		seen[n.Name] = true
		out = append(out, n)
	}
	return out, nil
}

func node(name, esl, sip string) (Node, error) {
	if !validName(name) {
		return Node{}, fmt.Errorf("node name %q: want 1 to 32 letters, digits, '_' or '-'", clip(name))
	}
	host, err := hostPort(esl)
	if err != nil {
		return Node{}, fmt.Errorf("node %s: event socket address %q: %w", name, clip(esl), err)
	}
	if sip == "" {
		sip = net.JoinHostPort(host, strconv.Itoa(DefaultSIPPort))
	} else if _, err := hostPort(sip); err != nil {
		return Node{}, fmt.Errorf("node %s: sip address %q: %w", name, clip(sip), err)
	}
	return Node{Name: name, ESL: esl, SIP: sip}, nil
}

// hostPort checks host:port (IPv6 in brackets) and returns the host.
func hostPort(v string) (string, error) {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return "", errors.New("want host:port")
	}
	if host == "" || strings.Trim(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:") != "" {
		return "", errors.New("host must be a name or an IP address")
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return "", errors.New("port must be 1-65535")
	}
	return host, nil
}

func validName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// DispatcherList renders Kamailio's dispatcher.list for the nodes: one line
// per node in set setID, "setid destination flags priority attrs", the
// destination the node's SIP address, attrs its name (duid). The order
// (earlier node, higher priority) is the list's.
func DispatcherList(ns []Node, setID int) string {
	var b strings.Builder
	b.WriteString("# Kamailio dispatcher list rendered by `sipbridge render-dispatcher` from FS_NODES.\n")
	b.WriteString("# setid destination flags priority attrs\n")
	for i, n := range ns {
		fmt.Fprintf(&b, "%d sip:%s 0 %d duid=%s\n", setID, n.SIP, len(ns)-i, n.Name)
	}
	return b.String()
}
