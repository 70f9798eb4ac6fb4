package provider

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	r.Register("good", func(s Settings) (*Adapter, error) {
		if s.BaseURL == "" {
			s.BaseURL = "https://default.example"
		}
		return &Adapter{Settings: s}, nil
	})
	r.Register("bad", func(Settings) (*Adapter, error) { return nil, errors.New("no key") })
	require.Equal(t, []string{"bad", "good"}, r.Kinds())
	require.True(t, r.Has("good"))
	require.False(t, r.Has("nope"))
	require.Panics(t, func() { r.Register("good", nil) }, "duplicate kinds are a programming error")

	a, err := r.Build(Settings{Name: "p", Kind: "good"})
	require.NoError(t, err)
	require.Equal(t, "https://default.example", a.Settings.BaseURL)
	_, err = r.Build(Settings{Name: "p", Kind: "nope"})
	require.ErrorContains(t, err, `unknown provider kind "nope"`)
	_, err = r.Build(Settings{Name: "p", Kind: "bad"})
	require.ErrorContains(t, err, `provider "p" (bad): no key`)

	require.Equal(t, "https://default.example", r.DefaultBaseURL("good"))
	require.Empty(t, r.DefaultBaseURL("bad"))
	require.Empty(t, r.DefaultBaseURL("nope"))
}
