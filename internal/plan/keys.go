package plan

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"etl2elt/internal/opinput"
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
		if d := opinput.Distance(key, v); d < bestDist { // insertions, deletions, substitutions, transpositions
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
