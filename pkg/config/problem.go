package config

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Path locates the offending value in the YAML document, e.g.
	// "providers[2].base_url" or `providers[0].headers["X-Key"]`. Empty for
	// problems with the document as a whole.
	Path string
	// Message says what is wrong. It never quotes the value of a secret field.
	Message string
	// Line and Column are the 1-based position of the value in the source, when
	// known (0 otherwise).
	Line, Column int
}

// String formats the problem as "path: message".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// ValidationError reports every problem found in a configuration.
type ValidationError struct {
	// File is the configuration file name, when the config came from a file.
	File string
	// Problems are in document order.
	Problems []Problem
}

// Error prints one line per problem, prefixed with "file:line:col: " (or
// "line N: " without a file name) when the position is known.
func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		switch {
		case e.File != "" && p.Line > 0:
			fmt.Fprintf(&b, "%s:%d:%d: ", e.File, p.Line, p.Column)
		case e.File != "":
			b.WriteString(e.File + ": ")
		case p.Line > 0:
			fmt.Fprintf(&b, "line %d: ", p.Line)
		}
		b.WriteString(p.String())
	}
	if len(e.Problems) == 0 {
		b.WriteString("invalid configuration")
	}
	return b.String()
}

// position is where a YAML value starts.
type position struct{ line, column int }

// positions maps YAML paths to source positions so that problems found after
// decoding (by Validate) can still point at a line.
type positions map[string]position

// locate fills in Line and Column of each problem from the closest enclosing path
// that has a known position: a missing field is reported at its parent.
func (ps positions) locate(problems []Problem) {
	for i := range problems {
		if problems[i].Line > 0 {
			continue
		}
		for path := problems[i].Path; ; path = parentPath(path) {
			if pos, ok := ps[path]; ok {
				problems[i].Line, problems[i].Column = pos.line, pos.column
				break
			}
			if path == "" {
				break
			}
		}
	}
}

// parentPath strips the last segment: "a.b[2]" → "a.b" → "a" → "".
func parentPath(path string) string {
	if path == "" {
		return ""
	}
	if strings.HasSuffix(path, "]") {
		// The bracket may hold a quoted map key containing '[' or '.'; find the
		// opening bracket that starts the final segment.
		if i := openingBracket(path); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

// openingBracket returns the index of the '[' that opens the trailing "[...]"
// segment, skipping over a quoted key.
func openingBracket(path string) int {
	if strings.HasSuffix(path, `"]`) {
		// Quoted key: scan backwards for the unescaped opening quote.
		for i := len(path) - 3; i >= 1; i-- {
			if path[i] == '"' && path[i-1] == '[' && !escaped(path, i) {
				return i - 1
			}
		}
		return -1
	}
	return strings.LastIndexByte(path, '[')
}

// escaped reports whether path[i] is preceded by an odd number of backslashes.
func escaped(path string, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && path[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// joinField appends a field name to a path.
func joinField(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// joinIndex appends a list index to a path.
func joinIndex(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}

// joinKey appends a quoted map key to a path.
func joinKey(path, key string) string {
	return fmt.Sprintf("%s[%q]", path, key)
}
