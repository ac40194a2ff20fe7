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
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Parse decodes a plan from YAML and validates it: unknown keys (with the nearest
// valid key as a hint), required fields, identifiers, cross-references. file names the
// plan in messages. Every problem comes back at once in a *ValidationError, in
// document order. A YAML syntax or type error stops parsing and is reported alone.
func Parse(file string, data []byte) (*Plan, error) {
	var p Plan
	if err := yaml.UnmarshalWithOptions(data, &p); err != nil {
		return nil, &ValidationError{File: file, Problems: []Problem{decodeProblem(err)}}
	}
	var problems []Problem
	if f, err := parser.ParseBytes(data, 0); err == nil {
		problems = unknownKeys(f)
	}
	valid := Validate(&p)
	locate(data, valid)
	problems = append(problems, valid...)
	if len(problems) > 0 {
		// Document order; problems without a line (rare) last.
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
		return nil, &ValidationError{File: file, Problems: problems}
	}
	return &p, nil
}

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
func locate(data []byte, problems []Problem) {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return
	}
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
	p, err := Parse(ref, data)
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
		locate(data, problems)
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
// file or object, a path outside the plan directory, a permission refusal.
func IsMissing(err error) bool {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, ErrNotFound) {
		return true
	}
	var pe *fs.PathError
	return errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "path escapes")
}

// ErrNotFound is what an ObjectReader wraps for a missing object.
var ErrNotFound = errors.New("not found")
