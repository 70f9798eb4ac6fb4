package deploytest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v4"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/llm-router/llm-router/pkg/config"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// root is the repository root, relative to this package.
const root = "../.."

// tester is what the checks need from *testing.T, so that tests can also run them
// on a recorder and show that they fail on broken input.
type tester interface {
	Helper()
	Errorf(format string, args ...any)
	FailNow()
}

// repoPath joins parts under the repository root.
func repoPath(parts ...string) string {
	return filepath.Join(append([]string{root}, parts...)...)
}

// readFile reads a repository file.
func readFile(t tester, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(repoPath(parts...))
	require.NoError(t, err)
	return b
}

// yamlDocs splits a YAML stream into its documents, each re-encoded on its own, and
// fails on syntax errors and duplicate keys. Empty documents are skipped.
func yamlDocs(data []byte) ([][]byte, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out [][]byte
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(n.Content) == 0 || n.Content[0].Kind == yaml.ScalarNode && n.Content[0].Tag == "!!null" {
			continue
		}
		if err := noDuplicateKeys(&n); err != nil {
			return nil, err
		}
		b, err := yaml.Marshal(&n)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
}

// noDuplicateKeys fails on a mapping that has a key twice (decoding into a node does
// not check it; Kubernetes and most YAML readers silently keep one of the two).
func noDuplicateKeys(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.ScalarNode {
				if seen[k.Value] {
					return fmt.Errorf("line %d: key %q defined twice", k.Line, k.Value)
				}
				seen[k.Value] = true
			}
		}
	}
	for _, c := range n.Content {
		if err := noDuplicateKeys(c); err != nil {
			return err
		}
	}
	return nil
}

// strict decodes one YAML document into v, refusing unknown fields (through JSON, as
// kubectl and the API server do).
func strict(doc []byte, v any) error {
	return sigsyaml.UnmarshalStrict(doc, v)
}

// yamlFilesUnder lists the .yaml/.yml files below dir (relative to the repo root).
func yamlFilesUnder(t tester, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(repoPath(dir), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// Helm templates are Go templates, not YAML, until rendered.
			if d.Name() == "templates" && strings.Contains(path, string(filepath.Separator)+"helm"+string(filepath.Separator)) {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext == ".yaml" || ext == ".yml" {
			files = append(files, path)
		}
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, files, "no YAML under %s", dir)
	return files
}

// loadConfig parses an llm-router config file strictly (unknown fields and semantic
// problems are errors) and applies defaults. Provider kinds are not checked against
// the registry here; pkg/config's own tests do that.
func loadConfig(t tester, parts ...string) *configv1.Config {
	t.Helper()
	cfg, err := config.Load(repoPath(parts...), config.Options{})
	require.NoError(t, err, "config %s", filepath.Join(parts...))
	return cfg
}

// parseConfig is loadConfig for bytes.
func parseConfig(t tester, name string, data []byte) *configv1.Config {
	t.Helper()
	cfg, err := config.Parse(data, config.Options{})
	require.NoError(t, err, "config %s", name)
	return cfg
}
