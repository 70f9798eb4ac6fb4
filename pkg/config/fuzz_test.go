package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
)

// FuzzParse checks that Parse never panics, that every failure is a
// *ValidationError, that the schema walk catches everything protojson would
// reject (no "internal error"), and that an accepted config survives a
// round trip through its JSON form with the same hash.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/schema", "testdata/validate", "testdata/valid", "../../examples"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, Options{Kinds: testKinds})
		if err != nil {
			verr, ok := errors.AsType[*ValidationError](err)
			if !ok {
				t.Fatalf("error is %T, not *ValidationError: %v", err, err)
			}
			if len(verr.Problems) == 0 {
				t.Fatal("ValidationError without problems")
			}
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("walker accepted what protojson rejects: %v", err)
			}
			return
		}
		js, err := protojson.Marshal(cfg)
		if err != nil {
			t.Fatalf("marshal accepted config: %v", err)
		}
		again, err := Parse(js, Options{Kinds: testKinds})
		if err != nil {
			t.Fatalf("round trip of %s failed: %v", js, err)
		}
		if Hash(cfg) != Hash(again) {
			t.Fatalf("round trip changed the config:\n%s\n%s", js, LogObject(again))
		}
	})
}

// FuzzResolveSecret checks the reference parser: no panics, syntax checking
// agrees with resolution, and errors never echo the input.
func FuzzResolveSecret(f *testing.F) {
	for _, s := range []string{"${A}", "Bearer ${TOKEN}", "$${A}", "${", "${}", "${1}", "sk-${A", "file:", "literal", "$", "${A}${B}x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		if strings.HasPrefix(ref, filePrefix) {
			return // touches the file system
		}
		env := func(string) string { return "value" }
		got, err := ResolveSecret(ref, env)
		if (err == nil) != (checkReference(ref) == nil) {
			t.Fatalf("resolve error %v but syntax check %v", err, checkReference(ref))
		}
		if err != nil {
			if len(ref) > 3 && strings.Contains(err.Error(), ref) {
				t.Fatalf("error echoes the input: %v", err)
			}
			return
		}
		if !strings.Contains(ref, "$") && got != ref {
			t.Fatalf("literal changed: %q → %q", ref, got)
		}
	})
}
