package deploytest

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/envoyconfig"
)

// A model of the Compose specification (compose-spec.io) for the fields deploy/compose
// uses, decoded strictly: a misspelt key fails. Short and long syntaxes are accepted
// where the specification allows both and the file uses them.

type composeFile struct {
	Name     string                     `json:"name,omitempty"`
	Services map[string]*composeService `json:"services"`
	Volumes  map[string]*struct {
		Driver   string            `json:"driver,omitempty"`
		External bool              `json:"external,omitempty"`
		Labels   map[string]string `json:"labels,omitempty"`
	} `json:"volumes,omitempty"`
	Networks map[string]*struct {
		Driver   string `json:"driver,omitempty"`
		Internal bool   `json:"internal,omitempty"`
	} `json:"networks,omitempty"`
}

type composeService struct {
	Image string `json:"image,omitempty"`
	Build *struct {
		Context    string            `json:"context"`
		Dockerfile string            `json:"dockerfile,omitempty"`
		Args       map[string]string `json:"args,omitempty"`
		Target     string            `json:"target,omitempty"`
	} `json:"build,omitempty"`
	Command     []string          `json:"command,omitempty"`
	Entrypoint  []string          `json:"entrypoint,omitempty"`
	Environment map[string]string `json:"environment,omitempty"`
	EnvFile     []string          `json:"env_file,omitempty"`
	User        string            `json:"user,omitempty"`
	Volumes     []string          `json:"volumes,omitempty"`
	Tmpfs       []string          `json:"tmpfs,omitempty"`
	Ports       []string          `json:"ports,omitempty"`
	Expose      []string          `json:"expose,omitempty"`
	ReadOnly    bool              `json:"read_only,omitempty"`
	SecurityOpt []string          `json:"security_opt,omitempty"`
	CapDrop     []string          `json:"cap_drop,omitempty"`
	CapAdd      []string          `json:"cap_add,omitempty"`
	DependsOn   dependsOn         `json:"depends_on,omitempty"`
	Restart     string            `json:"restart,omitempty"`
	NetworkMode string            `json:"network_mode,omitempty"`
	Networks    []string          `json:"networks,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Healthcheck *struct {
		Test        []string `json:"test,omitempty"`
		Interval    string   `json:"interval,omitempty"`
		Timeout     string   `json:"timeout,omitempty"`
		Retries     int      `json:"retries,omitempty"`
		StartPeriod string   `json:"start_period,omitempty"`
		Disable     bool     `json:"disable,omitempty"`
	} `json:"healthcheck,omitempty"`
}

// dependsOn accepts the short (list) and long (map with conditions) syntax.
type dependsOn map[string]struct {
	Condition string `json:"condition,omitempty"`
	Restart   bool   `json:"restart,omitempty"`
	Required  *bool  `json:"required,omitempty"`
}

// UnmarshalJSON implements json.Unmarshaler for both syntaxes.
func (d *dependsOn) UnmarshalJSON(b []byte) error {
	var list []string
	if json.Unmarshal(b, &list) == nil {
		*d = dependsOn{}
		for _, s := range list {
			(*d)[s] = struct {
				Condition string `json:"condition,omitempty"`
				Restart   bool   `json:"restart,omitempty"`
				Required  *bool  `json:"required,omitempty"`
			}{Condition: "service_started"}
		}
		return nil
	}
	type long dependsOn
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var m long
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("depends_on: %w", err)
	}
	*d = dependsOn(m)
	return nil
}

const composeDir = "deploy/compose"

func loadCompose(t *testing.T) *composeFile {
	t.Helper()
	var c composeFile
	require.NoError(t, strict(readFile(t, composeDir, "compose.yaml"), &c))
	return &c
}

// interpolationRe finds ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err} and
// ${VAR?err}; "$$" escapes a dollar and is removed first.
var interpolationRe = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(?::?[-?+])[^}]*)?\}`)

func envExampleVars(t *testing.T) map[string]string {
	t.Helper()
	vars := map[string]string{}
	for i, line := range strings.Split(string(readFile(t, composeDir, ".env.example")), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, ".env.example:%d: not KEY=VALUE", i+1)
		_, dup := vars[k]
		require.False(t, dup, ".env.example:%d: %s twice", i+1, k)
		vars[k] = v
	}
	return vars
}

func TestComposeEnvExampleListsEveryVariable(t *testing.T) {
	raw := strings.ReplaceAll(string(readFile(t, composeDir, "compose.yaml")), "$$", "")
	used := map[string]bool{}
	for _, m := range interpolationRe.FindAllStringSubmatch(raw, -1) {
		used[m[1]] = true
	}
	require.NotEmpty(t, used)
	example := envExampleVars(t)
	for v := range used {
		_, ok := example[v]
		require.True(t, ok, "compose.yaml reads ${%s}, which .env.example does not list", v)
	}
	for v := range example {
		require.True(t, used[v], ".env.example lists %s, which compose.yaml never reads", v)
	}
	// Every ${VAR} of the llm-router config is passed to the llm-router service.
	c := loadCompose(t)
	cfgRefs := secretRefRe.FindAllStringSubmatch(string(readFile(t, composeDir, "llm-router.yaml")), -1)
	require.NotEmpty(t, cfgRefs)
	for _, m := range cfgRefs {
		_, ok := c.Services["llm-router"].Environment[m[1]]
		require.True(t, ok, "llm-router.yaml references ${%s}, which the llm-router service does not get", m[1])
	}
}

func TestComposeServices(t *testing.T) {
	c := loadCompose(t)
	for _, want := range []string{"llm-router", "envoy", "mock-llm", "postgres", "redis", "prometheus", "grafana"} {
		require.Contains(t, c.Services, want)
	}
	dockerfile := string(readFile(t, "Dockerfile"))
	for name, s := range c.Services {
		// Images: pinned, or built here.
		switch {
		case s.Build != nil:
			require.DirExists(t, filepath.Join(repoPath(composeDir), s.Build.Context), name)
			require.FileExists(t, filepath.Join(repoPath(composeDir), s.Build.Context, s.Build.Dockerfile), name)
		default:
			tag := s.Image[strings.LastIndexByte(s.Image, ':')+1:]
			require.True(t, strings.Contains(s.Image, ":") && tag != "latest", "%s: image %q must be pinned", name, s.Image)
		}
		// Bind mounts exist; named volumes are declared.
		for _, v := range s.Volumes {
			src, _, ok := strings.Cut(v, ":")
			require.True(t, ok, "%s: volume %q", name, v)
			if strings.HasPrefix(src, ".") {
				_, err := os.Stat(filepath.Join(repoPath(composeDir), src))
				require.NoError(t, err, "%s: bind mount source %s", name, src)
			} else {
				require.Contains(t, c.Volumes, src, "%s: volume %s is not declared", name, src)
			}
		}
		// Published ports stay on loopback.
		for _, p := range s.Ports {
			require.True(t, strings.HasPrefix(p, "127.0.0.1:"), "%s: port %s must bind 127.0.0.1", name, p)
		}
		for dep, d := range s.DependsOn {
			target, ok := c.Services[dep]
			require.True(t, ok, "%s depends on unknown service %s", name, dep)
			require.Contains(t, []string{"service_started", "service_healthy", "service_completed_successfully"}, d.Condition)
			if d.Condition == "service_healthy" {
				built := target.Build != nil && strings.Contains(dockerfile, "HEALTHCHECK")
				require.True(t, target.Healthcheck != nil || built, "%s waits for %s to be healthy, which has no healthcheck", name, dep)
			}
		}
	}
	envoy := c.Services["envoy"]
	require.True(t, strings.HasPrefix(envoy.Image, "envoyproxy/envoy:v1."), envoy.Image)
	minor, err := strconv.Atoi(strings.Split(strings.TrimPrefix(envoy.Image, "envoyproxy/envoy:v1."), ".")[0])
	require.NoError(t, err)
	require.GreaterOrEqual(t, minor, 36, "Envoy 1.36 or later")
	require.Equal(t, "65532:65532", envoy.User, "Envoy runs as llm-router's uid to use its socket")
}

// TestComposeSidecarWiring checks that Envoy and llm-router meet on the socket and
// that Prometheus and Grafana point at what the stack serves.
func TestComposeSidecarWiring(t *testing.T) {
	c := loadCompose(t)
	cfg := loadConfig(t, composeDir, "llm-router.yaml")
	sock, ok := strings.CutPrefix(cfg.GetServer().GetExtprocAddress(), "unix://")
	require.True(t, ok)
	mountOf := func(s *composeService, target string) string {
		for _, v := range s.Volumes {
			parts := strings.Split(v, ":")
			if len(parts) >= 2 && parts[1] == target {
				return parts[0]
			}
		}
		return ""
	}
	dir := filepath.Dir(sock)
	require.NotEmpty(t, mountOf(c.Services["llm-router"], dir))
	require.Equal(t, mountOf(c.Services["llm-router"], dir), mountOf(c.Services["envoy"], dir), "one volume holds the socket")
	require.Equal(t, "./llm-router.yaml", mountOf(c.Services["llm-router"], "/etc/llm-router/config.yaml"))
	require.Equal(t, []string{"--config", "/etc/llm-router/config.yaml"}, c.Services["llm-router"].Command)
	require.Equal(t, "./envoy.yaml", mountOf(c.Services["envoy"], "/etc/envoy/envoy.yaml"))
	envoyYAML := readFile(t, composeDir, "envoy.yaml")
	require.Empty(t, envoyconfig.Validate(envoyYAML, cfg))
	b, problems := envoyconfig.ParseBootstrap(envoyYAML, cfg)
	require.Empty(t, problems)
	listeners := map[string]uint32{}
	for _, l := range b.GetStaticResources().GetListeners() {
		listeners[l.GetName()] = l.GetAddress().GetSocketAddress().GetPortValue()
	}
	require.Contains(t, c.Services["envoy"].Ports[0], fmt.Sprintf(":%d", listeners[envoyconfig.ListenerName]))

	var prom promConfig
	require.NoError(t, strict(readFile(t, composeDir, "prometheus", "prometheus.yml"), &prom))
	_, adminPort, err := net.SplitHostPort(cfg.GetServer().GetAdminAddress())
	require.NoError(t, err)
	targets := map[string]string{}
	for _, sc := range prom.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, tg := range st.Targets {
				targets[sc.JobName] = tg
			}
		}
		for _, st := range sc.StaticConfigs {
			for _, tg := range st.Targets {
				host, _, err := net.SplitHostPort(tg)
				require.NoError(t, err)
				_, ok := c.Services[host]
				require.True(t, ok || host == "localhost", "scrape target %s is not a service", tg)
			}
		}
	}
	require.Equal(t, "llm-router:"+adminPort, targets["llm-router"])
	require.Equal(t, fmt.Sprintf("envoy:%d", listeners[statsListenerName]), targets["envoy"])
	for _, sc := range prom.ScrapeConfigs {
		if sc.JobName == "envoy" {
			require.Equal(t, "/stats/prometheus", sc.MetricsPath)
		}
	}
	for _, rf := range prom.RuleFiles {
		require.NotEmpty(t, mountOf(c.Services["prometheus"], rf), "rule file %s is not mounted", rf)
	}

	var ds grafanaDatasources
	require.NoError(t, strict(readFile(t, composeDir, "grafana", "provisioning", "datasources", "prometheus.yaml"), &ds))
	require.Equal(t, "http://prometheus:9090", ds.Datasources[0].URL)
	var dash grafanaDashboards
	require.NoError(t, strict(readFile(t, composeDir, "grafana", "provisioning", "dashboards", "llm-router.yaml"), &dash))
	mounted := mountOf(c.Services["grafana"], filepath.Join(dash.Providers[0].Options.Path, "llm-router.json"))
	require.Equal(t, "../grafana/llm-router.json", mounted, "the dashboard of deploy/grafana is provisioned")
	var js map[string]any
	require.NoError(t, json.Unmarshal(readFile(t, "deploy", "grafana", "llm-router.json"), &js))
}

func TestComposeModelIsStrict(t *testing.T) {
	var c composeFile
	require.Error(t, strict([]byte("services:\n  a:\n    image: x:1\n    read-only: true\n"), &c))
	require.Error(t, strict([]byte("services:\n  a:\n    depends_on:\n      b: {condtion: service_healthy}\n"), &c))
	require.NoError(t, strict([]byte("services:\n  a:\n    depends_on: [b]\n"), &c))
	require.Equal(t, "service_started", c.Services["a"].DependsOn["b"].Condition)
}
