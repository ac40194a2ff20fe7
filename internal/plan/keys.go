package plan

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if name := yamlName(f); name != "" && name != "-" && name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		if name := yamlName(t.Field(i)); name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

// unknownKeyMessage names the key and the nearest valid one, or lists the valid keys.
func unknownKeyMessage(key string, valid []string) string {
	best, bestDist := "", len(key)+1
	for _, v := range valid {
		if d := levenshtein(key, v); d < bestDist {
			best, bestDist = v, d
		}
	}
	if best != "" && bestDist <= max(2, len(key)/3) {
		return fmt.Sprintf("unknown key %q: did you mean %q?", key, best)
	}
	sorted := slices.Clone(valid)
	slices.Sort(sorted)
	return fmt.Sprintf("unknown key %q: valid keys here are %s", key, strings.Join(sorted, ", "))
}

// levenshtein is the optimal-string-alignment distance: insertions, deletions,
// substitutions and transpositions of neighbours each cost 1 ("domian" is 1 from
// "domain").
func levenshtein(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
