package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

const maxBody = 1 << 20

// BindJSON decodes the request body strictly: unknown fields, wrong types and
// trailing data are 400 errors naming the field.
func BindJSON(c echo.Context, dst any) error {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxBody+1))
	if err != nil {
		return Invalid("", "cannot read request body")
	}
	if len(body) > maxBody {
		return &APIError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Message: "request body exceeds 1 MiB"}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return Invalid("", "request body must be a JSON object")
	}
	if !utf8.Valid(body) {
		return invalidUTF8(body)
	}
	if at := loneSurrogate(body); at >= 0 {
		// "\ud800" alone is no character either: the decoder would store
		// U+FFFD for it as for a bad byte.
		if field := utf8Field(body, int64(at)); field != "" {
			return Invalid(field, "%s must be valid UTF-8 (unpaired surrogate escape)", field)
		}
		return Invalid("", "request body must be valid UTF-8 (unpaired surrogate escape at offset %d)", at)
	}
	return decodeStrict(body, dst)
}

// loneSurrogate returns the offset of the first \uXXXX escape in a JSON
// string that is a UTF-16 surrogate without its pair, or -1.
func loneSurrogate(body []byte) int {
	hex4 := func(i int) (rune, bool) {
		if i+6 > len(body) || body[i] != '\\' || body[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(body[i+2:i+6]), 16, 16)
		return rune(n), err == nil
	}
	inString := false
	for i := 0; i < len(body); i++ {
		switch b := body[i]; {
		case b == '"':
			inString = !inString
		case b == '\\' && inString:
			r, ok := hex4(i)
			if !ok {
				i++ // skip the escaped character
				continue
			}
			switch {
			case r >= 0xD800 && r < 0xDC00:
				if lo, ok := hex4(i + 6); ok && lo >= 0xDC00 && lo < 0xE000 {
					i += 11
					continue
				}
				return i
			case r >= 0xDC00 && r < 0xE000:
				return i
			}
			i += 5
		}
	}
	return -1
}

// invalidUTF8 is the 400 for a body that is not valid UTF-8, checked on the
// raw bytes before decoding: encoding/json would silently replace the bad
// bytes with U+FFFD (a password then never matches, a name never renders).
// It names the field whose value holds the first bad byte when the JSON
// around it can be walked (nested keys joined by dots), else the body.
func invalidUTF8(body []byte) *APIError {
	bad := 0
	for bad < len(body) {
		r, n := utf8.DecodeRune(body[bad:])
		if r == utf8.RuneError && n <= 1 {
			break
		}
		bad += n
	}
	if field := utf8Field(body, int64(bad)); field != "" {
		return Invalid(field, "%s must be valid UTF-8", field)
	}
	return Invalid("", "request body must be valid UTF-8 (invalid byte at offset %d)", bad)
}

// utf8Field walks body's tokens up to the one spanning offset bad and returns
// the dotted path of object keys leading to it ("" when the bad byte is in a
// top-level key or the JSON breaks before it).
func utf8Field(body []byte, bad int64) string {
	type frame struct {
		obj     bool
		wantKey bool
		key     string
	}
	var stack []frame
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		_, isDelim := tok.(json.Delim)
		isKey := top != nil && top.obj && top.wantKey && !isDelim
		if dec.InputOffset() > bad {
			var keys []string
			for i, f := range stack {
				if !f.obj || (i == len(stack)-1 && isKey) {
					continue
				}
				keys = append(keys, f.key)
			}
			return strings.Join(keys, ".")
		}
		switch {
		case isKey:
			top.key, _ = tok.(string)
			top.wantKey = false
			continue
		case tok == json.Delim('}') || tok == json.Delim(']'):
			stack = stack[:len(stack)-1]
			continue
		}
		if top != nil && top.obj {
			top.wantKey = true // this value is consumed (or, for { and [, opened)
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{obj: true, wantKey: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		}
	}
}

func decodeStrict(body []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return Invalid("", "request body must hold one JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	var fe *fieldError
	switch {
	case errors.As(err, &fe):
		return Invalid(fe.field, "%s", fe.msg)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return Invalid("", "request body must be a JSON object")
		}
		return Invalid(field, "%s must be of type %s", field, jsonTypeName(te.Type.Kind().String()))
	case errors.As(err, &se):
		return Invalid("", "malformed JSON at byte %d", se.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return Invalid(f, "unknown field %q", f)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return Invalid("", "truncated JSON body")
	}
	return Invalid("", "invalid JSON: %v", err)
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "map", "struct", "ptr":
		return "object"
	}
	if strings.HasPrefix(kind, "int") || strings.HasPrefix(kind, "uint") || strings.HasPrefix(kind, "float") {
		return "number"
	}
	return kind
}

// fieldError lets nested decoders (Opt) report a field.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.msg }

// Opt is a JSON field that distinguishes absent, null and a value:
// PATCH {"assistant_id": null} unassigns, a missing key leaves it alone.
type Opt[T any] struct {
	Set   bool // the key was present
	Null  bool // its value was null
	Value T
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *Opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// Page reads skip/limit query parameters.
func Page(c echo.Context) (skip, limit int, err error) {
	skip, limit = 0, 50
	if v := c.QueryParam("skip"); v != "" {
		n, e := strconv.Atoi(v)
		if e != nil || n < 0 {
			return 0, 0, Invalid("skip", "skip must be a whole number ≥ 0")
		}
		skip = n
	}
	if v := c.QueryParam("limit"); v != "" {
		n, e := strconv.Atoi(v)
		if e != nil || n < 1 || n > 500 {
			return 0, 0, Invalid("limit", "limit must be a whole number from 1 to 500")
		}
		limit = n
	}
	return skip, limit, nil
}

// ListBody is the body of every list response: a bare JSON array of the
// items ([] when there is none), so a client iterates the decoded body
// directly. The paging travels in headers: see WriteList.
type ListBody[T any] []T

// WriteList answers 200 with items as a JSON array and the paging in
// headers: X-Total-Count (how many items match, over every page) and, for a
// paged route (limit > 0), an RFC 8288 Link header with the neighbouring
// pages (rel first, prev, next, last), each the request's own URL with its
// other query parameters kept and skip/limit set. (No CORS middleware is
// configured; one added must list X-Total-Count and Link in its
// ExposeHeaders, or browsers hide the paging from scripts.)
func WriteList[T any](c echo.Context, items []T, total int64, skip, limit int) error {
	if items == nil {
		items = []T{}
	}
	setPaging(c, total, skip, limit)
	return c.JSON(http.StatusOK, ListBody[T](items))
}

// WriteListJSON is WriteList for a body already encoded: a JSON array
// ending in a newline, as encoding/json's Encoder writes it.
func WriteListJSON(c echo.Context, body []byte, total int64, skip, limit int) error {
	setPaging(c, total, skip, limit)
	return c.JSONBlob(http.StatusOK, body)
}

func setPaging(c echo.Context, total int64, skip, limit int) {
	h := c.Response().Header()
	h.Set(totalCountHeader, strconv.FormatInt(total, 10))
	if limit > 0 {
		if link := pageLinks(c, total, skip, limit); link != "" {
			h.Set("Link", link)
		}
	}
}

const totalCountHeader = "X-Total-Count"

// pageLinks builds the Link header value of a page at skip of size limit in
// a list of total items: prev and first when the page does not start the
// list, next and last when items follow it. last is the final page of the
// sequence next leads to (skip + k·limit), so following next reaches it.
func pageLinks(c echo.Context, total int64, skip, limit int) string {
	r := c.Request()
	scheme := c.Scheme()
	if scheme != "https" {
		scheme = "http" // X-Forwarded-Proto is the caller's word: only these two
	}
	base := scheme + "://" + r.Host + r.URL.EscapedPath()
	q := r.URL.Query()
	link := func(at int64, rel string) string {
		q.Set("skip", strconv.FormatInt(at, 10))
		q.Set("limit", strconv.Itoa(limit))
		return "<" + base + "?" + q.Encode() + `>; rel="` + rel + `"`
	}
	var parts []string
	s, l := int64(skip), int64(limit)
	if s > 0 {
		parts = append(parts, link(max(s-l, 0), "prev"))
	}
	if s < total-l {
		parts = append(parts, link(s+l, "next"), link(s+(total-1-s)/l*l, "last"))
	}
	if s > 0 {
		parts = append(parts, link(0, "first"))
	}
	return strings.Join(parts, ", ")
}

// NonNil is l, or an empty list for nil: lists are JSON arrays, never null.
func NonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// NumberParam accepts a record id or an E.164 number (URL-encoded or not).
func (s *Server) NumberParam(c echo.Context) (string, error) {
	param := c.Param("id")
	if param == "" {
		param = c.Param("phoneNumber") // the TalkifAI BYOC paths
	}
	raw, _ := url.PathUnescape(param)
	raw = strings.TrimSpace(raw)
	if !strings.HasPrefix(raw, "+") {
		if n, err := s.store.GetNumber(c.Request().Context(), OrgID(c), raw); err == nil {
			return n.PhoneNumber, nil
		}
		if strings.Trim(raw, "0123456789") == "" && raw != "" {
			raw = "+" + raw // a "+" lost to form-style decoding
		}
	}
	num, _, err := NormalizeE164("phone_number", raw)
	if err != nil {
		return "", NotFound("phone number")
	}
	return num, nil
}
