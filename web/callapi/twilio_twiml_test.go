package callapi

import (
	"encoding/xml"
	"strings"
	"testing"
)

func TestParseTwiML(t *testing.T) {
	ok := map[string]twimlAction{
		`<Response><Dial>+15551234567</Dial></Response>`:                                                           {To: "+15551234567"},
		`<?xml version="1.0" encoding="UTF-8"?><Response><Dial> +15551234567 </Dial></Response>`:                   {To: "+15551234567"},
		"<Response>\n  <!-- transfer -->\n  <Dial><Number>+15551234567</Number></Dial>\n</Response>\n":             {To: "+15551234567"},
		`<Response><Dial><Sip>sip:alice@pbx.example.com</Sip></Dial></Response>`:                                   {To: "sip:alice@pbx.example.com"},
		`<Response><Dial><Sip><![CDATA[sip:bob@pbx.example.com;transport=tcp]]></Sip></Dial></Response>`:           {To: "sip:bob@pbx.example.com;transport=tcp"},
		`<Response><Hangup/></Response>`:                                                                           {Hangup: true},
		`<Response><Dial>+1555&#49;234567</Dial></Response>`:                                                       {To: "+15551234567"},
		`<Response><Dial><Number>sip-like-but-not:1</Number></Dial></Response>`:                                    {To: "sip-like-but-not:1"}, // call control refuses it
		`<Response><Dial><Sip>SIPS:carol@pbx.example.com</Sip></Dial></Response>`:                                  {To: "SIPS:carol@pbx.example.com"},
		`<?xml version="1.0"?><!-- c --><Response><Dial><Number>+15551234567</Number></Dial></Response><!-- e -->`: {To: "+15551234567"},
	}
	for doc, want := range ok {
		got, err := parseTwiML(doc)
		if err != nil || got != want {
			t.Errorf("%s: %+v, %v; want %+v", doc, got, err, want)
		}
	}
	bad := map[string]string{
		``:                                     "empty",
		`   `:                                  "empty",
		`+15551234567`:                         "text outside",
		`<Response>`:                           "not well-formed",
		`<Response><Dial>+1555</Response>`:     "not well-formed",
		`<Dial>+15551234567</Dial>`:            "root element must be <Response>",
		`<response><dial>+1</dial></response>`: "root element must be <Response>",
		`<Response></Response>`:                "no verb",
		`<Response>hello</Response>`:           "holds text",
		`<Response><Say>Bye</Say></Response>`:  "verb <Say> is not supported",
		`<Response><Redirect>https://x</Redirect></Response>`:                       "verb <Redirect>",
		`<Response><Dial>+15551234567</Dial><Hangup/></Response>`:                   "2 verbs",
		`<Response><Dial/></Response>`:                                              "no target",
		`<Response><Dial> </Dial></Response>`:                                       "no target",
		`<Response><Dial><Number>+1</Number><Number>+2</Number></Dial></Response>`:  "2 targets",
		`<Response><Dial>+1<Number>+2</Number></Dial></Response>`:                   "2 targets",
		`<Response><Dial><Number>+1</Number><Sip>sip:a@b</Sip></Dial></Response>`:   "2 targets",
		`<Response><Dial><Client>alice</Client></Dial></Response>`:                  "<Dial><Client> is not supported",
		`<Response><Dial><Conference>room</Conference></Dial></Response>`:           "<Dial><Conference>",
		`<Response><Dial><Number></Number></Dial></Response>`:                       "<Number> is empty",
		`<Response><Dial><Sip>+15551234567</Sip></Dial></Response>`:                 "must hold a sip: URI",
		`<Response><Dial>sip:a@b</Dial></Response>`:                                 "a sip: URI goes in <Sip>",
		`<Response><Dial><Number>sip:a@b</Number></Dial></Response>`:                "a sip: URI goes in <Sip>",
		`<Response><Dial callerId="+1">+15551234567</Dial></Response>`:              "attribute callerId of <Dial>",
		`<Response><Dial><Number sendDigits="1">+1</Number></Dial></Response>`:      "attribute sendDigits of <Number>",
		`<Response><Dial><Sip username="u">sip:a@b</Sip></Dial></Response>`:         "attribute username of <Sip>",
		`<Response voice="x"><Hangup/></Response>`:                                  "attribute voice of <Response>",
		`<Response><Hangup>now</Hangup></Response>`:                                 "<Hangup/> must be empty",
		`<Response><Hangup><Dial>+1</Dial></Hangup></Response>`:                     "<Hangup/> must be empty",
		`<Response><Dial><Number><Sip>sip:a@b</Sip></Number></Dial></Response>`:     "takes text only",
		`<Response><Dial><Number><x><y/></x></Number></Dial></Response>`:            "nested too deep",
		`<Response><Hangup/></Response><Response><Hangup/></Response>`:              "more than one root",
		`<Response><Hangup/></Response>trailing`:                                    "text outside",
		`<!DOCTYPE r [<!ENTITY x "+1555">]><Response><Dial>&x;</Dial></Response>`:   "DOCTYPE",
		`<Response><Dial>&x;</Dial></Response>`:                                     "not well-formed",
		`<?pi x?><Response><Hangup/></Response>`:                                    "processing instructions",
		` <?xml version="1.0"?><Response><Hangup/></Response>`:                      "", // any error
		`<t:Response xmlns:t="urn:x"><Hangup/></t:Response>`:                        "namespace",
		`<Response xmlns="http://www.twilio.com/"><Hangup/></Response>`:             "namespace",
		`<Response><Dial x:y="1" xmlns:x="urn:x">+1</Dial></Response>`:              "attribute",
		`<?xml version="1.0" encoding="ISO-8859-1"?><Response><Hangup/></Response>`: "not well-formed",
		"<Response><Dial>+1</Dial></Response>" + strings.Repeat(" ", maxTwiML):      "longer than",
	}
	for doc, want := range bad {
		got, err := parseTwiML(doc)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %+v, %v; want an error with %q", doc, got, err, want)
		}
	}
}

// FuzzParseTwiML: the parser never panics, an accepted document asks for
// exactly one thing, a target is trimmed, non-empty and in the right noun,
// and writing the target back into TwiML reads it again.
func FuzzParseTwiML(f *testing.F) {
	for _, s := range []string{
		`<Response><Dial>+15551234567</Dial></Response>`,
		`<?xml version="1.0" encoding="UTF-8"?><Response><Dial><Number>+15551234567</Number></Dial></Response>`,
		`<Response><Dial><Sip>sip:alice@pbx.example.com</Sip></Dial></Response>`,
		`<Response><Hangup/></Response>`,
		`<Response><!-- x --><Dial><![CDATA[+1555]]></Dial></Response>`,
		`<Response><Dial><Number>+1</Number><Number>+2</Number></Dial></Response>`,
		`<!DOCTYPE r [<!ENTITY x "+1555">]><Response><Dial>&x;</Dial></Response>`,
		`<Response><Say>hi</Say></Response>`,
		`<Response><Dial callerId="+1">+2</Dial></Response>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		a, err := parseTwiML(doc)
		if err != nil {
			if a != (twimlAction{}) {
				t.Fatalf("an error with a result: %+v", a)
			}
			return
		}
		if a.Hangup == (a.To != "") {
			t.Fatalf("%q: %+v asks for not exactly one thing", doc, a)
		}
		if a.Hangup {
			return
		}
		if a.To != strings.TrimSpace(a.To) || len(a.To) > maxTwiML {
			t.Fatalf("%q: target %q", doc, a.To)
		}
		low := strings.ToLower(a.To)
		noun := "Number"
		if strings.HasPrefix(low, "sip:") || strings.HasPrefix(low, "sips:") {
			noun = "Sip"
		}
		var esc strings.Builder
		_ = xml.EscapeText(&esc, []byte(a.To))
		again, err := parseTwiML("<Response><Dial><" + noun + ">" + esc.String() + "</" + noun + "></Dial></Response>")
		if err != nil || again != a {
			t.Fatalf("%q → %+v, written back → %+v, %v", doc, a, again, err)
		}
	})
}
