package bedrock

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
)

var update = flag.Bool("update", false, "rewrite golden .want.json files")

type requestFixture struct {
	Target  provider.Target   `json:"target"`
	Request canonical.Request `json:"request"`
}

// golden compares got with dir/name.want.json (or writes it with -update).
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		var v any
		require.NoError(t, json.Unmarshal(got, &v))
		pretty, err := json.MarshalIndent(v, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, append(pretty, '\n'), 0o644))
	}
	require.JSONEq(t, string(readFile(t, path)), string(got))
}

func runRequestGoldens(t *testing.T, dir string, b provider.Backend) {
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	require.NoError(t, err)
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".want.json") {
			continue
		}
		n++
		t.Run(filepath.Base(f), func(t *testing.T) {
			var fx requestFixture
			require.NoError(t, json.Unmarshal(readFile(t, f), &fx))
			up, err := b.BuildChatRequest(context.Background(), &fx.Request, fx.Target)
			require.NoError(t, err)
			require.Equal(t, "POST", up.Method)
			require.Equal(t, "application/json", up.Header.Get("Content-Type"))
			require.True(t, strings.HasPrefix(up.Path, "/prefix/model/"+escapeLabel(fx.Target.Model)+"/"), up.Path)
			golden(t, strings.TrimSuffix(f, ".json")+".want.json", up.Body)
		})
	}
	require.NotZero(t, n)
}

func TestConverseRequestGolden(t *testing.T) {
	runRequestGoldens(t, "converse_request", NewConverseBackend("/prefix"))
}

func TestAnthropicRequestGolden(t *testing.T) {
	runRequestGoldens(t, "anthropic_request", NewAnthropicBackend("/prefix", 0))
}

// runResponseGoldens decodes each *.body.json with decode and compares the
// canonical response (as JSON) with *.want.json.
func runResponseGoldens(t *testing.T, dir string, decode func([]byte) (*canonical.Response, error)) {
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.body.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			resp, err := decode(readFile(t, f))
			require.NoError(t, err)
			golden(t, strings.TrimSuffix(f, ".body.json")+".want.json", []byte(toJSON(t, resp)))
		})
	}
}

func TestConverseResponseGolden(t *testing.T) {
	runResponseGoldens(t, "converse_response", NewConverseBackend("").DecodeChatResponse)
}

func TestAnthropicResponseGolden(t *testing.T) {
	runResponseGoldens(t, "anthropic_response", NewAnthropicBackend("", 0).DecodeChatResponse)
}
