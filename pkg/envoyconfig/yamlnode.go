package envoyconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"go.yaml.in/yaml/v4"
)

// maxAliasDepth bounds alias and merge-key resolution so that a hostile document
// ("billion laughs") cannot make the walk explode.
const maxAliasDepth = 64

// parseYAMLDocs splits data into its YAML documents.
func parseYAMLDocs(data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if root := docRoot(&n); root != nil && !isNull(root) {
			docs = append(docs, root)
		}
	}
	return docs, nil
}

// docRoot returns the content of a document node.
func docRoot(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return n.Content[0]
	}
	return n
}

// deref follows aliases.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxAliasDepth; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// pair is one key/value of a YAML mapping.
type pair struct {
	key   string
	kn, v *yaml.Node
}

// mappingPairs returns the pairs of a mapping node with merge keys ("<<") expanded;
// explicit keys win over merged ones, and a key given twice is an error.
func mappingPairs(n *yaml.Node) ([]pair, error) {
	return mappingPairsDepth(n, 0)
}

func mappingPairsDepth(n *yaml.Node, depth int) ([]pair, error) {
	if depth > maxAliasDepth {
		return nil, errors.New("merge keys nested too deeply")
	}
	n = deref(n)
	var own, merged []pair
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, v := deref(n.Content[i]), n.Content[i+1]
		if kn.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: mapping keys must be scalars", kn.Line)
		}
		if kn.ShortTag() == "!!merge" {
			srcs := []*yaml.Node{deref(v)}
			if d := deref(v); d.Kind == yaml.SequenceNode {
				srcs = d.Content
			}
			for _, src := range srcs {
				if deref(src).Kind != yaml.MappingNode {
					return nil, fmt.Errorf("line %d: a merge key needs a mapping", kn.Line)
				}
				ps, err := mappingPairsDepth(src, depth+1)
				if err != nil {
					return nil, err
				}
				merged = append(merged, ps...)
			}
			continue
		}
		if seen[kn.Value] {
			return nil, fmt.Errorf("line %d: duplicate key %q", kn.Line, kn.Value)
		}
		seen[kn.Value] = true
		own = append(own, pair{key: kn.Value, kn: kn, v: v})
	}
	for _, p := range merged {
		if !seen[p.key] {
			seen[p.key] = true
			own = append(own, p)
		}
	}
	return own, nil
}

// nodeJSON renders a YAML node as JSON, the input of protojson. YAML 1.2 typing is
// kept: a quoted "5" stays a string, an unquoted 5 is a number.
func nodeJSON(n *yaml.Node) ([]byte, error) {
	w := &jsonWriter{budget: maxExpandedNodes}
	if err := w.write(n, 0); err != nil {
		return nil, err
	}
	return w.buf.Bytes(), nil
}

// maxExpandedNodes bounds the size of a document after alias expansion.
const maxExpandedNodes = 1 << 20

type jsonWriter struct {
	buf    bytes.Buffer
	budget int
}

func (w *jsonWriter) write(n *yaml.Node, depth int) error {
	if depth > 1000 {
		return errors.New("document nested too deeply")
	}
	if w.budget--; w.budget < 0 {
		return errors.New("document too large after alias expansion")
	}
	buf := &w.buf
	n = deref(n)
	if n == nil {
		buf.WriteString("null")
		return nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		return w.write(docRoot(n), depth)
	case yaml.MappingNode:
		pairs, err := mappingPairs(n)
		if err != nil {
			return err
		}
		buf.WriteByte('{')
		for i, p := range pairs {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSONString(buf, p.key)
			buf.WriteByte(':')
			if err := w.write(p.v, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := w.write(c, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		return writeScalarJSON(buf, n)
	default:
		return fmt.Errorf("line %d: unsupported YAML node", n.Line)
	}
	return nil
}

func writeScalarJSON(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.ShortTag() {
	case "!!null":
		buf.WriteString("null")
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		fmt.Fprint(buf, b)
	case "!!int":
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		buf.Write(b)
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		switch {
		case math.IsNaN(f):
			buf.WriteString(`"NaN"`)
		case math.IsInf(f, 1):
			buf.WriteString(`"Infinity"`)
		case math.IsInf(f, -1):
			buf.WriteString(`"-Infinity"`)
		default:
			b, _ := json.Marshal(f) // finite: cannot fail
			buf.Write(b)
		}
	default:
		writeJSONString(buf, n.Value)
	}
	return nil
}

func writeJSONString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // strings always marshal (invalid UTF-8 becomes U+FFFD)
	buf.Write(b)
}

// Path helpers, in the notation of pkg/config: a.b[2].c["map key"].
func joinField(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func joinIndex(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

func joinKey(path, key string) string { return fmt.Sprintf("%s[%q]", path, key) }

// hasPathPrefix reports whether path is prefix or below it.
func hasPathPrefix(path, prefix string) bool {
	if prefix == "" || path == prefix {
		return true
	}
	return strings.HasPrefix(path, prefix) && (path[len(prefix)] == '.' || path[len(prefix)] == '[')
}
