package httpapi

import (
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// Operation describes one route for the OpenAPI document. Routes are
// registered through (*Server).Handle or Route so the document cannot miss one.
type Operation struct {
	Method  string
	Path    string // echo form: /api/v1/sip-trunks/:id
	Summary string
	Tag     string
	Auth    bool
	Query   []QueryParam
	Req     any // request body example type, nil for none
	Resp    any // response body type, nil for none
	Status  int // success status
	Raw     string
	// ReqType is the request body's media type (default application/json).
	ReqType string
	// Basic: HTTP Basic authentication (the Twilio-compatible route).
	Basic bool
	// ErrResp is the error body's type (default {"error":{…}}).
	ErrResp any
}

// QueryParam documents one query parameter of a route.
type QueryParam struct {
	Name, Type, Desc string
}

// Handle registers a route at op.Path (with its middleware) and records op
// for the OpenAPI document.
func (s *Server) Handle(op Operation, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
	s.add(nil, op, h, mw...)
}

func (s *Server) add(g *echo.Group, op Operation, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
	if op.Status == 0 {
		op.Status = http.StatusOK
	}
	if g != nil {
		g.Add(op.Method, strings.TrimPrefix(op.Path, "/api/v1"), h, mw...)
	} else {
		s.e.Add(op.Method, op.Path, h, mw...)
	}
	s.ops = append(s.ops, op)
}

var echoParam = regexp.MustCompile(`:([A-Za-z_]+)`)

func openAPIPath(p string) string { return echoParam.ReplaceAllString(p, "{$1}") }

// OpenAPI builds the OpenAPI 3 document of every registered route.
func (s *Server) OpenAPI() map[string]any {
	sg := &schemaGen{defs: map[string]any{}}
	paths := map[string]any{}
	for _, op := range s.ops {
		p := openAPIPath(op.Path)
		item, _ := paths[p].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[p] = item
		}
		o := map[string]any{
			"summary":     op.Summary,
			"operationId": strings.ToLower(op.Method) + strings.NewReplacer("/", "_", "{", "", "}", "", "-", "_").Replace(p),
		}
		if op.Tag != "" {
			o["tags"] = []string{op.Tag}
		}
		var params []any
		for _, m := range echoParam.FindAllStringSubmatch(op.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range op.Query {
			params = append(params, map[string]any{"name": q.Name, "in": "query", "description": q.Desc, "schema": map[string]any{"type": q.Type}})
		}
		if len(params) > 0 {
			o["parameters"] = params
		}
		if op.Req != nil {
			reqType := op.ReqType
			if reqType == "" {
				reqType = "application/json"
			}
			o["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				reqType: map[string]any{"schema": sg.schema(reflect.TypeOf(op.Req))}}}
		}
		if op.Auth {
			o["security"] = []any{map[string]any{"bearer": []string{}}}
		}
		if op.Basic {
			o["security"] = []any{map[string]any{"basic": []string{}}}
		}
		o["responses"] = sg.responses(op)
		item[strings.ToLower(op.Method)] = o
	}
	errDef := sg.schema(reflect.TypeOf(errorBody{}))
	errDef["description"] = errorCodesDoc()
	sg.defs["Error"] = errDef
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{"title": "sipbridge API", "version": "1",
			"description": "Control plane of a FreeSWITCH SIP bridge for AI voice assistants. Errors are {\"error\":{\"code\",\"message\",\"field\"}}; lists are a JSON array, paged by ?skip=&limit= with the total in X-Total-Count and the neighbouring pages in a Link header (RFC 8288)."},
		"paths": paths,
		"components": map[string]any{
			"schemas": sg.defs,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "API key sb_…"},
				"basic": map[string]any{"type": "http", "scheme": "basic",
					"description": "Twilio-compatible route: username the organization's twilio_compat_account_sid, password an API key sb_…"},
			},
		},
	}
}

// responses documents an operation's success answer and the errors it can
// give (400 with a body or query, 401 with authentication, 404 with a path
// parameter).
func (g *schemaGen) responses(op Operation) map[string]any {
	resp := map[string]any{"description": http.StatusText(op.Status)}
	switch {
	case op.Raw != "":
		resp["content"] = map[string]any{op.Raw: map[string]any{"schema": map[string]any{"type": "string"}}}
	case op.Resp != nil:
		resp["content"] = map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(op.Resp))}}
		if isList(op.Resp) {
			resp["headers"] = listHeaders(op)
		}
	}
	responses := map[string]any{itoa(op.Status): resp}
	errSchema := map[string]any{"$ref": "#/components/schemas/Error"}
	if op.ErrResp != nil {
		errSchema = g.schema(reflect.TypeOf(op.ErrResp))
	}
	errRef := map[string]any{"description": "error", "content": map[string]any{"application/json": map[string]any{"schema": errSchema}}}
	if op.Req != nil || len(op.Query) > 0 {
		responses["400"] = errRef
	}
	if op.Auth || op.Basic {
		responses["401"] = errRef
	}
	if strings.Contains(op.Path, ":") {
		responses["404"] = errRef
	}
	return responses
}

// isList tells a list response (a ListBody, answered by WriteList).
func isList(resp any) bool {
	return strings.HasPrefix(reflect.TypeOf(resp).Name(), "ListBody[")
}

// listHeaders documents the paging headers WriteList sets: the total
// always, the Link header on routes that page (skip/limit).
func listHeaders(op Operation) map[string]any {
	h := map[string]any{
		totalCountHeader: map[string]any{"description": "how many items match, over every page", "schema": map[string]any{"type": "integer"}},
	}
	for _, q := range op.Query {
		if q.Name == "skip" {
			h["Link"] = map[string]any{
				"description": `RFC 8288 links to the neighbouring pages: rel="prev"/"first" unless this page starts the list, rel="next"/"last" when items follow; each is this request's URL with skip and limit set`,
				"schema":      map[string]any{"type": "string"}}
		}
	}
	return h
}

// Operations lists the registered routes as "METHOD /path" (OpenAPI form).
func (s *Server) Operations() []string {
	var out []string
	for _, op := range s.ops {
		out = append(out, op.Method+" "+openAPIPath(op.Path))
	}
	sort.Strings(out)
	return out
}

type schemaGen struct {
	defs map[string]any
}

var timeType = reflect.TypeOf(time.Time{})

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	nullable := false
	for t.Kind() == reflect.Pointer {
		t, nullable = t.Elem(), true
	}
	if t.Kind() == reflect.Struct && strings.HasPrefix(t.Name(), "Opt[") {
		s := g.schema(t.Field(2).Type)
		s = copyMap(s)
		s["nullable"] = true
		return s
	}
	var s map[string]any
	switch {
	case t == timeType:
		s = map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.String:
		s = map[string]any{"type": "string"}
	case t.Kind() == reflect.Bool:
		s = map[string]any{"type": "boolean"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		s = map[string]any{"type": "integer"}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		s = map[string]any{"type": "number"}
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		s = map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case t.Kind() == reflect.Map:
		s = map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case t.Kind() == reflect.Interface:
		s = map[string]any{}
	case t.Kind() == reflect.Struct:
		name := schemaName(t)
		if name != "" {
			if _, ok := g.defs[name]; !ok {
				g.defs[name] = map[string]any{} // break cycles
				g.defs[name] = g.structSchema(t)
			}
			s = map[string]any{"$ref": "#/components/schemas/" + name}
		} else {
			s = g.structSchema(t)
		}
	default:
		s = map[string]any{}
	}
	if nullable {
		if _, isRef := s["$ref"]; isRef {
			return map[string]any{"allOf": []any{s}, "nullable": true}
		}
		s = copyMap(s)
		s["nullable"] = true
	}
	return s
}

func (g *schemaGen) structSchema(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		ps := g.schema(f.Type)
		if d := f.Tag.Get("doc"); d != "" {
			ps = copyMap(ps)
			ps["description"] = d
		}
		props[name] = ps
		if f.Tag.Get("required") == "true" || (!strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer && !strings.HasPrefix(f.Type.Name(), "Opt[") && f.Tag.Get("required") != "false") {
			required = append(required, name)
		}
	}
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		sort.Strings(required)
		s["required"] = required
	}
	return s
}

func schemaName(t reflect.Type) string {
	n := t.Name()
	if n == "" || strings.Contains(n, "[") {
		return ""
	}
	return exportName(strings.TrimSuffix(n, "View"))
}

func exportName(n string) string {
	if n == "" {
		return n
	}
	return strings.ToUpper(n[:1]) + n[1:]
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}
