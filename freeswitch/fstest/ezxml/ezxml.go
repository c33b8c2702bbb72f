// Package ezxml parses FreeSWITCH configuration the way its ezxml parser
// does, for the simulator (freeswitch/fstest): text before the root is
// ignored, an unknown entity stays as written, and errors carry ezxml's
// messages and "near line" numbers.
package ezxml

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is a parse error in the form FreeSWITCH's ezxml reports it.
type Error struct {
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("[error near line %d]: %s", e.Line, e.Msg) }

// Node is an element of a parsed document.
type Node struct {
	Name     string
	attrs    [][2]string
	children []*Node
	parent   *Node
}

func (n *Node) Attr(k string) string {
	for _, a := range n.attrs {
		if a[0] == k {
			return a[1]
		}
	}
	return ""
}

func (n *Node) Child(name string) *Node {
	for _, c := range n.children {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (n *Node) All(name string) []*Node {
	var out []*Node
	for _, c := range n.children {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

const xmlSpace = "\t\r\n "

// Parse parses a document the way ezxml (FreeSWITCH's parser) does:
// text before the root is ignored, an unknown entity stays as written, and
// errors carry ezxml's messages ("unexpected closing tag </x>", "unclosed
// tag <x>", "missing >", "unclosed <!--", …) and its "near line" numbers.
func Parse(doc []byte) (*Node, error) {
	p := &xparser{doc: doc}
	return p.parse()
}

type xparser struct {
	doc      []byte
	root     *Node
	cur      *Node
	rootDone bool
}

func (p *xparser) err(pos int, format string, args ...any) error {
	if pos > len(p.doc) {
		pos = len(p.doc)
	}
	return &Error{Line: 1 + bytes.Count(p.doc[:pos], []byte{'\n'}), Msg: fmt.Sprintf(format, args...)}
}

func isNameStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':' || c >= 0x80
}

func (p *xparser) parse() (*Node, error) {
	doc := p.doc
	i := bytes.IndexByte(doc, '<')
	if i < 0 {
		return nil, p.err(len(doc), "root tag missing")
	}
	for i >= 0 && i < len(doc) {
		d := i + 1 // after '<'
		rest := doc[d:]
		var next int
		var err error
		switch {
		case len(rest) > 0 && isNameStart(rest[0]):
			next, err = p.startTag(d)
		case len(rest) > 0 && rest[0] == '/':
			next, err = p.endTag(d + 1)
		case bytes.HasPrefix(rest, []byte("!--")):
			k := bytes.Index(rest[3:], []byte("--"))
			if k < 0 || d+3+k+2 >= len(doc) || doc[d+3+k+2] != '>' {
				return nil, p.err(d, "unclosed <!--")
			}
			next = d + 3 + k + 3
		case bytes.HasPrefix(rest, []byte("![CDATA[")):
			k := bytes.Index(rest, []byte("]]>"))
			if k < 0 {
				return nil, p.err(d, "unclosed <![CDATA[")
			}
			next = d + k + 3
		case bytes.HasPrefix(rest, []byte("!DOCTYPE")):
			k := bytes.IndexByte(rest, '>')
			if k < 0 {
				return nil, p.err(d, "unclosed <!DOCTYPE")
			}
			next = d + k + 1
		case len(rest) > 0 && rest[0] == '?':
			k := bytes.Index(rest, []byte("?>"))
			if k < 0 {
				return nil, p.err(d, "unclosed <?")
			}
			next = d + k + 2
		default:
			return nil, p.err(d, "unexpected <")
		}
		if err != nil {
			return nil, err
		}
		j := bytes.IndexByte(doc[next:], '<')
		if j < 0 {
			break
		}
		i = next + j
	}
	if p.root == nil {
		return nil, p.err(len(doc), "root tag missing")
	}
	if p.cur != nil {
		return nil, p.err(len(doc), "unclosed tag <%s>", p.cur.Name)
	}
	return p.root, nil
}

// startTag parses <name attr="v" …> or <name …/> starting at the name.
func (p *xparser) startTag(d int) (int, error) {
	doc := p.doc
	if p.rootDone {
		return 0, p.err(d, "markup outside of root element")
	}
	q := d
	for q < len(doc) && !strings.ContainsRune(xmlSpace+"/>", rune(doc[q])) {
		q++
	}
	n := &Node{Name: string(doc[d:q])}
	for q < len(doc) && doc[q] != '/' && doc[q] != '>' {
		q = skipSpace(doc, q)
		a := q
		for q < len(doc) && !strings.ContainsRune(xmlSpace+"=/>", rune(doc[q])) {
			q++
		}
		name := string(doc[a:q])
		if q < len(doc) && (doc[q] == '=' || isSpace(doc[q])) {
			for q < len(doc) && (doc[q] == '=' || isSpace(doc[q])) {
				q++
			}
			if q < len(doc) && (doc[q] == '"' || doc[q] == '\'') {
				quote := doc[q]
				k := bytes.IndexByte(doc[q+1:], quote)
				if k < 0 {
					return 0, p.err(d, "missing %c", quote)
				}
				if name != "" {
					n.attrs = append(n.attrs, [2]string{name, decodeEntities(string(doc[q+1:q+1+k]), true)})
				}
				q += k + 2
			}
		}
		q = skipSpace(doc, q)
	}
	if q >= len(doc) {
		return 0, p.err(d, "missing >")
	}
	if doc[q] == '/' {
		if q+1 >= len(doc) || doc[q+1] != '>' {
			return 0, p.err(d, "missing >")
		}
		p.open(n)
		p.close()
		return q + 2, nil
	}
	p.open(n)
	return q + 1, nil
}

func (p *xparser) open(n *Node) {
	if p.root == nil {
		p.root = n
	} else {
		n.parent = p.cur
		p.cur.children = append(p.cur.children, n)
	}
	p.cur = n
}

func (p *xparser) close() {
	p.cur = p.cur.parent
	if p.cur == nil {
		p.rootDone = true
	}
}

// endTag parses </name> starting at the name.
func (p *xparser) endTag(d int) (int, error) {
	doc := p.doc
	q := d
	for q < len(doc) && !strings.ContainsRune(xmlSpace+">", rune(doc[q])) {
		q++
	}
	name := string(doc[d:q])
	if p.cur == nil || p.cur.Name != name {
		return 0, p.err(q, "unexpected closing tag </%s>", name)
	}
	q = skipSpace(doc, q)
	if q >= len(doc) || doc[q] != '>' {
		return 0, p.err(d, "missing >")
	}
	p.close()
	return q + 1, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func skipSpace(doc []byte, q int) int {
	for q < len(doc) && isSpace(doc[q]) {
		q++
	}
	return q
}

// decodeEntities decodes the five XML entities and character references;
// anything else stays as written. In attribute values whitespace becomes a
// space, as in ezxml.
func decodeEntities(s string, attr bool) string {
	if !strings.ContainsAny(s, "&\t\r\n") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if attr && isSpace(c) {
			b.WriteByte(' ')
			continue
		}
		if c != '&' {
			b.WriteByte(c)
			continue
		}
		semi := strings.IndexByte(s[i:], ';')
		if semi < 0 {
			b.WriteByte(c)
			continue
		}
		ent := s[i+1 : i+semi]
		if r, ok := entity(ent); ok {
			b.WriteString(r)
			i += semi
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func entity(ent string) (string, bool) {
	switch ent {
	case "lt":
		return "<", true
	case "gt":
		return ">", true
	case "amp":
		return "&", true
	case "apos":
		return "'", true
	case "quot":
		return `"`, true
	}
	if !strings.HasPrefix(ent, "#") || len(ent) < 2 {
		return "", false
	}
	var n uint64
	var err error
	if ent[1] == 'x' || ent[1] == 'X' {
		n, err = strconv.ParseUint(ent[2:], 16, 32)
	} else {
		n, err = strconv.ParseUint(ent[1:], 10, 32)
	}
	if err != nil || n == 0 || n > utf8.MaxRune {
		return "", false
	}
	return string(rune(n)), true
}
