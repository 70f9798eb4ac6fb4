package jsonscan

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{"q\"b\\s", `"q\"b\\s"`},
		{"nl\nr\rt\t", `"nl\nr\rt\t"`},
		{"\x01", `"\u0001"`},
		{"<&>", `"<&>"`},
		{"bad\xffutf8", `"bad\ufffdutf8"`},
		{"ls\u2028ps\u2029", `"ls\u2028ps\u2029"`},
		{"é✓", `"é✓"`},
	}
	for _, tc := range tests {
		got := AppendString(nil, tc.in)
		require.Equal(t, tc.want, string(got), tc.in)
		var back string
		require.NoError(t, json.Unmarshal(got, &back))
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\xff", "\u2028", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString(nil, s)
		var back string
		require.NoError(t, json.Unmarshal(out, &back))
		want, _ := json.Marshal(s) // encoding/json escapes <>& — compare decoded values
		var ref string
		require.NoError(t, json.Unmarshal(want, &ref))
		require.Equal(t, ref, back)
	})
}
