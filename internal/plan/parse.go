package plan

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// Parse decodes a plan from YAML and validates it: types (every value that does not
// fit its field, non-finite numbers included), unknown keys (with the nearest valid
// key as a hint), duplicate keys, required fields, identifiers, limits,
// cross-references. file names the plan in messages. Every problem comes back at once
// in a *ValidationError, in document order, with its field path and line. Hostile input
// (too large, too deep, an alias bomb) is refused before it is decoded (limits.go); a
// YAML syntax error is reported alone.
func Parse(file string, data []byte) (*Plan, error) {
	p, _, err := parse(file, data)
	return p, err
}

func parse(file string, data []byte) (*Plan, *ast.File, error) {
	f, targets, problems := parseDocument(data)
	if len(problems) > 0 {
		return nil, nil, &ValidationError{File: file, Problems: sortProblems(problems)}
	}
	var p Plan
	d := &decoder{targets: targets}
	for _, doc := range f.Docs {
		if doc.Body != nil {
			d.decode(doc.Body, reflect.ValueOf(&p).Elem(), "$")
			break
		}
	}
	problems = d.problems
	valid := Validate(&p)
	locate(f, valid)
	for _, v := range valid {
		if !under(v.Path, d.failed) {
			problems = append(problems, v)
		}
	}
	if len(problems) > 0 {
		return nil, nil, &ValidationError{File: file, Problems: sortProblems(problems)}
	}
	return &p, f, nil
}

// under tells whether path is one of paths or inside one of them.
func under(path string, paths []string) bool {
	for _, p := range paths {
		if path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[") {
			return true
		}
	}
	return false
}

// sortProblems puts problems in document order; problems without a line (rare) last.
func sortProblems(problems []Problem) []Problem {
	slices.SortStableFunc(problems, func(a, b Problem) int {
		la, lb := a.Line, b.Line
		if la == 0 {
			la = 1 << 30
		}
		if lb == 0 {
			lb = 1 << 30
		}
		if la != lb {
			return la - lb
		}
		return a.Column - b.Column
	})
	return problems
}

// decodeProblem is a YAML syntax error with its line.
func decodeProblem(err error) Problem {
	var yerr yaml.Error
	if errors.As(err, &yerr) {
		p := Problem{Message: yerr.GetMessage()}
		if tok := yerr.GetToken(); tok != nil && tok.Position != nil {
			p.Line, p.Column = tok.Position.Line, tok.Position.Column
		}
		return p
	}
	return Problem{Message: err.Error()}
}

// locate fills in the line and column of each problem's path.
func locate(f *ast.File, problems []Problem) {
	for i := range problems {
		node := lookup(f, problems[i].Path)
		if node == nil {
			continue
		}
		if tok := node.GetToken(); tok != nil && tok.Position != nil {
			problems[i].Line, problems[i].Column = tok.Position.Line, tok.Position.Column
		}
	}
}

// lookup finds the node at path, or the nearest ancestor that exists (a missing
// required field is reported at its parent).
func lookup(f *ast.File, p string) ast.Node {
	for p != "" && p != "$" {
		yp, err := yaml.PathString(p)
		if err == nil {
			if n, err := yp.FilterFile(f); err == nil && n != nil {
				return n
			}
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			break
		}
		p = p[:i]
	}
	return nil
}

// Snapshot is a loaded plan with the reference it came from and the hash of its
// content (plan plus model SQL); workflows carry it so that history records what was
// agreed.
type Snapshot struct {
	Ref  string `json:"ref"`
	Hash string `json:"hash"`
	Plan *Plan  `json:"plan"`
}

// Reader reads files of a plan: the plan itself and the model SQL beside it.
type Reader interface {
	ReadFile(ctx context.Context, name string) ([]byte, error)
}

// Load reads the plan at ref through r, validates it, inlines the SQL of its models
// (paths relative to the plan) and hashes the result.
func Load(ctx context.Context, r Reader, ref string) (*Snapshot, error) {
	data, err := r.ReadFile(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("read plan %s: %w", ref, err)
	}
	p, f, err := parse(ref, data)
	if err != nil {
		return nil, err
	}
	var problems []Problem
	for i := range p.Models {
		m := &p.Models[i]
		sqlPath := join(ref, m.SQL)
		sql, err := r.ReadFile(ctx, sqlPath)
		if err != nil && !IsMissing(err) {
			return nil, fmt.Errorf("read model SQL %s: %w", sqlPath, err) // transient: retry
		}
		if err != nil {
			problems = append(problems, Problem{Path: fmt.Sprintf("$.models[%d].sql", i), Message: fmt.Sprintf("cannot read %s: %v", sqlPath, err)})
			continue
		}
		text := strings.TrimSpace(string(bytes.TrimPrefix(sql, []byte("\xef\xbb\xbf"))))
		text = strings.TrimSpace(strings.TrimSuffix(text, ";"))
		if text == "" {
			problems = append(problems, Problem{Path: fmt.Sprintf("$.models[%d].sql", i), Message: fmt.Sprintf("%s is empty", sqlPath)})
		}
		m.SQLText = text
	}
	if len(problems) > 0 {
		locate(f, problems)
		return nil, &ValidationError{File: ref, Problems: problems}
	}
	canonical, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("hash plan %s: %w", ref, err)
	}
	sum := sha256.Sum256(canonical)
	return &Snapshot{Ref: ref, Hash: hex.EncodeToString(sum[:]), Plan: p}, nil
}

// IsMissing tells errors that retrying cannot fix when reading plan files: a missing
// file or object, a path outside the plan directory, a permission refusal, a file over
// MaxPlanBytes.
func IsMissing(err error) bool {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrTooLarge) {
		return true
	}
	var pe *fs.PathError
	return errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "path escapes")
}

// ErrNotFound is what an ObjectReader wraps for a missing object.
var ErrNotFound = errors.New("not found")
