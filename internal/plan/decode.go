package plan

import (
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"unicode/utf8"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/scanner"
	"github.com/goccy/go-yaml/token"
)

// parseDocument turns a plan file into its YAML syntax tree, refusing hostile input
// before it costs time or memory: the size is checked first, the nesting depth and the
// number of aliases while tokenizing (the parser is quadratic in depth), and the
// expansion of aliases on the tree, without expanding them. It returns each alias's
// target (the value of the anchor it names at that point of the document).
func parseDocument(data []byte) (*ast.File, map[*ast.AliasNode]ast.Node, []Problem) {
	if len(data) > MaxPlanBytes {
		return nil, nil, []Problem{{Path: "$", Message: fmt.Sprintf("the plan is %d bytes, more than the limit of %d (1 MiB)", len(data), MaxPlanBytes)}}
	}
	if problem := nesting(data); problem != nil {
		return nil, nil, []Problem{*problem}
	}
	tokens, problem := tokenize(data)
	if problem != nil {
		return nil, nil, []Problem{*problem}
	}
	f, err := parser.Parse(tokens, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		return nil, nil, []Problem{decodeProblem(err)}
	}
	a := &aliasCheck{anchors: map[string]anchor{}, targets: map[*ast.AliasNode]ast.Node{}}
	docs := 0
	for _, doc := range f.Docs {
		if doc.Body == nil {
			continue
		}
		if docs++; docs > 1 {
			a.problems = append(a.problems, at(doc.Body, "$", "a plan is one YAML document: remove the second one (---)"))
			break
		}
		a.size(doc.Body, nil, 1)
	}
	if len(a.problems) > 0 {
		return nil, nil, a.problems
	}
	return f, a.targets, nil
}

// nesting is a byte-level look at flow collections ([ {), compact block entries
// (- - - on one line) and the number of entries (keys and list items), before the
// scanner: the scanner tokenizes a whole flow
// collection at once (about 250 bytes per token), so a megabyte of [ would cost
// hundreds of megabytes before tokenize could count it. Quoted strings, comments and
// block scalars (| >) are skipped.
func nesting(data []byte) *Problem {
	space := func(i int) bool {
		return i >= len(data) || data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r'
	}
	flow, compact, entries := 0, 0, 0
	line, lineStart, indent := 1, 0, 0
	start := true     // at the start of a node
	blockIndent := -1 // inside a block scalar: lines indented more than this are text
	for i := 0; i < len(data); i++ {
		c := data[i]
		if i == lineStart {
			indent = 0
			for i+indent < len(data) && data[i+indent] == ' ' {
				indent++
			}
			if blockIndent >= 0 && (indent > blockIndent || i+indent < len(data) && (data[i+indent] == '\n' || data[i+indent] == '\r')) {
				for i < len(data) && data[i] != '\n' {
					i++
				}
				if i < len(data) {
					line, lineStart = line+1, i+1
				}
				continue
			}
			blockIndent = -1
		}
		switch {
		case c == '\n':
			line, lineStart, start, compact = line+1, i+1, true, 0
		case c == ' ' || c == '\t' || c == '\r':
		case c == '#' && (i == 0 || space(i-1)):
			for i+1 < len(data) && data[i+1] != '\n' {
				i++
			}
		case start && (c == '"' || c == '\''):
			for i++; i < len(data); i++ {
				if data[i] == '\n' {
					line, lineStart = line+1, i+1
				} else if c == '"' && data[i] == '\\' {
					i++
				} else if data[i] == c {
					if c == '\'' && i+1 < len(data) && data[i+1] == '\'' {
						i++
						continue
					}
					break
				}
			}
			start = false
		case (c == '[' || c == '{') && (flow > 0 || start):
			flow++
		case (c == ']' || c == '}') && flow > 0:
			flow, start = flow-1, false
		case c == ',' && flow > 0:
			start = true
			entries++
		case flow == 0 && start && (c == '-' || c == '?') && space(i+1):
			compact++
			entries++
		case flow == 0 && start && (c == '|' || c == '>'):
			blockIndent, start = indent, false
		case c == ':' && (space(i+1) || flow > 0):
			start = true
			entries++
		default:
			start = false
		}
		if flow > MaxDepth || compact > MaxDepth {
			return &Problem{Line: line, Column: i - lineStart + 1, Message: fmt.Sprintf("nested more than %d levels deep", MaxDepth)}
		}
		if entries > MaxEntries {
			return &Problem{Line: line, Column: i - lineStart + 1, Message: fmt.Sprintf("more than %d keys and list items", MaxEntries)}
		}
	}
	return nil
}

// tokenize runs the YAML scanner, stopping at the first token nested deeper than
// MaxDepth, beyond MaxAliases aliases or beyond MaxKeys keys in one block mapping (the
// parser is quadratic in a block mapping's keys). Depth counts open flow collections ([ {)
// plus the indentation columns of open block collections (- key: ?), an upper bound of
// the parser's nesting.
func tokenize(data []byte) (token.Tokens, *Problem) {
	var s scanner.Scanner
	s.Init(string(data))
	var tokens token.Tokens
	var block []int // columns of the open block collections
	var keys []int  // keys seen in each of them
	flow, aliases := 0, 0
	for {
		tks, err := s.Scan()
		for _, tk := range tks {
			switch tk.Type {
			case token.SequenceStartType, token.MappingStartType:
				flow++
			case token.SequenceEndType, token.MappingEndType:
				flow = max(flow-1, 0)
			case token.DocumentHeaderType:
				block, keys, flow = block[:0], keys[:0], 0
			case token.AliasType:
				if aliases++; aliases > MaxAliases {
					return nil, tokenProblem(tk, fmt.Sprintf("more than %d aliases (*name)", MaxAliases))
				}
			case token.SequenceEntryType, token.MappingKeyType, token.MappingValueType:
				if flow > 0 || tk.Position == nil {
					break
				}
				col := tk.Position.Column
				if last := len(tokens) - 1; tk.Type == token.MappingValueType && last >= 0 && tokens[last].Position != nil && tokens[last].Position.Line == tk.Position.Line {
					col = tokens[last].Position.Column // the key's column
				}
				for len(block) > 0 && block[len(block)-1] > col {
					block, keys = block[:len(block)-1], keys[:len(keys)-1]
				}
				if len(block) == 0 || block[len(block)-1] < col {
					block, keys = append(block, col), append(keys, 0)
				}
				if tk.Type == token.MappingValueType {
					if keys[len(keys)-1]++; keys[len(keys)-1] > MaxKeys {
						return nil, tokenProblem(tk, fmt.Sprintf("more than %d keys in one mapping", MaxKeys))
					}
				}
			}
			if flow+len(block) > MaxDepth {
				return nil, tokenProblem(tk, fmt.Sprintf("nested more than %d levels deep", MaxDepth))
			}
			tokens.Add(tk)
		}
		if err == io.EOF || (err != nil && len(tks) == 0) {
			break
		}
	}
	return tokens, nil
}

func tokenProblem(tk *token.Token, msg string) *Problem {
	p := &Problem{Message: msg}
	if tk.Position != nil {
		p.Line, p.Column = tk.Position.Line, tk.Position.Column
	}
	return p
}

type anchor struct {
	value ast.Node
	size  int
}

// aliasCheck walks the tree in document order like a decoder would, without
// expanding aliases: each anchor's expanded size is computed once, and every alias
// adds its anchor's size to expanded.
type aliasCheck struct {
	anchors  map[string]anchor
	targets  map[*ast.AliasNode]ast.Node
	expanded int
	stop     bool
	problems []Problem
}

// where is a path built only when a problem needs it: a key or an index under parent.
type where struct {
	parent *where
	key    string
	index  int
}

func (w *where) String() string {
	if w == nil {
		return "$"
	}
	if w.key != "" {
		return w.parent.String() + "." + w.key
	}
	return fmt.Sprintf("%s[%d]", w.parent.String(), w.index)
}

// size returns the number of nodes n stands for once aliases are expanded.
func (a *aliasCheck) size(n ast.Node, path *where, depth int) int {
	if n == nil || a.stop {
		return 0
	}
	if depth > MaxDepth {
		a.fail(at(n, path.String(), fmt.Sprintf("nested more than %d levels deep", MaxDepth)))
		return 0
	}
	total := 1
	switch n := n.(type) {
	case *ast.DocumentNode:
		return a.size(n.Body, path, depth)
	case *ast.MappingNode:
		for _, mv := range n.Values {
			total += a.size(mv, path, depth+1)
		}
	case *ast.MappingValueNode:
		key := "?"
		if tok := n.Key.GetToken(); tok != nil && tok.Value != "" {
			key = tok.Value
		}
		total += a.size(n.Key, path, depth) + a.size(n.Value, &where{parent: path, key: key}, depth)
	case *ast.MappingKeyNode:
		total += a.size(n.Value, path, depth)
	case *ast.SequenceNode:
		for i, v := range n.Values {
			total += a.size(v, &where{parent: path, index: i}, depth+1)
		}
	case *ast.TagNode:
		total += a.size(n.Value, path, depth)
	case *ast.AnchorNode:
		s := a.size(n.Value, path, depth)
		if n.Name != nil {
			a.anchors[n.Name.GetToken().Value] = anchor{value: n.Value, size: s}
		}
		total += s
	case *ast.AliasNode:
		name := ""
		if n.Value != nil {
			name = n.Value.GetToken().Value
		}
		target, ok := a.anchors[name]
		if !ok {
			a.fail(at(n, path.String(), fmt.Sprintf("unknown alias *%s (an alias refers to an anchor &%s defined before it)", name, name)))
			return 0
		}
		a.targets[n] = target.value
		if a.expanded += target.size; a.expanded > MaxAliasNodes {
			a.fail(at(n, path.String(), fmt.Sprintf("aliases expand to more than %d nodes (an alias bomb?)", MaxAliasNodes)))
			return 0
		}
		return target.size
	}
	return total
}

func (a *aliasCheck) fail(p Problem) {
	a.problems = append(a.problems, p)
	a.stop = true
}

// at is a problem at node n.
func at(n ast.Node, path, msg string) Problem {
	p := Problem{Path: path, Message: msg}
	if tok := n.GetToken(); tok != nil && tok.Position != nil {
		p.Line, p.Column = tok.Position.Line, tok.Position.Column
	}
	return p
}

// decoder fills a Plan from the syntax tree, reporting every type error, unknown key
// and duplicate key with its path and line instead of stopping at the first.
type decoder struct {
	targets  map[*ast.AliasNode]ast.Node
	problems []Problem
	// failed are the paths of values that could not be decoded (left zero), so that
	// validation does not report them a second time.
	failed []string
}

func (d *decoder) typeError(n ast.Node, path, msg string) {
	d.problems = append(d.problems, at(n, path, msg))
	d.failed = append(d.failed, path)
}

// resolve follows anchors and aliases to the value they stand for.
func (d *decoder) resolve(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.AliasNode:
			n = d.targets[v]
		default:
			return n
		}
	}
}

func (d *decoder) decode(n ast.Node, v reflect.Value, path string) {
	written := n
	n = d.resolve(n)
	if n == nil {
		return
	}
	switch n.(type) {
	case *ast.NullNode:
		return // the zero value, as for an absent key
	case *ast.TagNode:
		d.typeError(written, path, "tags (!!type) are not supported in a plan")
		return
	}
	t := v.Type()
	switch t.Kind() {
	case reflect.Pointer:
		e := reflect.New(t.Elem())
		d.decode(n, e.Elem(), path)
		v.Set(e)
	case reflect.Struct:
		pairs, ok := mappingPairs(n)
		if !ok {
			d.typeError(written, path, "must be a mapping, got "+describe(n))
			return
		}
		seen := map[string]ast.Node{}
		for _, mv := range pairs {
			key, ok := d.key(mv, path, seen)
			if !ok {
				continue
			}
			field, ok := fieldByTag(t, key)
			if !ok {
				d.problems = append(d.problems, at(mv.Key, path, unknownKeyMessage(key, yamlKeys(t))))
				continue
			}
			d.decode(mv.Value, v.FieldByIndex(field.Index), path+"."+key)
		}
	case reflect.Map:
		pairs, ok := mappingPairs(n)
		if !ok {
			d.typeError(written, path, "must be a mapping, got "+describe(n))
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMapWithSize(t, len(pairs)))
		}
		seen := map[string]ast.Node{}
		for _, mv := range pairs {
			key, ok := d.key(mv, path, seen)
			if !ok {
				continue
			}
			e := reflect.New(t.Elem()).Elem()
			d.decode(mv.Value, e, path+"."+key)
			v.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), e)
		}
	case reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			d.typeError(written, path, "must be a list, got "+describe(n))
			return
		}
		s := reflect.MakeSlice(t, len(seq.Values), len(seq.Values))
		for i, item := range seq.Values {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.String:
		s, ok := scalarString(n)
		if !ok {
			d.typeError(written, path, "must be a string, got "+describe(n))
			return
		}
		v.SetString(s)
	case reflect.Int, reflect.Int64:
		i, msg := wholeNumber(n)
		if msg == "" && v.OverflowInt(i) {
			msg = "is out of range"
		}
		if msg != "" {
			d.typeError(written, path, msg+", got "+describe(n))
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		f, msg := number(n)
		if msg != "" {
			d.typeError(written, path, msg+", got "+describe(n))
			return
		}
		v.SetFloat(f)
	case reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			d.typeError(written, path, "must be true or false, got "+describe(n))
			return
		}
		v.SetBool(b.Value)
	default:
		d.typeError(written, path, fmt.Sprintf("cannot hold a %s", t.Kind())) // no such field in Plan
	}
}

// key returns the key of a mapping entry as a string, reporting keys that are not
// scalars, merge keys and duplicates.
func (d *decoder) key(mv *ast.MappingValueNode, path string, seen map[string]ast.Node) (string, bool) {
	var k ast.Node = mv.Key
	if mk, ok := k.(*ast.MappingKeyNode); ok {
		k = mk.Value
	}
	if _, ok := k.(*ast.MergeKeyNode); ok {
		d.problems = append(d.problems, at(mv.Key, path, "merge keys (<<) are not supported in a plan: write the keys out"))
		return "", false
	}
	written := k
	k = d.resolve(k)
	s, ok := scalarString(k)
	if _, null := k.(*ast.NullNode); !ok || null {
		d.problems = append(d.problems, at(mv.Key, path, "a key must be a string, got "+describe(k)))
		return "", false
	}
	if first, dup := seen[s]; dup {
		line := 0
		if tok := first.GetToken(); tok != nil && tok.Position != nil {
			line = tok.Position.Line
		}
		d.problems = append(d.problems, at(written, path, fmt.Sprintf("duplicate key %q (first at line %d)", s, line)))
		return "", false
	}
	seen[s] = written
	return s, true
}

func mappingPairs(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch v := n.(type) {
	case *ast.MappingNode:
		return v.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{v}, true
	}
	return nil, false
}

// scalarString is a scalar as a string field holds it (numbers and booleans in their
// canonical form, like the YAML library's decoder).
func scalarString(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value == nil {
			return "", true
		}
		return v.Value.Value, true
	case *ast.NullNode:
		return "", true
	case *ast.IntegerNode:
		switch i := v.Value.(type) {
		case int64:
			return strconv.FormatInt(i, 10), true
		case uint64:
			return strconv.FormatUint(i, 10), true
		}
	case *ast.FloatNode:
		return fmt.Sprint(v.Value), true
	case *ast.BoolNode:
		return strconv.FormatBool(v.Value), true
	case *ast.InfinityNode:
		return fmt.Sprint(v.Value), true
	case *ast.NanNode:
		return fmt.Sprint(math.NaN()), true
	}
	return "", false
}

// wholeNumber is an integer field's value, or what is wrong with it.
func wholeNumber(n ast.Node) (int64, string) {
	switch v := n.(type) {
	case *ast.IntegerNode:
		switch i := v.Value.(type) {
		case int64:
			return i, ""
		case uint64:
			if i <= math.MaxInt64 {
				return int64(i), ""
			}
		}
		return 0, "is out of range"
	case *ast.FloatNode:
		f := v.Value
		switch {
		case !finite(f):
			return 0, "must be a finite whole number"
		case f != math.Trunc(f):
			return 0, "must be a whole number"
		case f < math.MinInt64 || f >= math.MaxInt64:
			return 0, "is out of range"
		}
		return int64(f), ""
	case *ast.InfinityNode, *ast.NanNode:
		return 0, "must be a finite whole number"
	case *ast.StringNode:
		if f, ok := plainFloat(v); ok && !finite(f) {
			return 0, "must be a finite whole number"
		} else if ok && f == math.Trunc(f) {
			return 0, "is out of range"
		}
	}
	return 0, "must be a whole number"
}

// number is a float field's value, or what is wrong with it: only finite numbers.
func number(n ast.Node) (float64, string) {
	switch v := n.(type) {
	case *ast.IntegerNode:
		switch i := v.Value.(type) {
		case int64:
			return float64(i), ""
		case uint64:
			return float64(i), ""
		}
	case *ast.FloatNode:
		if !finite(v.Value) {
			return 0, "must be a finite number"
		}
		return v.Value, ""
	case *ast.InfinityNode, *ast.NanNode:
		return 0, "must be a finite number"
	case *ast.StringNode:
		if f, ok := plainFloat(v); ok && !finite(f) {
			return 0, "must be a finite number"
		}
	}
	return 0, "must be a number"
}

// plainFloat reads an unquoted scalar that the scanner left as a string as a number:
// 1e400 (beyond float64), inf, nan.
func plainFloat(v *ast.StringNode) (float64, bool) {
	if v.Token == nil || v.Token.Type != token.StringType {
		return 0, false
	}
	f, err := strconv.ParseFloat(v.Value, 64)
	return f, err == nil || errors.Is(err, strconv.ErrRange)
}

func finite(f float64) bool { return !math.IsInf(f, 0) && !math.IsNaN(f) }

// describe names a value in a message: a mapping, a list, the string "x", 1.5.
func describe(n ast.Node) string {
	switch v := n.(type) {
	case nil:
		return "nothing"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.LiteralNode:
		return "a block of text"
	case *ast.TagNode:
		return "a tagged value"
	case *ast.StringNode:
		if _, ok := plainFloat(v); ok {
			return short(v.Value)
		}
		return "the string " + strconv.Quote(short(v.Value))
	}
	if tok := n.GetToken(); tok != nil {
		return short(tok.Value)
	}
	return n.Type().String()
}

func short(s string) string {
	const limit = 40
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
