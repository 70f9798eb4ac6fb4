package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	yaml "go.yaml.in/yaml/v4"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// MaxFileSize bounds what Load reads; a config file is a few kilobytes.
const MaxFileSize = 8 << 20

// Options control Parse and Load.
type Options struct {
	// Kinds are the registered provider kinds (provider.Registry.Kinds()). When
	// empty, providers[].kind is only checked for presence.
	Kinds []string
	// ResolveSecrets also checks that every secret reference resolves now
	// (environment variables set, files readable). Commands that will use the
	// secrets set it; `validate` on a build machine does not.
	ResolveSecrets bool
	// Env looks up environment variables; nil means os.Getenv.
	Env func(string) string
}

func (o Options) env() func(string) string {
	if o.Env != nil {
		return o.Env
	}
	return os.Getenv
}

// Load reads and parses the configuration file at path; see Parse. Problems
// are reported as a *ValidationError whose File is path.
func Load(path string, opts Options) (*configv1.Config, error) {
	data, err := readFileLimit(path, MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := Parse(data, opts)
	if verr, ok := errors.AsType[*ValidationError](err); ok {
		verr.File = path
	}
	return cfg, err
}

// Parse decodes a YAML (or JSON) configuration, validates it and returns it
// with defaults applied (see ApplyDefaults). Field names may be snake_case or
// lowerCamelCase. Any problem yields a *ValidationError listing every problem
// with its path and line, sorted by line: first all schema problems (unknown
// fields, wrong types, bad enum values); only when there are none, the semantic
// problems found by Validate and, when opts.ResolveSecrets is set, secret
// references that do not resolve. Secret references stay references in the
// result; ResolveAll turns them into values.
func Parse(data []byte, opts Options) (*configv1.Config, error) {
	cfg := &configv1.Config{}
	js, w, err := toJSON(data, cfg.ProtoReflect().Descriptor())
	if err != nil {
		return nil, err
	}
	if err := protojson.Unmarshal(js, cfg); err != nil {
		// The walk should have caught everything protojson rejects; this is a
		// safety net (and the fuzz target checks it is never reached).
		return nil, &ValidationError{Problems: []Problem{{Message: "internal error decoding config: " + err.Error()}}}
	}
	// Validate before defaults so that messages can tell derived values from
	// written ones; Validate accounts for the defaults itself.
	problems := Validate(cfg, opts.Kinds)
	if opts.ResolveSecrets {
		problems = append(problems, CheckSecrets(cfg, opts.env())...)
	}
	if len(problems) > 0 {
		w.pos.locate(problems)
		slices.SortStableFunc(problems, func(a, b Problem) int { return a.Line - b.Line })
		return nil, &ValidationError{Problems: problems}
	}
	ApplyDefaults(cfg)
	return cfg, nil
}

// toJSON walks a YAML document against md and returns the protojson input and
// the walker (for its position index), or a *ValidationError.
func toJSON(data []byte, md protoreflect.MessageDescriptor) ([]byte, *walker, error) {
	root, err := decodeYAML(data)
	if err != nil {
		p := yamlProblem(err)
		p.Line = refineLine(data, p)
		return nil, nil, &ValidationError{Problems: []Problem{p}}
	}
	w := newWalker()
	w.pos[""] = position{1, 1}
	var tree any = map[string]any{}
	if root != nil {
		w.pos[""] = position{root.Line, root.Column}
		if v, ok := w.root(md, root); ok && v != nil {
			tree = v
		}
	}
	if len(w.problems) > 0 {
		return nil, nil, &ValidationError{Problems: w.problems}
	}
	js, err := json.Marshal(tree)
	if err != nil {
		return nil, nil, &ValidationError{Problems: []Problem{{Message: "internal error encoding config: " + err.Error()}}}
	}
	return js, w, nil
}

// decodeYAML parses exactly one YAML document into a node tree. It returns a
// nil node for an empty document. The parser is third-party code fed untrusted
// bytes, so a panic inside it is turned into an error.
func decodeYAML(data []byte) (root *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("yaml: cannot parse document: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		return nil, &yaml.ParserError{Message: "the file holds more than one YAML document (\"---\"); put the whole config in one", Line: extra.Line}
	case !errors.Is(err, io.EOF):
		return nil, err
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, nil
		}
		return doc.Content[0], nil
	}
	return &doc, nil
}

// yamlProblem turns a YAML syntax error into a Problem with its line.
func yamlProblem(err error) Problem {
	if pe, ok := errors.AsType[*yaml.ParserError](err); ok {
		return Problem{Message: "invalid YAML: " + pe.Message, Line: pe.Line}
	}
	if ue, ok := errors.AsType[*yaml.UnmarshalError](err); ok {
		return Problem{Message: "invalid YAML: " + ue.Err.Error(), Line: ue.Line, Column: ue.Column}
	}
	return Problem{Message: "invalid YAML: " + err.Error()}
}

// refineLine's work is quadratic in the document size; these bound it (a
// config file of a thousand lines stays well inside).
const (
	maxRefineLines = 2000
	maxRefineWork  = 8 << 20 // bytes parsed in total
)

// refineLine improves the line of a YAML syntax error. The parser reports where
// the enclosing block started ("while parsing a block mapping" at line 1), not
// the offending line; the first prefix of the document that fails with the
// same message ends at the offending line. Prefixes failing differently (cut
// inside a multi-line string, say) are skipped, and the parser's line is kept
// when nothing matches.
func refineLine(data []byte, p Problem) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > maxRefineLines {
		return p.Line
	}
	end, work := 0, 0
	for i, l := range lines {
		end += len(l)
		if i+1 < p.Line {
			continue
		}
		if work += end; work > maxRefineWork {
			break
		}
		if _, err := decodeYAML(data[:end]); err != nil && yamlProblem(err).Message == p.Message {
			return i + 1
		}
	}
	return p.Line
}

// errTooLarge reports a file above its size limit.
var errTooLarge = errors.New("file too large")

// readFileLimit reads a file of at most limit bytes.
func readFileLimit(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	// A read-only file: Close cannot lose data, so its error is irrelevant.
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes: %w", path, limit, errTooLarge)
	}
	return data, nil
}
