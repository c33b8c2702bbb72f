package callapi

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxTwiML is the longest Twiml parameter taken (Twilio's limit too).
const maxTwiML = 4000

// twimlAction is what the Twiml parameter of a call update asks for.
type twimlAction struct {
	Hangup bool   // <Response><Hangup/></Response>
	To     string // <Dial> target: a number (bare or <Number>) or a sip: URI (<Sip>)
}

// parseTwiML reads a call update's Twiml strictly. Accepted, with an
// optional XML declaration and comments or whitespace between elements:
//
//	<Response><Dial>+15551234567</Dial></Response>
//	<Response><Dial><Number>+15551234567</Number></Dial></Response>
//	<Response><Dial><Sip>sip:alice@pbx.example.com</Sip></Dial></Response>
//	<Response><Hangup/></Response>
//
// Anything else (another verb, several verbs or targets, attributes,
// namespaces, DOCTYPEs, malformed XML) is an error saying what is wrong.
// The target itself is checked by call control, as for the transfer API.
func parseTwiML(doc string) (twimlAction, error) {
	if strings.TrimSpace(doc) == "" {
		return twimlAction{}, errors.New("the document is empty")
	}
	if len(doc) > maxTwiML {
		return twimlAction{}, fmt.Errorf("the document is longer than %d characters", maxTwiML)
	}
	root, err := parseXMLTree(doc)
	if err != nil {
		return twimlAction{}, err
	}
	if root.name != "Response" {
		return twimlAction{}, fmt.Errorf("the root element must be <Response>, not <%s>", root.name)
	}
	if err := root.plain(); err != nil {
		return twimlAction{}, err
	}
	if strings.TrimSpace(root.text) != "" {
		return twimlAction{}, errors.New("<Response> holds text: it takes one verb, <Dial> or <Hangup/>")
	}
	switch len(root.children) {
	case 0:
		return twimlAction{}, errors.New("<Response> holds no verb: send <Dial> (transfer) or <Hangup/>")
	case 1:
	default:
		return twimlAction{}, fmt.Errorf("<Response> holds %d verbs: sipbridge takes exactly one, <Dial> or <Hangup/>", len(root.children))
	}
	verb := root.children[0]
	switch verb.name {
	case "Hangup":
		if err := verb.plain(); err != nil {
			return twimlAction{}, err
		}
		if len(verb.children) > 0 || strings.TrimSpace(verb.text) != "" {
			return twimlAction{}, errors.New("<Hangup/> must be empty")
		}
		return twimlAction{Hangup: true}, nil
	case "Dial":
		return parseDial(verb)
	}
	return twimlAction{}, fmt.Errorf("the verb <%s> is not supported: sipbridge takes <Dial> (transfer) and <Hangup/>", verb.name)
}

func parseDial(dial *xmlNode) (twimlAction, error) {
	if err := dial.plain(); err != nil {
		return twimlAction{}, err
	}
	text := strings.TrimSpace(dial.text)
	targets := len(dial.children)
	if text != "" {
		targets++
	}
	switch {
	case targets == 0:
		return twimlAction{}, errors.New("<Dial> names no target: put a number, <Number> or <Sip> in it")
	case targets > 1:
		return twimlAction{}, fmt.Errorf("<Dial> names %d targets: sipbridge transfers to exactly one", targets)
	case text != "":
		return dialTarget("<Dial>", text, false)
	}
	noun := dial.children[0]
	if err := noun.plain(); err != nil {
		return twimlAction{}, err
	}
	if len(noun.children) > 0 {
		return twimlAction{}, fmt.Errorf("<%s> holds <%s>: it takes text only", noun.name, noun.children[0].name)
	}
	switch noun.name {
	case "Number":
		return dialTarget("<Number>", strings.TrimSpace(noun.text), false)
	case "Sip":
		return dialTarget("<Sip>", strings.TrimSpace(noun.text), true)
	}
	return twimlAction{}, fmt.Errorf("<Dial><%s> is not supported: use a number, <Number> or <Sip>", noun.name)
}

func dialTarget(where, to string, sip bool) (twimlAction, error) {
	low := strings.ToLower(to)
	isSIP := strings.HasPrefix(low, "sip:") || strings.HasPrefix(low, "sips:")
	switch {
	case to == "":
		return twimlAction{}, fmt.Errorf("%s is empty", where)
	case sip && !isSIP:
		return twimlAction{}, fmt.Errorf("%s must hold a sip: URI", where)
	case !sip && isSIP:
		return twimlAction{}, fmt.Errorf("%s must hold a phone number: a sip: URI goes in <Sip>", where)
	}
	return twimlAction{To: to}, nil
}

// xmlNode is an element of a small XML document.
type xmlNode struct {
	name     string
	attrs    []xml.Attr
	children []*xmlNode
	text     string // character data directly inside
}

// plain refuses attributes: none of the TwiML sipbridge takes has any
// it would honour.
func (n *xmlNode) plain() error {
	if len(n.attrs) > 0 {
		return fmt.Errorf("the attribute %s of <%s> is not supported", n.attrs[0].Name.Local, n.name)
	}
	return nil
}

// maxTwiMLDepth bounds the nesting of elements: <Response><Dial><Number>
// and one more, so that an element inside a noun gets a clear error.
const maxTwiMLDepth = 4

// parseXMLTree parses doc with encoding/xml in strict mode into a tree of
// elements. Only an XML declaration at the very start, comments and
// whitespace are allowed besides elements and their text.
func parseXMLTree(doc string) (*xmlNode, error) {
	d := xml.NewDecoder(strings.NewReader(doc))
	d.Strict = true
	var root *xmlNode
	var stack []*xmlNode
	for first := true; ; first = false {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not well-formed XML: %s", strings.TrimPrefix(err.Error(), "XML syntax error "))
		}
		switch t := tok.(type) {
		case xml.ProcInst:
			if t.Target != "xml" || !first {
				return nil, errors.New("processing instructions are not allowed (only an XML declaration at the start)")
			}
		case xml.Directive:
			return nil, errors.New("DOCTYPE and other directives are not allowed")
		case xml.Comment:
		case xml.StartElement:
			if t.Name.Space != "" {
				return nil, fmt.Errorf("<%s> is in a namespace: TwiML elements have none", t.Name.Local)
			}
			for _, a := range t.Attr {
				if a.Name.Space != "" {
					return nil, fmt.Errorf("the attribute %s:%s of <%s> is not supported", a.Name.Space, a.Name.Local, t.Name.Local)
				}
			}
			if len(stack) == maxTwiMLDepth {
				return nil, fmt.Errorf("<%s> is nested too deep", t.Name.Local)
			}
			n := &xmlNode{name: t.Name.Local, attrs: t.Copy().Attr}
			if len(stack) == 0 {
				if root != nil {
					return nil, errors.New("the document has more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1] // the strict decoder checks the pairing
		case xml.CharData:
			if len(stack) == 0 {
				if strings.TrimSpace(string(t)) != "" {
					return nil, errors.New("the document has text outside its root element")
				}
				continue
			}
			stack[len(stack)-1].text += string(t)
		}
	}
	if root == nil {
		return nil, errors.New("the document has no element")
	}
	return root, nil
}
