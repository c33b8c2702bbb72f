// Package fstest is a FreeSWITCH simulator for tests: an Event Socket server
// speaking the wire format of the recordings in ../shared/fixtures/freeswitch
// and emulating the mod_sofia gateway and ACL semantics sipbridge relies on,
// reading the files sipbridge writes under GenDir (gateways/*.xml,
// acl/*.xml, profile/*.xml).
//
// Emulated (as recorded): auth (and its failure), event json subscriptions
// with CUSTOM subclasses, filter, api, bgapi with the client's Job-UUID,
// exit; `sofia profile <p> rescan` (adds only NEW gateways, ignores existing
// names, drops invalid names silently, re-reads apply-inbound-acl, answers
// "+OK" text even when the XML fails to load), `killgw` (async DOWN then
// sofia::gateway_delete), `startgw`, `sofia xmlstatus gateway [name]`,
// `reloadacl`, `acl <ip> <list>`, `reloadxml`, `status`, `module_exists`,
// and `restart` (answered, but counted: sipbridge must never send it).
// Not emulated yet: channels and calls, event-plain output, mod_audio_stream.
package fstest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Options configure the simulator.
type Options struct {
	Password string        // default ClueCon
	GenDir   string        // the directory sipbridge writes
	Profile  string        // default external
	Step     time.Duration // base delay of gateway state changes (default 10ms; a real switch ≈ 0.5 s)
	SIPAddr  string        // the profile's SIP address as shown in contacts (default 127.0.0.1:5080)
	Logger   *slog.Logger
}

// Registrar is the outcome a registration gateway's REGISTER gets.
type Registrar int

const (
	RegistrarOK        Registrar = iota // 200 OK → REGED
	RegistrarForbidden                  // 403 Forbidden → FAILED, FAIL_WAIT
)

// GatewayInfo is a loaded gateway.
type GatewayInfo struct {
	Name   string
	State  string
	Params map[string]string
	Vars   map[string]string
}

// Switch is the simulator.
type Switch struct {
	o        Options
	ln       net.Listener
	addr     string
	coreUUID string

	mu        sync.Mutex
	conns     map[*conn]bool
	gateways  map[string]*gateway
	acls      map[string][]string // list → cidrs (loaded)
	inbound   []string            // apply-inbound-acl lists of the profile
	registrar map[string]Registrar
	commands  []string
	failNext  []failRule
	seq       int
	gen       int // bumped by Restart: stale timers do nothing
	chans     channels
	closed    bool
	wg        sync.WaitGroup
}

type gateway struct {
	added  time.Time
	name   string
	state  string
	params map[string]string
	vars   map[string]string
}

type failRule struct{ prefix, reply string }

// New returns a stopped simulator.
func New(o Options) *Switch {
	if o.Password == "" {
		o.Password = "ClueCon"
	}
	if o.Profile == "" {
		o.Profile = "external"
	}
	if o.SIPAddr == "" {
		o.SIPAddr = "127.0.0.1:5080"
	}
	if o.Step == 0 {
		o.Step = 10 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Switch{o: o, coreUUID: uuid.NewString(), conns: map[*conn]bool{}, gateways: map[string]*gateway{},
		acls: map[string][]string{}, registrar: map[string]Registrar{}}
}

// Start listens on 127.0.0.1 (a free port) and serves ESL.
func (s *Switch) Start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s.ln, s.addr = ln, ln.Addr().String()
	s.wg.Add(1)
	go s.accept()
	return nil
}

// Addr is the ESL address.
func (s *Switch) Addr() string { return s.addr }

// Close stops the simulator.
func (s *Switch) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	err := s.ln.Close()
	s.DropConnections()
	s.wg.Wait()
	return err
}

func (s *Switch) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		c := &conn{sw: s, nc: nc, w: bufio.NewWriter(nc)}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c.serve()
		}()
	}
}

// DropConnections closes every ESL socket abruptly.
func (s *Switch) DropConnections() {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.nc.Close()
	}
}

// Restart drops the connections and comes back empty on the same address:
// no gateways, no ACL lists until rescan / reloadacl.
func (s *Switch) Restart() {
	s.mu.Lock()
	s.gateways, s.acls, s.inbound = map[string]*gateway{}, map[string][]string{}, nil
	s.gen++
	s.coreUUID = uuid.NewString()
	s.mu.Unlock()
	s.chans.mu.Lock()
	s.chans.byID = nil // calls die with the switch
	s.chans.mu.Unlock()
	s.DropConnections()
}

// SetRegistrar sets the REGISTER outcome for a gateway name.
func (s *Switch) SetRegistrar(gateway string, r Registrar) {
	s.mu.Lock()
	s.registrar[gateway] = r
	s.mu.Unlock()
}

// FailNext answers the next api/bgapi command starting with prefix with reply.
func (s *Switch) FailNext(prefix, reply string) {
	s.mu.Lock()
	s.failNext = append(s.failNext, failRule{prefix, reply})
	s.mu.Unlock()
}

// Commands returns every api/bgapi command received, in order.
func (s *Switch) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

// ResetCommands forgets the commands received so far.
func (s *Switch) ResetCommands() {
	s.mu.Lock()
	s.commands = nil
	s.mu.Unlock()
}

// Gateways lists the loaded gateways by name.
func (s *Switch) Gateways() []GatewayInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []GatewayInfo
	for _, name := range sortedKeys(s.gateways) {
		g := s.gateways[name]
		out = append(out, GatewayInfo{Name: g.name, State: g.state, Params: copyMap(g.params), Vars: copyMap(g.vars)})
	}
	return out
}

// ACL returns the loaded nodes of an ACL list.
func (s *Switch) ACL(list string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.acls[list]...)
}

// InboundACLs returns the profile's apply-inbound-acl lists.
func (s *Switch) InboundACLs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.inbound...)
}

// conn is one ESL client connection.
type conn struct {
	sw *Switch
	nc net.Conn

	wmu sync.Mutex
	w   *bufio.Writer

	smu        sync.Mutex
	authed     bool
	all        bool
	events     map[string]bool
	subclasses map[string]bool
	filters    [][2]string
	plain      bool
}

func (c *conn) write(frame string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.w.WriteString(frame)
	c.w.Flush()
}

func (c *conn) reply(text string) {
	c.write("Content-Type: command/reply\nReply-Text: " + text + "\n\n")
}

func (c *conn) apiResponse(body string) {
	c.write(fmt.Sprintf("Content-Type: api/response\nContent-Length: %d\n\n%s", len(body), body))
}

const disconnectBody = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

func (c *conn) disconnect() {
	c.write(fmt.Sprintf("Content-Type: text/disconnect-notice\nContent-Length: %d\n\n%s", len(disconnectBody), disconnectBody))
}

func (c *conn) serve() {
	defer func() {
		c.nc.Close()
		c.sw.mu.Lock()
		delete(c.sw.conns, c)
		c.sw.mu.Unlock()
	}()
	c.write("Content-Type: auth/request\n\n")
	r := bufio.NewReader(c.nc)
	for {
		cmd, headers, err := readCommand(r)
		if err != nil {
			return
		}
		if !c.handle(cmd, headers) {
			return
		}
	}
}

// readCommand reads one client command: lines up to a blank line.
func readCommand(r *bufio.Reader) (string, map[string]string, error) {
	var first string
	headers := map[string]string{}
	for {
		line, err := r.ReadString('\n')
		if err != nil && (err != io.EOF || line == "") {
			return "", nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if first == "" {
				continue
			}
			return first, headers, nil
		}
		if first == "" {
			first = line
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
}

func (c *conn) handle(cmd string, headers map[string]string) bool {
	verb, rest, _ := strings.Cut(cmd, " ")
	c.smu.Lock()
	authed := c.authed
	c.smu.Unlock()
	if !authed {
		if verb != "auth" {
			c.reply("-ERR command not found")
			return true
		}
		if rest != c.sw.o.Password {
			c.reply("-ERR invalid")
			c.disconnect()
			return false
		}
		c.smu.Lock()
		c.authed = true
		c.smu.Unlock()
		c.reply("+OK accepted")
		return true
	}
	switch verb {
	case "event":
		format, names, _ := strings.Cut(rest, " ")
		if format != "json" && format != "plain" {
			c.reply("-ERR only event json and plain are simulated")
			return true
		}
		c.subscribe(strings.Fields(names))
		c.smu.Lock()
		c.plain = format == "plain"
		c.smu.Unlock()
		c.reply("+OK event listener enabled " + format)
	case "filter":
		name, value, _ := strings.Cut(rest, " ")
		c.smu.Lock()
		c.filters = append(c.filters, [2]string{name, value})
		c.smu.Unlock()
		c.reply(fmt.Sprintf("+OK filter added. [%s]=[%s]", name, value))
	case "api":
		c.apiResponse(c.sw.api(rest))
	case "bgapi":
		job := headers["Job-UUID"]
		if job == "" {
			job = uuid.NewString()
		}
		c.write(fmt.Sprintf("Content-Type: command/reply\nReply-Text: +OK Job-UUID: %s\nJob-UUID: %s\n\n", job, job))
		go func() {
			body := c.sw.api(rest)
			name, arg, _ := strings.Cut(rest, " ")
			h := map[string]string{"Event-Name": "BACKGROUND_JOB", "Job-UUID": job, "Job-Command": name}
			if arg != "" {
				h["Job-Command-Arg"] = arg
			}
			c.sw.emit(h, body)
		}()
	case "sendmsg":
		c.reply("+OK")
	case "exit":
		c.reply("+OK bye")
		c.disconnect()
		return false
	default:
		c.reply("-ERR command not found")
	}
	return true
}

func (c *conn) subscribe(names []string) {
	c.smu.Lock()
	defer c.smu.Unlock()
	if c.events == nil {
		c.events, c.subclasses = map[string]bool{}, map[string]bool{}
	}
	custom := false
	for _, n := range names {
		switch {
		case n == "ALL":
			c.all = true
		case n == "CUSTOM":
			custom = true
			c.events["CUSTOM"] = true
		case custom || strings.Contains(n, "::"):
			c.subclasses[n] = true
		default:
			c.events[n] = true
		}
	}
}

func (c *conn) wants(h map[string]string) bool {
	c.smu.Lock()
	defer c.smu.Unlock()
	name := h["Event-Name"]
	ok := c.all || c.events[name] || name == "CUSTOM" && c.subclasses[h["Event-Subclass"]]
	if !ok {
		return false
	}
	if len(c.filters) == 0 {
		return true
	}
	for _, f := range c.filters { // a filter lets through only matching events (BACKGROUND_JOB too)
		if h[f[0]] == f[1] {
			return true
		}
	}
	return false
}

// emit sends an event to every connection subscribed to it.
func (s *Switch) emit(h map[string]string, body string) {
	m := make(map[string]any, len(h))
	for k, v := range h {
		m[k] = v
	}
	s.emitAny(m, body)
}

// emitAny is emit for events whose values may be JSON arrays (repeated headers).
func (s *Switch) emitAny(h map[string]any, body string) {
	s.mu.Lock()
	s.seq++
	now := time.Now().UTC()
	full := map[string]string{
		"Core-UUID": s.coreUUID, "FreeSWITCH-Hostname": "fs1", "FreeSWITCH-Switchname": "fs1",
		"FreeSWITCH-IPv4": "192.0.2.2", "FreeSWITCH-IPv6": "fd00::2",
		"Event-Date-Local": now.Format("2006-01-02 15:04:05"), "Event-Date-GMT": now.Format(time.RFC1123),
		"Event-Date-Timestamp": fmt.Sprint(now.UnixMicro()), "Event-Calling-File": "fstest.go",
		"Event-Calling-Function": "emit", "Event-Calling-Line-Number": "1", "Event-Sequence": fmt.Sprint(s.seq),
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	obj := map[string]any{}
	for k, v := range full {
		obj[k] = v
	}
	for k, v := range h {
		obj[k] = v
		if str, ok := v.(string); ok {
			full[k] = str
		} else if arr, ok := v.([]any); ok && len(arr) > 0 {
			full[k] = fmt.Sprint(arr[0])
		}
	}
	if body != "" {
		obj["Content-Length"] = fmt.Sprint(len(body))
		obj["_body"] = body
	}
	js, _ := json.Marshal(obj)
	jsonFrame := fmt.Sprintf("Content-Length: %d\nContent-Type: text/event-json\n\n%s", len(js), js)
	plainFrame := ""
	for _, c := range conns {
		if !c.wants(full) {
			continue
		}
		c.smu.Lock()
		plain := c.plain
		c.smu.Unlock()
		if !plain {
			c.write(jsonFrame)
			continue
		}
		if plainFrame == "" {
			plainFrame = plainEvent(full, body)
		}
		c.write(plainFrame)
	}
}

// Options returns the options in effect.
func (s *Switch) Options() Options { return s.o }

// headerOrder is the order FreeSWITCH writes the common event headers in.
var headerOrder = []string{"Event-Subclass", "Event-Name", "Core-UUID", "FreeSWITCH-Hostname", "FreeSWITCH-Switchname",
	"FreeSWITCH-IPv4", "FreeSWITCH-IPv6", "Event-Date-Local", "Event-Date-GMT", "Event-Date-Timestamp",
	"Event-Calling-File", "Event-Calling-Function", "Event-Calling-Line-Number", "Event-Sequence",
	"Job-UUID", "Job-Command", "Job-Command-Arg"}

// plainEvent renders a text/event-plain frame: URL-encoded header values, then
// an inner Content-Length and the body (esl-event-plain recording).
func plainEvent(h map[string]string, body string) string {
	var b strings.Builder
	done := map[string]bool{}
	write := func(k string) {
		if v, ok := h[k]; ok && !done[k] {
			done[k] = true
			b.WriteString(k + ": " + urlEncode(v) + "\n")
		}
	}
	for _, k := range headerOrder {
		write(k)
	}
	rest := make([]string, 0, len(h))
	for k := range h {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	for _, k := range rest {
		write(k)
	}
	if body != "" {
		fmt.Fprintf(&b, "Content-Length: %d\n\n%s", len(body), body)
	} else {
		b.WriteString("\n")
	}
	inner := b.String()
	return fmt.Sprintf("Content-Length: %d\nContent-Type: text/event-plain\n\n%s", len(inner), inner)
}

// urlEncode escapes like FreeSWITCH's switch_url_encode.
func urlEncode(v string) string {
	const unsafe = "\r\n \"#%&+:;<=>?@[\\]^`{|}"
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c >= 0x7f || strings.IndexByte(unsafe, c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}
