package xmlcurl

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sipbridge/sipbridge/netpolicy"
)

// Source is the generated configuration as the reconciler last wrote it
// (trunk.Sync): relative path → bytes; ok false before its first pass.
type Source interface {
	Generated() (files map[string][]byte, ok bool)
}

// Options configures the handler.
type Options struct {
	// User and Password are the HTTP basic credentials mod_xml_curl sends
	// (its gateway-credentials): one pair for every node
	// (FS_XML_CURL_USER, FS_XML_CURL_PASSWORD).
	User, Password string
	// Nodes are the FS_NODES names: each node may present its own pair
	// instead, its name and NodePassword(Password, name), so a node's
	// credentials name it and stop working once it leaves FS_NODES.
	Nodes []string
	// PerNode refuses the shared pair: only a node's own pair opens
	// /fs/xml (FS_XML_CURL_PER_NODE).
	PerNode bool
	// Profile is the sofia profile the gateways belong to (FS_PROFILE).
	Profile string
	// AllowFrom are addresses allowed besides loopback and private ones
	// (FS_XML_CURL_ALLOW_FROM).
	AllowFrom []netip.Prefix
	Log       *slog.Logger
	// Now is the clock of the refusal log's pacing (nil: time.Now).
	Now func() time.Time
}

// maxBody bounds a request: mod_xml_curl's form is the lookup's keys and
// the fetching event's headers, a few KiB.
const maxBody = 64 << 10

// refusalEvery is how often one refusal (same reason, same address) is
// logged again while it repeats.
const refusalEvery = time.Minute

// Handler answers mod_xml_curl's configuration requests (POST /fs/xml).
type Handler struct {
	src      Source
	opts     Options
	user, pw [sha256.Size]byte

	mu      sync.Mutex
	refused map[string]time.Time // reason + address → last logged
	good    map[string][]byte    // key_value → the last document served
}

// New returns the handler.
func New(src Source, o Options) *Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Handler{src: src, opts: o, user: sha256.Sum256([]byte(o.User)), pw: sha256.Sum256([]byte(o.Password)),
		refused: map[string]time.Time{}, good: map[string][]byte{}}
}

// NodePassword is the password of a node's own xml_curl credentials: an
// HMAC of its name under the shared password (32 hex digits), so that
// sipbridge derives every node's without storing any
// (`sipbridge xml-curl-credentials NODE` prints it).
func NodePassword(password, node string) string {
	m := hmac.New(sha256.New, []byte(password))
	m.Write([]byte("sipbridge xml_curl node " + node))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// authorized checks a request's basic credentials: the shared pair
// (unless PerNode), or a node's name with its NodePassword. The
// comparisons take the same time whatever matches.
func (h *Handler) authorized(user, pw string) bool {
	u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pw))
	ok := subtle.ConstantTimeCompare(u[:], h.user[:])&subtle.ConstantTimeCompare(p[:], h.pw[:]) == 1 && !h.opts.PerNode
	for _, n := range h.opts.Nodes {
		nu, np := sha256.Sum256([]byte(n)), sha256.Sum256([]byte(NodePassword(h.opts.Password, n)))
		if subtle.ConstantTimeCompare(u[:], nu[:])&subtle.ConstantTimeCompare(p[:], np[:]) == 1 {
			ok = true
		}
	}
	return ok
}

// Request is what mod_xml_curl asks for.
type Request struct {
	Section  string // configuration, directory, dialplan, …
	TagName  string // configuration
	KeyName  string // name
	KeyValue string // sofia.conf, acl.conf, …
	Profile  string // sofia's profile (rescan of one profile), else ""
	Hostname string // the node's host name
}

// ParseRequest reads mod_xml_curl's form body.
func ParseRequest(body []byte) (Request, error) {
	v, err := url.ParseQuery(strings.TrimSpace(string(body)))
	if err != nil {
		return Request{}, err
	}
	r := Request{Section: v.Get("section"), TagName: v.Get("tag_name"), KeyName: v.Get("key_name"), KeyValue: v.Get("key_value"),
		Profile: v.Get("profile"), Hostname: v.Get("hostname")}
	if r.Section == "" {
		return r, errors.New("section is required")
	}
	return r, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	remote := remoteAddr(r)
	if !h.addressAllowed(remote) {
		h.refuse(w, http.StatusForbidden, "address not loopback, private or in FS_XML_CURL_ALLOW_FROM", remote)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	user, pw, ok := r.BasicAuth()
	if !ok {
		h.refuse(w, http.StatusUnauthorized, "no credentials", remote)
		return
	}
	if !h.authorized(user, pw) {
		h.refuse(w, http.StatusUnauthorized, "wrong credentials", remote)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "request body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	req, err := ParseRequest(body)
	if err != nil {
		http.Error(w, "form: "+err.Error(), http.StatusBadRequest)
		return
	}
	doc, gateways := h.answer(req)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(doc)
	h.opts.Log.Debug("configuration requested", "section", req.Section, "key_value", req.KeyValue, "profile", req.Profile,
		"node", req.Hostname, "remote", remote.String(), "found", string(doc) != NotFound, "gateways", gateways)
}

// answer is the document for req and how many gateways it carries.
func (h *Handler) answer(req Request) ([]byte, int) {
	if req.Section != "configuration" || (req.KeyName != "" && req.KeyName != "name") {
		return []byte(NotFound), 0
	}
	if req.KeyValue != "sofia.conf" && req.KeyValue != "acl.conf" {
		return []byte(NotFound), 0
	}
	files, ok := h.src.Generated()
	if !ok {
		// Before the first pass: the node's own files (the profile without
		// sipbridge's gateways); the pass's rescan asks again.
		return []byte(NotFound), 0
	}
	var doc []byte
	var err error
	if req.KeyValue == "sofia.conf" {
		doc, err = SofiaConf(h.opts.Profile, files)
	} else {
		doc, err = ACLConf(files)
	}
	if err == nil {
		err = wellFormed(doc)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		// Never a document the switch cannot parse (it would fall back to
		// its own files without telling the reconciler): the last good one.
		h.opts.Log.Error("configuration not rendered; serving the last good one", "key_value", req.KeyValue, "err", err)
		if doc = h.good[req.KeyValue]; doc == nil {
			return []byte(NotFound), 0
		}
	} else {
		h.good[req.KeyValue] = doc
	}
	return doc, bytes.Count(doc, []byte("<gateway name="))
}

// wellFormed checks that doc parses as XML.
func wellFormed(doc []byte) error {
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		if _, err := d.Token(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// addressAllowed: loopback and private addresses, and AllowFrom.
func (h *Handler) addressAllowed(a netip.Addr) bool {
	return netpolicy.InsideAddr(a, h.opts.AllowFrom)
}

// refuse answers status and logs the refusal, once a minute at most for one
// reason from one address (a misconfigured node asks for every module's
// configuration).
func (h *Handler) refuse(w http.ResponseWriter, status int, reason string, remote netip.Addr) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="sipbridge FreeSWITCH configuration"`)
	}
	http.Error(w, http.StatusText(status), status)
	key, now := reason+"|"+remote.String(), h.opts.Now()
	h.mu.Lock()
	last, seen := h.refused[key]
	log := !seen || now.Sub(last) >= refusalEvery
	if log {
		if len(h.refused) > 1024 {
			clear(h.refused)
		}
		h.refused[key] = now
	}
	h.mu.Unlock()
	if log {
		h.opts.Log.Warn("configuration request refused", "status", status, "reason", reason, "remote", remote.String())
	}
}

// remoteAddr is the peer of the connection (never a forwarded header: the
// address check is about who connects).
func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}
