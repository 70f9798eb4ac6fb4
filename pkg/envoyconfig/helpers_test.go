package envoyconfig

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// parseConfig reads an llm-router config YAML strictly (unknown fields are errors),
// without the config loader: this package only depends on the generated types.
func parseConfig(data []byte) (*configv1.Config, error) {
	docs, err := parseYAMLDocs(data)
	if err != nil {
		return nil, err
	}
	cfg := &configv1.Config{}
	if len(docs) == 0 {
		return cfg, nil
	}
	js, err := nodeJSON(docs[0])
	if err != nil {
		return nil, err
	}
	return cfg, protojson.Unmarshal(js, cfg)
}

func loadConfig(t testing.TB, path string) *configv1.Config {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	cfg, err := parseConfig(data)
	require.NoError(t, err, path)
	return cfg
}
