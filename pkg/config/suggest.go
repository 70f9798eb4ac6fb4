package config

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// suggest names the closest field to an unknown key, or lists the known fields.
func suggest(md protoreflect.MessageDescriptor, key string) string {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "")) }
	best, bestDist := "", math.MaxInt
	if len(key) > 64 {
		key = "" // not a typo of a field name; skip the quadratic comparison
	}
	names := make([]string, 0, md.Fields().Len())
	for i := range md.Fields().Len() {
		name := string(md.Fields().Get(i).Name())
		names = append(names, name)
		if d := editDistance(norm(key), norm(name)); d < bestDist {
			best, bestDist = name, d
		}
	}
	if best != "" && bestDist <= max(1, len(key)/3) {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	slices.Sort(names)
	return fmt.Sprintf(" (known fields: %s)", strings.Join(names, ", "))
}

// editDistance is the optimal-string-alignment distance between a and b, in
// bytes: insertions, deletions, substitutions and adjacent transpositions.
func editDistance(a, b string) int {
	rows := make([][]int, len(a)+1)
	for i := range rows {
		rows[i] = make([]int, len(b)+1)
		rows[i][0] = i
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d := min(rows[i-1][j]+1, rows[i][j-1]+1, rows[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d = min(d, rows[i-2][j-2]+1)
			}
			rows[i][j] = d
		}
	}
	return rows[len(a)][len(b)]
}
