package deploytest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// metricNameRe finds the llm-router and GenAI series names in PromQL.
var metricNameRe = regexp.MustCompile(`\b(?:llm_router|gen_ai)_[a-z0-9_]+\b`)

var (
	sourceOnce sync.Once
	sourceText string
)

// goSources returns the text of every non-test Go file under pkg/ and cmd/.
func goSources(t tester) string {
	t.Helper()
	sourceOnce.Do(func() {
		var b strings.Builder
		for _, dir := range []string{"pkg", "cmd"} {
			_ = filepath.WalkDir(repoPath(dir), func(path string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
					return err
				}
				data, err := os.ReadFile(path)
				if err == nil {
					b.Write(data)
				}
				return nil
			})
		}
		sourceText = b.String()
	})
	require.NotEmpty(t, sourceText)
	return sourceText
}

// checkMetricDefined fails unless the metric (or the histogram it is a series of) is
// defined in the Go sources as a string literal: the place a collector names it.
func checkMetricDefined(t tester, name, where string) {
	t.Helper()
	assertTrue(t, metricDefined(goSources(t), name), "%s: metric %s is not defined by any collector in pkg/ or cmd/", where, name)
}

// metricDefined reports whether src names the metric (for histogram series, the
// histogram) as a Go string literal.
func metricDefined(src, name string) bool {
	base := name
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base = strings.TrimSuffix(base, suffix)
	}
	return strings.Contains(src, `"`+name+`"`) || strings.Contains(src, `"`+base+`"`)
}

// checkRuleGroups checks alerting rules: names, severities, runbooks, and that every
// llm-router series an expression uses exists.
func checkRuleGroups(t tester, where string, rg ruleGroups) {
	t.Helper()
	require.NotEmpty(t, rg.Groups, where)
	alerts := map[string]bool{}
	for _, g := range rg.Groups {
		require.NotEmpty(t, g.Rules, "%s: group %s", where, g.Name)
		for _, r := range g.Rules {
			w := where + ": " + r.Alert
			assertTrue(t, r.Alert != "" && r.Expr != "", "%s: every rule is an alert with an expression", w)
			assertTrue(t, !alerts[r.Alert], "%s: alert defined twice", w)
			alerts[r.Alert] = true
			assertTrue(t, map[string]bool{"critical": true, "warning": true, "info": true}[r.Labels["severity"]], "%s: severity critical, warning or info", w)
			assertTrue(t, r.Annotations["summary"] != "" && r.Annotations["description"] != "", "%s: summary and description", w)
			anchor, ok := strings.CutPrefix(r.Annotations["runbook"], "docs/operations.md#")
			if assertTrue(t, ok, "%s: runbook must point into docs/operations.md", w) {
				assertTrue(t, anchor == strings.ToLower(r.Alert), "%s: runbook anchor %q, want %q", w, anchor, strings.ToLower(r.Alert))
				assertTrue(t, strings.Contains(string(readFile(t, "docs", "operations.md")), "### "+r.Alert+"\n"),
					"%s: docs/operations.md has no section \"### %s\"", w, r.Alert)
			}
			for _, m := range metricNameRe.FindAllString(r.Expr, -1) {
				checkMetricDefined(t, m, w)
			}
		}
	}
}

func TestAlertRules(t *testing.T) {
	var compose ruleGroups
	data := readFile(t, "deploy", "compose", "prometheus", "alerts.yaml")
	require.NoError(t, strict(data, &compose))
	checkRuleGroups(t, "deploy/compose/prometheus/alerts.yaml", compose)
	// The chart ships the same rules.
	require.Equal(t, string(data), string(readFile(t, "deploy", "helm", "llm-router", "files", "alerts.yaml")),
		"deploy/helm/llm-router/files/alerts.yaml must be a copy of deploy/compose/prometheus/alerts.yaml")
}

func TestMetricDefined(t *testing.T) {
	src := goSources(t)
	require.False(t, metricDefined(src, "llm_router_no_such_metric_total"))
	require.True(t, metricDefined(src, "llm_router_extproc_streams_active"))
	require.True(t, metricDefined(src, "llm_router_processing_seconds_bucket"))
	require.True(t, metricDefined(src, "gen_ai_server_time_to_first_token_seconds_count"))
}
