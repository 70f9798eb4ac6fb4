package deploytest

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v4"
)

// workflow is the part of the GitHub Actions workflow syntax the files use.
type workflow struct {
	Name        string            `json:"name"`
	On          map[string]any    `json:"on"`
	Permissions map[string]string `json:"permissions,omitempty"`
	Concurrency *struct {
		Group            string `json:"group"`
		CancelInProgress bool   `json:"cancel-in-progress,omitempty"`
	} `json:"concurrency,omitempty"`
	Env  map[string]string `json:"env,omitempty"`
	Jobs map[string]*struct {
		Name           string            `json:"name,omitempty"`
		RunsOn         string            `json:"runs-on"`
		Needs          any               `json:"needs,omitempty"`
		If             string            `json:"if,omitempty"`
		TimeoutMinutes int               `json:"timeout-minutes,omitempty"`
		Permissions    map[string]string `json:"permissions,omitempty"`
		Env            map[string]string `json:"env,omitempty"`
		Strategy       map[string]any    `json:"strategy,omitempty"`
		Steps          []struct {
			ID               string            `json:"id,omitempty"`
			Name             string            `json:"name,omitempty"`
			Uses             string            `json:"uses,omitempty"`
			With             map[string]any    `json:"with,omitempty"`
			Run              string            `json:"run,omitempty"`
			Env              map[string]string `json:"env,omitempty"`
			If               string            `json:"if,omitempty"`
			Shell            string            `json:"shell,omitempty"`
			WorkingDirectory string            `json:"working-directory,omitempty"`
		} `json:"steps"`
	} `json:"jobs"`
}

func loadWorkflow(t *testing.T, name string) *workflow {
	t.Helper()
	// YAML 1.2 (go.yaml.in/yaml/v4), as GitHub reads it: under YAML 1.1, which
	// sigs.k8s.io/yaml follows, the key "on" would be the boolean true.
	var generic map[string]any
	require.NoError(t, yaml.Unmarshal(readFile(t, ".github", "workflows", name), &generic), name)
	js, err := json.Marshal(generic)
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	var w workflow
	require.NoError(t, dec.Decode(&w), name)
	require.NotEmpty(t, w.Jobs, name)
	return &w
}

// runs collects every run script and action of a workflow.
func (w *workflow) runs() (scripts []string, actions []string, with []map[string]any) {
	for _, j := range w.Jobs {
		for _, s := range j.Steps {
			if s.Run != "" {
				scripts = append(scripts, s.Run)
			}
			if s.Uses != "" {
				actions = append(actions, s.Uses)
				with = append(with, s.With)
			}
		}
	}
	return scripts, actions, with
}

var pinnedAction = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$`)

func TestWorkflows(t *testing.T) {
	files, err := filepath.Glob(repoPath(".github", "workflows", "*.yaml"))
	require.NoError(t, err)
	require.Len(t, files, 2)
	for _, f := range files {
		w := loadWorkflow(t, filepath.Base(f))
		_, actions, _ := w.runs()
		for _, a := range actions {
			require.Regexp(t, pinnedAction, a, "%s: actions are pinned to a version or a commit", f)
		}
		for name, j := range w.Jobs {
			require.NotZero(t, j.TimeoutMinutes, "%s: job %s needs timeout-minutes", f, name)
			for _, s := range j.Steps {
				if s.Uses != "" && strings.HasPrefix(s.Uses, "actions/setup-go@") {
					require.Equal(t, "go.mod", s.With["go-version-file"], "%s: Go comes from go.mod", f)
				}
			}
		}
	}
}

// TestCIRunsTheCIScript keeps ci.yaml in step with .ci/run: the workflow runs the
// script itself, and the script still runs what the project's CI promises.
func TestCIRunsTheCIScript(t *testing.T) {
	script := string(readFile(t, ".ci", "run"))
	for _, want := range []string{"bash .ci/services.sh", "go vet ./...", "gofmt -l", "make test", "make lint"} {
		require.Contains(t, script, want, ".ci/run changed: update .github/workflows and this test together")
	}
	makefile := string(readFile(t, "Makefile"))
	require.Regexp(t, `(?m)^test:\n\t\$\(GO\) test -race`, makefile, "make test runs with the race detector")

	ci := loadWorkflow(t, "ci.yaml")
	scripts, actions, with := ci.runs()
	all := strings.Join(scripts, "\n")
	require.Contains(t, all, "bash .ci/run")
	require.Contains(t, all, "govulncheck ./...")
	require.Contains(t, all, "go run ./cmd/docgen -check")
	require.Contains(t, ci.On, "pull_request")
	built := false
	for i, a := range actions {
		if strings.HasPrefix(a, "docker/build-push-action@") {
			built = true
			require.Equal(t, "linux/amd64,linux/arm64", with[i]["platforms"])
			require.Equal(t, false, with[i]["push"], "CI builds but does not push")
		}
	}
	require.True(t, built, "ci.yaml builds the image")

	rel := loadWorkflow(t, "release.yaml")
	push, ok := rel.On["push"].(map[string]any)
	require.True(t, ok)
	require.Equal(t, []any{"v*"}, push["tags"], "releases run on version tags")
	require.NotContains(t, rel.On, "pull_request")
	scripts, actions, with = rel.runs()
	require.Contains(t, strings.Join(scripts, "\n"), "bash .ci/run", "a release passes the same gate")
	pushed := false
	for i, a := range actions {
		if strings.HasPrefix(a, "docker/build-push-action@") {
			pushed = true
			require.Equal(t, "linux/amd64,linux/arm64", with[i]["platforms"])
			require.Equal(t, true, with[i]["push"])
		}
	}
	require.True(t, pushed, "release.yaml pushes the image")
	require.Contains(t, strings.Join(actions, " "), "softprops/action-gh-release@")
	require.Contains(t, strings.Join(scripts, "\n"), "helm push")
	require.Equal(t, "read", rel.Permissions["contents"], "least privilege by default; jobs ask for more")
}

// TestDockerfile checks the image is built the way the project requires.
func TestDockerfile(t *testing.T) {
	df := string(readFile(t, "Dockerfile"))
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(readFile(t, "go.mod"))
	require.NotNil(t, m, "go.mod has a go directive")
	goVersion := string(m[1])
	require.Contains(t, df, "ARG GO_VERSION="+goVersion+"\n", "the builder's Go matches go.mod")
	for _, want := range []string{
		"FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build",
		"CGO_ENABLED=0",
		"go build -trimpath",
		"FROM gcr.io/distroless/static-debian12:nonroot",
		"USER nonroot",
		`CMD ["/llm-router", "healthcheck"]`,
		`ENTRYPOINT ["/llm-router", "serve"]`,
		"GOOS=${TARGETOS} GOARCH=${TARGETARCH}",
	} {
		require.Contains(t, df, want)
	}
	require.Regexp(t, `(?m)^HEALTHCHECK `, df)
	// Every `COPY --from` names a stage of this file.
	stages := regexp.MustCompile(`(?m)^FROM .* AS (\S+)$`).FindAllStringSubmatch(df, -1)
	names := map[string]bool{}
	for _, s := range stages {
		names[s[1]] = true
	}
	for _, m := range regexp.MustCompile(`--from=(\S+)`).FindAllStringSubmatch(df, -1) {
		require.True(t, names[m[1]], "COPY --from=%s: no such stage", m[1])
	}
	// The build context keeps what `go build` needs, embedded files included.
	ignore := strings.Fields(string(readFile(t, ".dockerignore")))
	for _, keep := range []string{"go.mod", "go.sum", "cmd/llm-router/main.go", "pkg/admin/openapi.json", "pkg/pricing/prices.yaml", "proto/llmrouter/config/v1/config.pb.go"} {
		for _, pat := range ignore {
			if strings.HasPrefix(pat, "#") {
				continue
			}
			pat = strings.TrimPrefix(pat, "**/")
			first := strings.Split(keep, "/")[0]
			m1, _ := filepath.Match(pat, keep)
			m2, _ := filepath.Match(pat, first)
			m3, _ := filepath.Match(pat, filepath.Base(keep))
			require.False(t, m1 || m2 || m3, ".dockerignore pattern %q excludes %s", pat, keep)
		}
	}
}
