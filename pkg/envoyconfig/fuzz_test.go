package envoyconfig

import (
	"testing"
)

// FuzzValidate feeds arbitrary documents to Validate: it must never panic, and a
// bootstrap it accepts must render back to YAML that it accepts again.
func FuzzValidate(f *testing.F) {
	f.Add([]byte(minimalBootstrap))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps := Validate(data, nil)
		for _, p := range ps {
			if p.Message == "" {
				t.Fatalf("problem without message at %q", p.Path)
			}
		}
		b, ps := ParseBootstrap(data, nil)
		if len(ps) > 0 || b == nil {
			return
		}
		out, err := RenderYAML(b)
		if err != nil {
			t.Fatalf("render accepted bootstrap: %v", err)
		}
		if ps := Validate(out, nil); len(ps) > 0 {
			t.Fatalf("re-rendered bootstrap has problems: %v\n%s", ps, out)
		}
	})
}
