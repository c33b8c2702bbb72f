// Package layout measures the project's size limits for non-test Go code:
// no file over MaxFileLines lines, no function (declaration or literal) over
// MaxFuncLines lines, no package over MaxPackageLines lines. Its test walks
// the module and fails naming every offender that is not allow-listed.
package layout

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The limits (docs/ARCHITECTURE.md, "Limits").
const (
	MaxFileLines    = 600
	MaxFuncLines    = 80
	MaxPackageLines = 3000
)

// Kind says which limit a Violation breaks.
type Kind string

// The three limits.
const (
	File    Kind = "file"
	Func    Kind = "func"
	Package Kind = "package"
)

// Violation is one file, function or package over its limit. Key is what an
// allow-list names: the slash-separated path relative to the walked root for
// a file or package directory, "path:Name" for a function ("path:Name.func1"
// for the first function literal inside Name, as in a stack trace).
type Violation struct {
	Kind  Kind
	Key   string
	Line  int // first line of a function; 0 otherwise
	Lines int
	Limit int
}

func (v Violation) String() string {
	if v.Line > 0 {
		return fmt.Sprintf("%s %s (line %d) has %d lines, limit %d", v.Kind, v.Key, v.Line, v.Lines, v.Limit)
	}
	return fmt.Sprintf("%s %s has %d lines, limit %d", v.Kind, v.Key, v.Lines, v.Limit)
}

// Check walks root and returns every violation, sorted by key. It reads
// non-test .go files only and skips testdata, vendor and hidden directories.
func Check(root string) ([]Violation, error) {
	pkgLines := map[string]int{}
	var out []Violation
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		vs, lines, err := checkFile(path, rel)
		if err != nil {
			return err
		}
		out = append(out, vs...)
		pkgLines[pathDir(rel)] += lines
		return nil
	})
	if err != nil {
		return nil, err
	}
	for dir, n := range pkgLines {
		if n > MaxPackageLines {
			out = append(out, Violation{Kind: Package, Key: dir, Lines: n, Limit: MaxPackageLines})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].Kind < out[j].Kind
	})
	return out, nil
}

func pathDir(rel string) string {
	if i := strings.LastIndex(rel, "/"); i >= 0 {
		return rel[:i]
	}
	return "."
}

// checkFile returns the file's and its functions' violations and its line
// count (as wc -l counts: newline characters).
func checkFile(path, rel string) ([]Violation, int, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	lines := strings.Count(string(src), "\n")
	var out []Violation
	if lines > MaxFileLines {
		out = append(out, Violation{Kind: File, Key: rel, Lines: lines, Limit: MaxFileLines})
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, 0, err
	}
	for _, decl := range f.Decls {
		fd, ok := decl.(*ast.FuncDecl)
		if !ok {
			// Function literals in package-level var initialisers.
			out = append(out, funcLits(fset, rel, "init", decl)...)
			continue
		}
		name := fd.Name.Name
		if fd.Recv != nil && len(fd.Recv.List) == 1 {
			name = recvName(fd.Recv.List[0].Type) + "." + name
		}
		if n := span(fset, fd.Pos(), fd.End()); n > MaxFuncLines {
			out = append(out, Violation{Kind: Func, Key: rel + ":" + name, Line: fset.Position(fd.Pos()).Line, Lines: n, Limit: MaxFuncLines})
		}
		if fd.Body != nil {
			out = append(out, funcLits(fset, rel, name, fd.Body)...)
		}
	}
	return out, lines, nil
}

// funcLits returns the over-long function literals under n, named
// outer.func1, outer.func2, … in source order.
func funcLits(fset *token.FileSet, rel, outer string, n ast.Node) []Violation {
	var out []Violation
	i := 0
	ast.Inspect(n, func(n ast.Node) bool {
		fl, ok := n.(*ast.FuncLit)
		if !ok {
			return true
		}
		i++
		if l := span(fset, fl.Pos(), fl.End()); l > MaxFuncLines {
			out = append(out, Violation{Kind: Func, Key: fmt.Sprintf("%s:%s.func%d", rel, outer, i),
				Line: fset.Position(fl.Pos()).Line, Lines: l, Limit: MaxFuncLines})
		}
		return true
	})
	return out
}

func span(fset *token.FileSet, from, to token.Pos) int {
	return fset.Position(to).Line - fset.Position(from).Line + 1
}

func recvName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return recvName(t.X)
	case *ast.IndexExpr:
		return recvName(t.X)
	case *ast.IndexListExpr:
		return recvName(t.X)
	case *ast.Ident:
		return t.Name
	}
	return "?"
}
