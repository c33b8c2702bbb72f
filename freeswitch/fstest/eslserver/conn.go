package eslserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/google/uuid"
)

// ErrCommandTooLarge means a client command exceeded maxCommand bytes.
var ErrCommandTooLarge = errors.New("fstest: ESL command too large")

const maxCommand = 1 << 20

const disconnectBody = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

// conn is one inbound ESL connection. Frames go out through a queue drained
// by writeLoop, so replies and events keep one order and a client that does
// not read never blocks the switch.
type conn struct {
	srv *Server
	nc  net.Conn

	qmu     sync.Mutex
	qcond   *sync.Cond
	q       [][]byte
	closing bool // close the socket once the queue is written
	dead    bool // socket gone: drop everything

	smu        sync.Mutex
	authed     bool
	format     string // json or plain; "" = no events
	all        bool
	events     map[string]bool // upper-case event names
	subclasses map[string]bool
	filters    []filter
}

type filter struct{ header, value string }

func newConn(srv *Server, nc net.Conn) *conn {
	c := &conn{srv: srv, nc: nc, events: map[string]bool{}, subclasses: map[string]bool{}}
	c.qcond = sync.NewCond(&c.qmu)
	return c
}

func (c *conn) enqueue(frame []byte) {
	c.qmu.Lock()
	if !c.dead && !c.closing {
		c.q = append(c.q, frame)
		c.qcond.Signal()
	}
	c.qmu.Unlock()
}

// finish writes what is queued, then closes the socket.
func (c *conn) finish() {
	c.qmu.Lock()
	c.closing = true
	c.qcond.Signal()
	c.qmu.Unlock()
}

// abort closes the socket at once.
func (c *conn) abort() {
	c.qmu.Lock()
	c.dead = true
	c.q = nil
	c.qcond.Signal()
	c.qmu.Unlock()
	c.nc.Close()
}

func (c *conn) writeLoop() {
	defer c.nc.Close()
	for {
		c.qmu.Lock()
		for len(c.q) == 0 && !c.closing && !c.dead {
			c.qcond.Wait()
		}
		if c.dead || (c.closing && len(c.q) == 0) {
			c.qmu.Unlock()
			return
		}
		q := c.q
		c.q = nil
		c.qmu.Unlock()
		for _, f := range q {
			if _, err := c.nc.Write(f); err != nil {
				c.abort()
				return
			}
		}
	}
}

func (c *conn) reply(text string) {
	c.enqueue([]byte("Content-Type: command/reply\nReply-Text: " + text + "\n\n"))
}

func (c *conn) apiResponse(body string) {
	c.enqueue(fmt.Appendf(nil, "Content-Type: api/response\nContent-Length: %d\n\n%s", len(body), body))
}

func (c *conn) disconnectNotice() {
	c.enqueue(fmt.Appendf(nil, "Content-Type: text/disconnect-notice\nContent-Length: %d\n\n%s", len(disconnectBody), disconnectBody))
}

func (c *conn) serve() {
	defer func() {
		c.srv.mu.Lock()
		delete(c.srv.conns, c)
		c.srv.mu.Unlock()
		c.finish()
	}()
	c.enqueue([]byte("Content-Type: auth/request\n\n"))
	r := bufio.NewReader(c.nc)
	for {
		cmd, err := readCommand(r)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.srv.c.Logger.Debug("fstest: connection read", "err", err)
			}
			return
		}
		if !c.handle(cmd) {
			return
		}
	}
}

// command is one client command: its first line, the header lines after
// it and, when a Content-Length header is present, that many body bytes.
type command struct {
	line    string
	headers map[string]string
	body    string
}

// readCommand reads one command: lines up to a blank line (blank lines
// before the command are skipped), then the body if Content-Length says so.
func readCommand(r *bufio.Reader) (command, error) {
	cmd := command{headers: map[string]string{}}
	size := 0
	for {
		line, err := r.ReadString('\n')
		size += len(line)
		if size > maxCommand {
			return command{}, ErrCommandTooLarge
		}
		if err != nil {
			if err == io.EOF && (line != "" || cmd.line != "") {
				return command{}, io.ErrUnexpectedEOF // an unterminated command is not run
			}
			return command{}, err
		}
		line = strings.TrimRight(line, "\r\n")
		if cmd.line == "" {
			cmd.line = strings.TrimSpace(line) // blank lines before a command are skipped
			continue
		}
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			cmd.headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if cl, ok := cmd.headers["Content-Length"]; ok {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 || n > maxCommand {
			return command{}, fmt.Errorf("fstest: bad Content-Length %q", cl)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return command{}, err
		}
		cmd.body = string(buf)
	}
	return cmd, nil
}

// handle runs one command; false closes the connection.
func (c *conn) handle(cmd command) bool {
	verb, rest, _ := strings.Cut(cmd.line, " ")
	rest = strings.TrimSpace(rest)
	verb = strings.ToLower(verb)
	if verb == "exit" {
		c.reply("+OK bye")
		c.disconnectNotice()
		return false
	}
	c.smu.Lock()
	authed := c.authed
	c.smu.Unlock()
	if !authed {
		if verb != "auth" {
			c.reply("-ERR command not found")
			return true
		}
		if rest != c.srv.c.Password {
			c.reply("-ERR invalid")
			c.disconnectNotice()
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
		c.reply(c.subscribe(rest))
	case "noevents":
		c.smu.Lock()
		c.format, c.all, c.events, c.subclasses = "", false, map[string]bool{}, map[string]bool{}
		c.smu.Unlock()
		c.reply("+OK no longer listening for events")
	case "nixevent":
		if rest == "" {
			c.reply("-ERR no keywords supplied")
			break
		}
		c.nix(rest)
		c.reply("+OK events nixed")
	case "filter":
		if !strings.HasPrefix(strings.ToLower(cmd.line), "filter ") {
			c.reply("-ERR command not found") // mod_event_socket matches "filter " with its blank
			break
		}
		c.reply(c.filter(rest))
	case "api":
		c.api(rest)
	case "bgapi":
		c.bgapi(rest, cmd.headers["Job-UUID"])
	case "sendmsg":
		reply := "+OK"
		if h, ok := c.srv.c.Handler.(MsgHandler); ok && rest != "" {
			reply = h.SendMsg(rest, cmd.headers, cmd.body)
		}
		c.reply(reply)
	case "linger", "nolinger":
		// Only an outbound (socket application) connection controls a
		// session; this is an inbound one.
		c.reply("-ERR not controlling a session")
	default:
		c.reply("-ERR command not found")
	}
	return true
}

// subscribe handles `event <format> <names…>`: names add to what the
// connection already gets; after CUSTOM every word is a subclass.
func (c *conn) subscribe(rest string) string {
	f := strings.Fields(rest)
	if len(f) == 0 {
		return "-ERR no keywords supplied"
	}
	format := strings.ToLower(f[0])
	names := f[1:]
	if format != "json" && format != "plain" {
		if format != "xml" {
			names = f // `event ALL` means plain
			format = "plain"
		} else {
			return "-ERR fstest: event xml is not simulated"
		}
	}
	if len(names) == 0 {
		return "-ERR no keywords supplied"
	}
	c.smu.Lock()
	defer c.smu.Unlock()
	custom := false
	for _, n := range names {
		switch {
		case custom:
			c.subclasses[n] = true
		case strings.EqualFold(n, "ALL"):
			c.all = true
		case strings.EqualFold(n, "CUSTOM"):
			custom = true
		default:
			c.events[strings.ToUpper(n)] = true
		}
	}
	c.format = format
	return "+OK event listener enabled " + format
}

func (c *conn) nix(rest string) {
	c.smu.Lock()
	defer c.smu.Unlock()
	custom := false
	for _, n := range strings.Fields(rest) {
		switch {
		case custom:
			delete(c.subclasses, n)
		case strings.EqualFold(n, "ALL"):
			c.all = false
			c.events = map[string]bool{}
		case strings.EqualFold(n, "CUSTOM"):
			custom = true
		default:
			delete(c.events, strings.ToUpper(n))
		}
	}
}

// filter handles `filter [add] <header> <value>`, `filter delete <header>
// [value]` and `filter delete all` with mod_event_socket's replies: a
// header without a value is "-ERR invalid syntax", a deletion answers
// "+OK filter deleted. [header][value]" (no "=").
func (c *conn) filter(rest string) string {
	name, value, hasValue := strings.Cut(strings.TrimLeft(rest, " "), " ")
	c.smu.Lock()
	defer c.smu.Unlock()
	if strings.EqualFold(name, "delete") && hasValue {
		h, v, _ := strings.Cut(value, " ")
		keep := c.filters[:0]
		for _, f := range c.filters {
			if !strings.EqualFold(h, "all") && (f.header != h || (v != "" && f.value != v)) {
				keep = append(keep, f)
			}
		}
		c.filters = keep
		return fmt.Sprintf("+OK filter deleted. [%s][%s]", h, v)
	}
	if !hasValue {
		return "-ERR invalid syntax"
	}
	if strings.EqualFold(name, "add") {
		name, value, _ = strings.Cut(value, " ")
	}
	c.filters = append(c.filters, filter{name, value})
	return fmt.Sprintf("+OK filter added. [%s]=[%s]", name, value)
}

// wants reports whether the connection gets e, and in which format. With
// filters, an event passes only if a filter matches it (a `-` filter that
// matches drops it), as mod_event_socket does: BACKGROUND_JOB too.
func (c *conn) wants(e *Event) (string, bool) {
	c.smu.Lock()
	defer c.smu.Unlock()
	if c.format == "" {
		return "", false
	}
	name := e.Name()
	ok := c.all || (name == "CUSTOM" && c.subclasses[e.Subclass()]) || (name != "CUSTOM" && c.events[name])
	if !ok {
		return "", false
	}
	if len(c.filters) == 0 {
		return c.format, true
	}
	send := false
	for _, f := range c.filters {
		v, has := e.Get(f.header)
		if !has {
			continue
		}
		pos, comp := true, f.value
		for comp != "" && (comp[0] == '+' || comp[0] == '-' || comp[0] == ' ') {
			if comp[0] != ' ' {
				pos = comp[0] == '+'
			}
			comp = comp[1:]
		}
		if send && pos {
			continue
		}
		var match bool
		if strings.HasPrefix(f.value, "/") {
			re, err := regexp.Compile(strings.TrimSuffix(strings.TrimPrefix(comp, "/"), "/"))
			match = err == nil && re.MatchString(v)
		} else {
			match = strings.EqualFold(v, comp)
		}
		if match {
			if !pos {
				return "", false
			}
			send = true
		}
	}
	return c.format, send
}

// api runs a command synchronously: the reply (a command that writes
// nothing is answered "-ERR no reply\n", as mod_event_socket does: `api
// module_exists`), then what the handler has left to do (its events).
func (c *conn) api(line string) {
	body, done := c.srv.c.Handler.API(line)
	if body == "" {
		body = "-ERR no reply\n"
	}
	c.apiResponse(body)
	done()
}

// bgapi answers with the Job-UUID (the client's, or a new one) at once,
// then hands the command to the handler.
func (c *conn) bgapi(line, job string) {
	if job == "" {
		job = uuid.NewString()
	}
	c.enqueue([]byte("Content-Type: command/reply\nReply-Text: +OK Job-UUID: " + job + "\nJob-UUID: " + job + "\n\n"))
	c.srv.c.Handler.BackgroundAPI(line, job)
}
