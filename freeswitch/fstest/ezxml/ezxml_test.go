package ezxml

import (
	"errors"
	"testing"
)

// TestParseXMLErrors: ezxml's messages and line numbers.
func TestParseXMLErrors(t *testing.T) {
	for _, tc := range []struct {
		doc, want string
	}{
		{"<a>\n<b>\n</a>\n", "[error near line 3]: unexpected closing tag </a>"},
		{"<a>\n<b>\n</b>\n", "[error near line 4]: unclosed tag <a>"},
		{"<a><b x=\"1\"/ ></a>", "[error near line 1]: missing >"},
		{"<a>\n<!-- x -- y -->\n</a>", "[error near line 2]: unclosed <!--"},
		{"<a><![CDATA[ x </a>", "[error near line 1]: unclosed <![CDATA["},
		{"<a><?pi </a>", "[error near line 1]: unclosed <?"},
		{"<a></a>\n<b/>", "[error near line 2]: markup outside of root element"},
		{"<a>< b</a>", "[error near line 1]: unexpected <"},
		{"just text", "[error near line 1]: root tag missing"},
		{"", "[error near line 1]: root tag missing"},
		{"<a x=\"1>", "[error near line 1]: missing \""},
	} {
		_, err := Parse([]byte(tc.doc))
		var xe *Error
		if !errors.As(err, &xe) || err.Error() != tc.want {
			t.Errorf("%q: %v, want %s", tc.doc, err, tc.want)
		}
	}
	root, err := Parse([]byte(`<?xml version="1.0"?><!-- c --><r a='1 &amp; 2' b="&#36;{x}&unknown;&#x41;"><k/><k n="v
w"/><![CDATA[<x>]]></r>trailing`))
	if err != nil {
		t.Fatal(err)
	}
	if root.Name != "r" || root.Attr("a") != "1 & 2" || root.Attr("b") != "${x}&unknown;A" || len(root.All("k")) != 2 || root.All("k")[1].Attr("n") != "v w" {
		t.Fatalf("parsed %+v", root)
	}
}
