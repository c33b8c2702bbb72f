package console

import (
	"bytes"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// view is what every page template gets.
type view struct {
	Title string
	Nav   string // the active tab
	Org   string
	CSRF  string
	Live  string // the live-update stream's query (page=…), if any
	D     any    // the page's own data
}

var funcs = template.FuncMap{
	"when": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return "-"
			}
			return v.UTC().Format("2006-01-02 15:04:05Z")
		case *time.Time:
			if v == nil || v.IsZero() {
				return "-"
			}
			return v.UTC().Format("2006-01-02 15:04:05Z")
		}
		return "-"
	},
	"unix": func(t time.Time) int64 { return t.Unix() },
	"dash": func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	},
	"deref": func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	},
	"join":    strings.Join,
	"options": func(v ...string) []string { return v },
}

// parsePages parses each page with the layout and the shared fragments.
func parsePages() map[string]*template.Template {
	base := template.Must(template.New("").Funcs(funcs).ParseFS(assets, "assets/templates/layout/*.html"))
	out := map[string]*template.Template{}
	files, _ := fs.Glob(assets, "assets/templates/*.html")
	for _, f := range files {
		t := template.Must(template.Must(base.Clone()).ParseFS(assets, f))
		out[strings.TrimSuffix(path.Base(f), ".html")] = t
	}
	return out
}

// render writes page (its "layout", or the fragment named by block).
func (c *Console) render(w http.ResponseWriter, status int, page, block string, v view) {
	var buf bytes.Buffer
	if block == "" {
		block = "layout"
	}
	if err := c.pages[page].ExecuteTemplate(&buf, block, v); err != nil {
		c.log.Error("console template failed", "page", page, "err", err.Error())
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fragments renders blocks of page, by name (the live updates).
func (c *Console) fragments(page string, v view, blocks ...string) (map[string]string, error) {
	out := make(map[string]string, len(blocks))
	for _, b := range blocks {
		var buf bytes.Buffer
		if err := c.pages[page].ExecuteTemplate(&buf, b, v); err != nil {
			return nil, err
		}
		out[b] = buf.String()
	}
	return out, nil
}

func pageView(s *session, title, nav string, d any) view {
	return view{Title: title, Nav: nav, Org: s.orgName, CSRF: s.csrf, D: d}
}
