package deploytest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	sigsyaml "sigs.k8s.io/yaml"
)

// object is one manifest in generic form, with where it came from.
type object struct {
	doc map[string]any
	src string
}

func (o object) kind() string       { s, _ := o.doc["kind"].(string); return s }
func (o object) apiVersion() string { s, _ := o.doc["apiVersion"].(string); return s }
func (o object) meta() map[string]any {
	m, _ := o.doc["metadata"].(map[string]any)
	return m
}
func (o object) name() string      { s, _ := o.meta()["name"].(string); return s }
func (o object) namespace() string { s, _ := o.meta()["namespace"].(string); return s }
func (o object) id() string        { return o.kind() + "/" + o.name() }

// json returns the object as JSON (for strict decoding into typed structs).
func (o object) json() []byte {
	b, _ := json.Marshal(o.doc)
	return b
}

// parseObjects reads every YAML document of data as a generic object.
func parseObjects(src string, data []byte) ([]object, error) {
	docs, err := yamlDocs(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	var out []object
	for i, d := range docs {
		var m map[string]any
		if err := sigsyaml.Unmarshal(d, &m); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", src, i+1, err)
		}
		if m["kind"] == nil || m["apiVersion"] == nil {
			return nil, fmt.Errorf("%s: document %d has no apiVersion/kind", src, i+1)
		}
		out = append(out, object{doc: m, src: src})
	}
	return out, nil
}

// kustomizeBuild builds the kustomization in dir (relative to the repo root) the way
// `kustomize build` does for the features deploy/ uses: resources (files and nested
// kustomizations), configMap and secret generators (create, replace, merge), patches
// (strategic merge, with $patch: delete, and JSON 6902 with a target), replicas,
// images and namespace. Generated names get no hash suffix here; kustomize adds one
// and rewrites the references, which changes nothing the checks look at. Every path
// must resolve and every file must parse strictly, or the build fails.
func kustomizeBuild(t *testing.T, dir string) []object {
	t.Helper()
	path := repoPath(dir, "kustomization.yaml")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var k kustomization
	require.NoError(t, strict(data, &k), "%s", path)
	require.Equal(t, "kustomize.config.k8s.io/v1beta1", k.APIVersion, path)
	require.Equal(t, "Kustomization", k.Kind, path)
	require.Empty(t, k.Components, "%s: components are not supported by this test's builder", path)

	var objs []object
	for _, r := range k.Resources {
		rp := filepath.Join(dir, r)
		st, err := os.Stat(repoPath(rp))
		require.NoError(t, err, "%s: resource %s", path, r)
		if st.IsDir() {
			objs = append(objs, kustomizeBuild(t, rp)...)
			continue
		}
		got, err := parseObjects(rp, readFile(t, rp))
		require.NoError(t, err)
		objs = append(objs, got...)
	}

	for _, g := range k.ConfigMapGenerator {
		objs = applyGenerator(t, dir, path, objs, g, "ConfigMap")
	}
	for _, g := range k.SecretGenerator {
		objs = applyGenerator(t, dir, path, objs, g, "Secret")
	}

	for i, p := range k.Patches {
		require.NotEmpty(t, p.Path, "%s: patches[%d]: inline patches are not used in deploy/", path, i)
		pdata := readFile(t, dir, p.Path)
		src := filepath.Join(dir, p.Path)
		var ops []jsonPatchOp
		if strings.HasPrefix(strings.TrimSpace(stripComments(string(pdata))), "-") {
			require.NoError(t, strict(pdata, &ops), "%s: JSON 6902 patch", src)
			require.NotNil(t, p.Target, "%s: a JSON 6902 patch needs a target", src)
			n := 0
			for j := range objs {
				if matchesTarget(objs[j], p.Target) {
					require.NoError(t, applyJSONPatch(objs[j].doc, ops), "%s on %s", src, objs[j].id())
					n++
				}
			}
			require.Positive(t, n, "%s: target %+v matches nothing", src, *p.Target)
			continue
		}
		patches, err := parseObjects(src, pdata)
		require.NoError(t, err)
		for _, pt := range patches {
			if p.Target != nil {
				require.True(t, matchesTarget(pt, p.Target), "%s: patch does not name its target", src)
			}
			idx := slices.IndexFunc(objs, func(o object) bool { return o.kind() == pt.kind() && o.name() == pt.name() })
			require.GreaterOrEqual(t, idx, 0, "%s: patch target %s not found", src, pt.id())
			if pt.doc["$patch"] == "delete" {
				objs = slices.Delete(objs, idx, idx+1)
				continue
			}
			require.NoError(t, checkPatchStrict(pt), "%s", src)
			mergeStrategic(objs[idx].doc, pt.doc)
		}
	}

	for _, r := range k.Replicas {
		n := 0
		for _, o := range objs {
			if o.kind() == "Deployment" && o.name() == r.Name {
				o.doc["spec"].(map[string]any)["replicas"] = float64(r.Count)
				n++
			}
		}
		require.Equal(t, 1, n, "%s: replicas: %s not found", path, r.Name)
	}

	for _, img := range k.Images {
		n := 0
		for _, o := range objs {
			eachContainer(o.doc, func(c map[string]any) {
				image, _ := c["image"].(string)
				if imageName(image) != img.Name {
					return
				}
				name := img.Name
				if img.NewName != "" {
					name = img.NewName
				}
				switch {
				case img.Digest != "":
					c["image"] = name + "@" + img.Digest
				case img.NewTag != "":
					c["image"] = name + ":" + img.NewTag
				default:
					c["image"] = name
				}
				n++
			})
		}
		require.Positive(t, n, "%s: images: %s is used by no container", path, img.Name)
	}

	if k.Namespace != "" {
		for _, o := range objs {
			if o.kind() != "Namespace" {
				o.meta()["namespace"] = k.Namespace
			}
		}
	}
	return objs
}

// applyGenerator applies one configMapGenerator or secretGenerator entry.
func applyGenerator(t *testing.T, dir, path string, objs []object, g kGenerator, kind string) []object {
	t.Helper()
	data := map[string]any{}
	for _, f := range g.Files {
		key, file, ok := strings.Cut(f, "=")
		if !ok {
			key, file = filepath.Base(f), f
		}
		b := readFile(t, dir, file)
		_, dup := data[key]
		require.False(t, dup, "%s: %s %s: key %s twice", path, kind, g.Name, key)
		data[key] = string(b)
	}
	for _, l := range g.Literals {
		key, value, ok := strings.Cut(l, "=")
		require.True(t, ok, "%s: %s %s: literal %q is not KEY=VALUE", path, kind, g.Name, l)
		data[key] = value
	}
	require.Empty(t, g.Envs, "%s: env files are not used in deploy/", path)
	require.NotEmpty(t, data, "%s: %s %s generates nothing", path, kind, g.Name)
	field := "data"
	if kind == "Secret" {
		field = "stringData"
	}
	idx := slices.IndexFunc(objs, func(o object) bool { return o.kind() == kind && o.name() == g.Name })
	switch g.Behavior {
	case "", "create":
		require.Less(t, idx, 0, "%s: %s %s exists already: use behavior replace or merge", path, kind, g.Name)
		meta := map[string]any{"name": g.Name}
		if g.Namespace != "" {
			meta["namespace"] = g.Namespace
		}
		doc := map[string]any{"apiVersion": "v1", "kind": kind, "metadata": meta, field: data}
		if kind == "Secret" {
			doc["type"] = "Opaque"
		}
		return append(objs, object{doc: doc, src: path})
	case "replace", "merge":
		require.GreaterOrEqual(t, idx, 0, "%s: %s %s: behavior %s but no base to %s", path, kind, g.Name, g.Behavior, g.Behavior)
		if g.Behavior == "merge" {
			old, _ := objs[idx].doc[field].(map[string]any)
			for k, v := range old {
				if _, ok := data[k]; !ok {
					data[k] = v
				}
			}
		}
		objs[idx].doc[field] = data
		return objs
	}
	require.Failf(t, "bad behavior", "%s: %s %s: behavior %q", path, kind, g.Name, g.Behavior)
	return objs
}

// stripComments drops full-line YAML comments (to see what a patch starts with).
func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func matchesTarget(o object, t *kTarget) bool {
	if t.Kind != "" && t.Kind != o.kind() || t.Name != "" && t.Name != o.name() {
		return false
	}
	if t.Namespace != "" && t.Namespace != o.namespace() {
		return false
	}
	gv := o.apiVersion()
	group, version := "", gv
	if g, v, ok := strings.Cut(gv, "/"); ok {
		group, version = g, v
	}
	return (t.Group == "" || t.Group == group) && (t.Version == "" || t.Version == version)
}

// checkPatchStrict decodes a strategic-merge patch into its Kubernetes type, so a
// misspelt field in a patch fails like one in a resource.
func checkPatchStrict(p object) error {
	_, err := decodeTyped(p)
	return err
}

// mergeKeys are the strategic-merge keys of the lists deploy/ patches.
var mergeKeys = []string{"name", "mountPath", "containerPort", "port"}

// mergeStrategic merges patch into dst: maps recursively, lists of objects by their
// merge key (name, mountPath, containerPort, port), other values replaced.
func mergeStrategic(dst, patch map[string]any) {
	for k, pv := range patch {
		if k == "$patch" {
			continue
		}
		switch p := pv.(type) {
		case map[string]any:
			d, ok := dst[k].(map[string]any)
			if !ok {
				dst[k] = p
				continue
			}
			mergeStrategic(d, p)
		case []any:
			d, ok := dst[k].([]any)
			if !ok {
				dst[k] = p
				continue
			}
			dst[k] = mergeList(d, p)
		default:
			dst[k] = pv
		}
	}
}

func mergeList(dst, patch []any) []any {
	key := ""
	if len(patch) > 0 {
		if m, ok := patch[0].(map[string]any); ok {
			for _, k := range mergeKeys {
				if _, ok := m[k]; ok {
					key = k
					break
				}
			}
		}
	}
	if key == "" {
		return patch
	}
	for _, pe := range patch {
		pm := pe.(map[string]any)
		i := slices.IndexFunc(dst, func(e any) bool {
			m, ok := e.(map[string]any)
			return ok && fmt.Sprint(m[key]) == fmt.Sprint(pm[key])
		})
		if i < 0 {
			dst = append(dst, pm)
			continue
		}
		mergeStrategic(dst[i].(map[string]any), pm)
	}
	return dst
}

// applyJSONPatch applies add, replace and remove operations (RFC 6902) to doc.
func applyJSONPatch(doc map[string]any, ops []jsonPatchOp) error {
	for _, op := range ops {
		if !strings.HasPrefix(op.Path, "/") {
			return fmt.Errorf("path %q must start with /", op.Path)
		}
		parts := strings.Split(op.Path[1:], "/")
		for i, p := range parts {
			parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
		}
		var parent any = doc
		for _, p := range parts[:len(parts)-1] {
			next, err := child(parent, p)
			if err != nil {
				return fmt.Errorf("%s: %w", op.Path, err)
			}
			parent = next
		}
		last := parts[len(parts)-1]
		if err := setChild(doc, parts[:len(parts)-1], parent, last, op); err != nil {
			return fmt.Errorf("%s %s: %w", op.Op, op.Path, err)
		}
	}
	return nil
}

func child(v any, key string) (any, error) {
	switch c := v.(type) {
	case map[string]any:
		n, ok := c[key]
		if !ok {
			return nil, fmt.Errorf("no key %q", key)
		}
		return n, nil
	case []any:
		i, err := strconv.Atoi(key)
		if err != nil || i < 0 || i >= len(c) {
			return nil, fmt.Errorf("bad index %q", key)
		}
		return c[i], nil
	}
	return nil, fmt.Errorf("cannot descend into %T at %q", v, key)
}

// setChild performs op on parent[last]; lists are replaced in their own parent since
// appending may reallocate them.
func setChild(doc map[string]any, parentPath []string, parent any, last string, op jsonPatchOp) error {
	switch c := parent.(type) {
	case map[string]any:
		switch op.Op {
		case "add", "replace":
			if _, ok := c[last]; !ok && op.Op == "replace" {
				return fmt.Errorf("no key %q", last)
			}
			c[last] = op.Value
		case "remove":
			if _, ok := c[last]; !ok {
				return fmt.Errorf("no key %q", last)
			}
			delete(c, last)
		default:
			return fmt.Errorf("unsupported op %q", op.Op)
		}
		return nil
	case []any:
		i := len(c)
		if last != "-" {
			n, err := strconv.Atoi(last)
			if err != nil || n < 0 || n > len(c) {
				return fmt.Errorf("bad index %q", last)
			}
			i = n
		}
		var out []any
		switch op.Op {
		case "add":
			out = slices.Insert(slices.Clone(c), i, op.Value)
		case "replace", "remove":
			if i >= len(c) {
				return fmt.Errorf("bad index %q", last)
			}
			out = slices.Clone(c)
			if op.Op == "replace" {
				out[i] = op.Value
			} else {
				out = slices.Delete(out, i, i+1)
			}
		default:
			return fmt.Errorf("unsupported op %q", op.Op)
		}
		// Store the new list where the old one was.
		holder, err := walk(doc, parentPath[:len(parentPath)-1])
		if err != nil {
			return err
		}
		switch h := holder.(type) {
		case map[string]any:
			h[parentPath[len(parentPath)-1]] = out
		case []any:
			idx, _ := strconv.Atoi(parentPath[len(parentPath)-1])
			h[idx] = out
		}
		return nil
	}
	return fmt.Errorf("cannot patch inside %T", parent)
}

func walk(doc any, path []string) (any, error) {
	cur := doc
	for _, p := range path {
		next, err := child(cur, p)
		if err != nil {
			return nil, err
		}
		cur = next
	}
	return cur, nil
}

// eachContainer calls f for every container and init container of a workload.
func eachContainer(doc map[string]any, f func(c map[string]any)) {
	spec := podSpecOf(doc)
	if spec == nil {
		return
	}
	for _, key := range []string{"initContainers", "containers"} {
		list, _ := spec[key].([]any)
		for _, c := range list {
			if m, ok := c.(map[string]any); ok {
				f(m)
			}
		}
	}
}

// podSpecOf returns the pod spec of a Deployment or a Pod (generic form).
func podSpecOf(doc map[string]any) map[string]any {
	switch doc["kind"] {
	case "Pod":
		s, _ := doc["spec"].(map[string]any)
		return s
	case "Deployment", "StatefulSet", "DaemonSet", "Job":
		s, _ := doc["spec"].(map[string]any)
		tpl, _ := s["template"].(map[string]any)
		ps, _ := tpl["spec"].(map[string]any)
		return ps
	}
	return nil
}

// imageName strips the tag or digest of an image reference.
func imageName(image string) string {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		image = image[:i]
	}
	if i := strings.LastIndexByte(image, ':'); i > strings.LastIndexByte(image, '/') {
		image = image[:i]
	}
	return image
}

func TestJSONPatchAndMerge(t *testing.T) {
	doc := map[string]any{"spec": map[string]any{"list": []any{"a"}, "m": map[string]any{"k": "v"}}}
	require.NoError(t, applyJSONPatch(doc, []jsonPatchOp{
		{Op: "add", Path: "/spec/list/-", Value: "b"},
		{Op: "add", Path: "/spec/list/0", Value: "z"},
		{Op: "replace", Path: "/spec/m/k", Value: "w"},
		{Op: "add", Path: "/spec/m/a~1b", Value: 1},
		{Op: "remove", Path: "/spec/list/1"},
	}))
	require.Equal(t, []any{"z", "b"}, doc["spec"].(map[string]any)["list"])
	require.Equal(t, map[string]any{"k": "w", "a/b": 1}, doc["spec"].(map[string]any)["m"])
	for _, bad := range []jsonPatchOp{
		{Op: "replace", Path: "/spec/m/none", Value: 1},
		{Op: "remove", Path: "/spec/none"},
		{Op: "add", Path: "spec", Value: 1},
		{Op: "move", Path: "/spec/m/k"},
		{Op: "add", Path: "/spec/list/9", Value: 1},
		{Op: "add", Path: "/nope/x", Value: 1},
	} {
		require.Error(t, applyJSONPatch(doc, []jsonPatchOp{bad}), "%+v", bad)
	}

	dst := map[string]any{"containers": []any{
		map[string]any{"name": "a", "image": "x", "env": []any{map[string]any{"name": "A", "value": "1"}}},
	}, "keep": "yes"}
	mergeStrategic(dst, map[string]any{"containers": []any{
		map[string]any{"name": "a", "env": []any{map[string]any{"name": "B", "value": "2"}}},
		map[string]any{"name": "b", "image": "y"},
	}, "args": []any{"--x"}})
	cs := dst["containers"].([]any)
	require.Len(t, cs, 2)
	require.Equal(t, "x", cs[0].(map[string]any)["image"])
	require.Len(t, cs[0].(map[string]any)["env"], 2)
	require.Equal(t, []any{"--x"}, dst["args"])
	require.Equal(t, "yes", dst["keep"])

	require.Equal(t, "ghcr.io/a/b", imageName("ghcr.io/a/b:v1"))
	require.Equal(t, "localhost:5000/a", imageName("localhost:5000/a"))
	require.Equal(t, "a/b", imageName("a/b@sha256:00"))
}
