package telemetry

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

// TestDashboardUsesExportedSeries checks every PromQL expression in deploy/grafana:
// each metric name must be a series Metrics exports (histograms as _bucket, _sum and
// _count) and each label in a matcher or a by/without clause must be a label of the
// metrics (le included).
func TestDashboardUsesExportedSeries(t *testing.T) {
	series, labels := exportedSeries(t)
	files, err := filepath.Glob(filepath.Join("..", "..", "deploy", "grafana", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no dashboards found")
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			require.NoError(t, err)
			var doc any
			require.NoError(t, json.Unmarshal(raw, &doc))
			exprs, varQueries := collectQueries(doc)
			require.GreaterOrEqual(t, len(exprs), 15, "the dashboard should query the metrics")
			used := map[string]bool{}
			for _, e := range exprs {
				metrics, lbls := promqlNames(e)
				require.NotEmpty(t, metrics, "no metric in %q", e)
				for _, m := range metrics {
					require.Contains(t, series, m, "metric %q in %q is not exported", m, e)
					used[m] = true
				}
				for _, l := range lbls {
					require.Contains(t, labels, l, "label %q in %q is not exported", l, e)
				}
			}
			for _, q := range varQueries {
				m := labelValuesRe.FindStringSubmatch(q)
				require.NotNil(t, m, "unsupported variable query %q", q)
				require.Contains(t, series, m[1], q)
				require.Contains(t, labels, m[2], q)
			}
			// The dashboard covers the GenAI and gateway series, not a subset.
			for _, want := range []string{
				MetricRequests, MetricProcessing + "_bucket", MetricCost, MetricUnpriced, MetricTokensEstimated,
				MetricTimeToFirstToken + "_bucket", MetricRequestDuration + "_bucket", MetricTokenUsage + "_bucket",
			} {
				require.True(t, used[want], "dashboard does not use %s", want)
			}
		})
	}
}

// exportedSeries observes one Summary of each kind (key ids on, so every label exists)
// and returns the exposed series names and label names.
func exportedSeries(t *testing.T) (map[string]bool, map[string]bool) {
	t.Helper()
	m, reg := newTestMetrics(t, MetricsOptions{KeyIDLabel: true})
	observeAll(m)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	series, labels := map[string]bool{}, map[string]bool{}
	for _, mf := range mfs {
		name := mf.GetName()
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			series[name+"_bucket"], series[name+"_sum"], series[name+"_count"] = true, true, true
			labels["le"] = true
		} else {
			series[name] = true
		}
		for _, metric := range mf.GetMetric() {
			for _, lp := range metric.GetLabel() {
				labels[lp.GetName()] = true
			}
		}
	}
	require.Len(t, mfs, 11, "every metric family has a series after the fixture")
	return series, labels
}

// collectQueries walks the dashboard JSON: "expr" strings are panel queries; templating
// variable queries (string or {"query": string}) are returned separately.
func collectQueries(doc any) (exprs, vars []string) {
	var walk func(v any, inTemplating bool)
	walk = func(v any, inTemplating bool) {
		switch x := v.(type) {
		case map[string]any:
			for k, child := range x {
				switch {
				case k == "expr":
					if s, ok := child.(string); ok {
						exprs = append(exprs, s)
					}
				case k == "query" && inTemplating:
					if s, ok := child.(string); ok && strings.Contains(s, "(") {
						vars = append(vars, s)
					}
					walk(child, true)
				default:
					walk(child, inTemplating || k == "templating")
				}
			}
		case []any:
			for _, child := range x {
				walk(child, inTemplating)
			}
		}
	}
	walk(doc, false)
	return exprs, vars
}

var (
	labelValuesRe = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$`)
	identRe       = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	grafanaVarRe  = regexp.MustCompile(`\$\{[^}]*\}|\$[a-zA-Z_][a-zA-Z0-9_]*`)
	groupingRe    = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	matcherRe     = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)`)
	promqlWords   = []string{"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless", "inf", "nan"}
)

// promqlNames is a small PromQL tokenizer: it returns the metric names and the label
// names an expression uses. Strings, durations and Grafana variables are dropped first;
// an identifier followed by "(" is a function.
func promqlNames(expr string) (metrics, labels []string) {
	s := grafanaVarRe.ReplaceAllString(expr, "5m")
	// Label names in grouping clauses, then the clauses themselves.
	for _, m := range groupingRe.FindAllStringSubmatch(s, -1) {
		for _, l := range strings.Split(m[2], ",") {
			if l = strings.TrimSpace(l); l != "" {
				labels = append(labels, l)
			}
		}
	}
	s = groupingRe.ReplaceAllString(s, " ")
	// Label matchers inside braces, then the braces.
	var b strings.Builder
	depth, quote := 0, byte(0)
	var matcher strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			switch c {
			case '\\':
				i++
			case quote:
				quote = 0
			}
			continue
		case c == '"' || c == '\'' || c == '`':
			quote = c
			continue
		case c == '{':
			depth++
			continue
		case c == '}':
			depth--
			for _, m := range matcherRe.FindAllStringSubmatch(matcher.String(), -1) {
				labels = append(labels, m[1])
			}
			matcher.Reset()
			continue
		case c == '[':
			// A range or subquery duration: skip to "]".
			for i < len(s) && s[i] != ']' {
				i++
			}
			continue
		}
		if depth > 0 {
			matcher.WriteByte(c)
			continue
		}
		b.WriteByte(c)
	}
	rest := b.String()
	for _, loc := range identRe.FindAllStringIndex(rest, -1) {
		word := rest[loc[0]:loc[1]]
		if loc[0] > 0 && (rest[loc[0]-1] >= '0' && rest[loc[0]-1] <= '9' || rest[loc[0]-1] == '.') {
			continue // part of a number such as 1e3 or 0.95
		}
		if slices.Contains(promqlWords, strings.ToLower(word)) {
			continue
		}
		if strings.HasPrefix(strings.TrimLeft(rest[loc[1]:], " \t\n"), "(") {
			continue // function call
		}
		metrics = append(metrics, word)
	}
	return metrics, labels
}

func TestPromqlNames(t *testing.T) {
	cases := []struct {
		expr            string
		metrics, labels []string
	}{
		{
			`sum by (model) (rate(llm_router_requests_total{model=~"$model",status_class=~"4xx|5xx"}[$__rate_interval]))`,
			[]string{"llm_router_requests_total"}, []string{"model", "model", "status_class"},
		},
		{
			`histogram_quantile(0.95, sum by (le, backend) (rate(x_bucket[5m]))) / on(backend) group_left y * 3600`,
			[]string{"x_bucket", "y"}, []string{"le", "backend", "backend"},
		},
		{`topk(10, a{b="}{,[x]"} offset 1h) > bool 1e3`, []string{"a"}, []string{"b"}},
		{`count_values("value", metric_a) or vector(0)`, []string{"metric_a"}, nil},
	}
	for _, c := range cases {
		m, l := promqlNames(c.expr)
		require.Equal(t, c.metrics, m, c.expr)
		require.Equal(t, c.labels, l, c.expr)
	}
}
