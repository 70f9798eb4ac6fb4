package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// Accepted values of enumerated string fields.
var (
	strategies = []string{StrategyPriority, StrategyWeighted, StrategyRoundRobin, "least_inflight", "lowest_latency", "lowest_cost"}
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"json", "console"}
)

// validator accumulates problems in document order.
type validator struct {
	problems []Problem
}

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// Validate reports what the schema cannot express: required fields, names that
// must be unique (providers; model names and aliases together; backends),
// references between sections, URLs, listen addresses, durations, static keys,
// secret reference syntax and enumerated strings. kinds are the registered
// provider kinds; when empty, kinds are not checked against a list. Validate
// works with or without ApplyDefaults (it derives default backend names
// itself) and does not resolve secrets: see CheckSecrets.
func Validate(cfg *configv1.Config, kinds []string) []Problem {
	if cfg == nil {
		return []Problem{{Message: "configuration is missing"}}
	}
	v := &validator{}
	v.server(cfg.GetServer())
	providers := v.providers(cfg.GetProviders(), kinds)
	models := v.models(cfg.GetModels(), providers, cfg.GetServer().GetUpstreamFilter())
	v.auth(cfg.GetAuth(), models)
	v.admin(cfg.GetAdmin())
	v.logging(cfg.GetLogging())
	v.cache(cfg)
	v.secretSyntax(cfg)
	return v.problems
}

func (v *validator) cache(cfg *configv1.Config) {
	switch b := cfg.GetCache().GetBackend(); b {
	case "", "memory":
	case "redis":
		if cfg.GetRedis().GetAddress() == "" {
			v.add("cache.backend", "the redis cache needs redis.address")
		}
	default:
		v.add("cache.backend", "unknown cache backend %q (want memory or redis)", b)
	}
	switch b := cfg.GetLimits().GetBackend(); b {
	case "", "memory":
	case "redis":
		if cfg.GetRedis().GetAddress() == "" {
			v.add("limits.backend", "the redis limiter needs redis.address")
		}
	default:
		v.add("limits.backend", "unknown limits backend %q (want memory or redis)", b)
	}
	if m := cfg.GetLimits().GetRedisFailMode(); m != "" && m != "open" && m != "closed" {
		v.add("limits.redis_fail_mode", "unknown fail mode %q (want open or closed)", m)
	}
	if cfg.GetAuth().GetVirtualKeys() && cfg.GetStorage().GetSqlitePath() == "" && cfg.GetStorage().GetPostgresDsn() == "" {
		v.add("auth.virtual_keys", "virtual keys need storage.sqlite_path or storage.postgres_dsn")
	}
}

func (v *validator) server(s *configv1.Server) {
	if s == nil {
		return
	}
	type listener struct {
		field, addr string
		explicit    bool
	}
	var ls []listener
	for _, a := range []struct{ field, value, def string }{
		{"extproc_address", s.GetExtprocAddress(), DefaultExtprocAddress},
		{"admin_address", s.GetAdminAddress(), DefaultAdminAddress},
		{"listen_address", s.GetListenAddress(), DefaultListenAddress},
	} {
		if a.value != "" {
			if msg := checkAddress(a.value); msg != "" {
				v.add("server."+a.field, "%s", msg)
				continue
			}
		}
		ls = append(ls, listener{a.field, orDefault(a.value, a.def), a.value != ""})
	}
	// Two listeners on one address cannot both start. Report it on the field
	// the user wrote, not on one left at its default.
	for i := range ls {
		for j := i + 1; j < len(ls); j++ {
			a, b := ls[i], ls[j]
			if a.addr != b.addr || strings.HasSuffix(a.addr, ":0") {
				continue // port 0 picks a free port each time
			}
			if !b.explicit {
				a, b = b, a
			}
			note := ""
			if !a.explicit {
				note = " (its default)"
			}
			v.add("server."+b.field, "%q is also server.%s%s", b.addr, a.field, note)
		}
	}
	v.duration("server.drain_timeout", s.GetDrainTimeout(), false)
	v.cors("server.cors", s.GetCors())
}

// orDefault returns a if it is set, else def.
func orDefault(a, def string) string {
	if a != "" {
		return a
	}
	return def
}

// checkAddress accepts "host:port" (host may be empty, an IP or a DNS name) and
// "unix:///absolute/path". It returns a message, or "" when addr is fine.
func checkAddress(addr string) string {
	if rest, ok := strings.CutPrefix(addr, "unix:"); ok {
		p, ok := strings.CutPrefix(rest, "//")
		if !ok || !strings.HasPrefix(p, "/") || len(p) < 2 {
			return fmt.Sprintf("invalid unix socket address %q (want unix:///absolute/path)", addr)
		}
		return ""
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("invalid address %q (want host:port or unix:///path)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("invalid port in %q (want 0-65535)", addr)
	}
	if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
		return fmt.Sprintf("invalid host in %q", addr)
	}
	return ""
}

// validHostname checks DNS name syntax (letters, digits, '-' and dots).
func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if c != '-' && !isAlnum(c) {
				return false
			}
		}
	}
	return true
}

// checkURL checks a provider base URL. Messages do not quote the URL, which
// could carry credentials.
func checkURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "invalid URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return "URL scheme must be http or https"
	case u.Host == "" || u.Hostname() == "":
		return "URL has no host"
	case u.User != nil:
		return "URL must not contain credentials; use api_key"
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "URL must not have a query or fragment"
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "URL has an invalid port"
		}
	}
	return ""
}

// validName reports whether s is a non-empty [A-Za-z0-9._-]+ identifier, which
// can be used verbatim in headers, cluster names and metric labels.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !validNameRune(r) {
			return false
		}
	}
	return true
}

const nameRule = "must contain only letters, digits, '.', '_' and '-'"

// duration checks an optional duration: valid, not negative, and positive if
// positive is set.
func (v *validator) duration(path string, d *durationpb.Duration, positive bool) {
	if d == nil {
		return
	}
	if err := d.CheckValid(); err != nil {
		v.add(path, "invalid duration")
		return
	}
	switch dd := d.AsDuration(); {
	case dd < 0:
		v.add(path, "must not be negative")
	case dd == 0 && positive:
		v.add(path, "must be positive (omit it for the default)")
	}
}

// providers checks providers and returns their names.
func (v *validator) providers(ps []*configv1.Provider, kinds []string) map[string]bool {
	names := map[string]bool{}
	first := map[string]int{}
	for i, p := range ps {
		path := joinIndex("providers", i)
		switch {
		case p.GetName() == "":
			v.add(path+".name", "is required")
		case !validName(p.GetName()):
			v.add(path+".name", "%q %s", p.GetName(), nameRule)
		default:
			if j, dup := first[p.GetName()]; dup {
				v.add(path+".name", "duplicate provider name %q (first defined at providers[%d])", p.GetName(), j)
			} else {
				first[p.GetName()] = i
			}
		}
		if p.GetName() != "" {
			names[p.GetName()] = true
		}
		kind := p.GetKind()
		switch {
		case kind == "":
			v.add(path+".kind", "is required")
		case len(kinds) > 0 && !slices.Contains(kinds, kind):
			sorted := slices.Sorted(slices.Values(kinds))
			v.add(path+".kind", "unknown provider kind %q (known: %s)", kind, strings.Join(sorted, ", "))
		}
		if p.GetBaseUrl() != "" {
			if msg := checkURL(p.GetBaseUrl()); msg != "" {
				v.add(path+".base_url", "%s", msg)
			}
		}
		v.headers(path+".headers", p.GetHeaders())
		v.timeouts(path+".timeouts", p.GetTimeouts())
		v.kindSettings(path, p)
	}
	return names
}

func (v *validator) headers(path string, h map[string]string) {
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range h {
			if !yield(k) {
				return
			}
		}
	}) {
		hpath := joinKey(path, name)
		switch {
		case strings.HasPrefix(name, ":"):
			v.add(hpath, "pseudo-headers cannot be set")
		case !validHeaderName(name):
			v.add(hpath, "invalid header name")
		case strings.ContainsAny(h[name], "\r\n\x00"):
			v.add(hpath, "header value must not contain line breaks or NUL")
		}
	}
}

// validHeaderName checks the RFC 9110 token syntax.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

func (v *validator) timeouts(path string, t *configv1.Timeouts) {
	if t == nil {
		return
	}
	v.duration(path+".connect", t.GetConnect(), true)
	v.duration(path+".first_byte", t.GetFirstByte(), true)
	v.duration(path+".total", t.GetTotal(), true)
	v.duration(path+".stream_idle", t.GetStreamIdle(), true)
	if fb, total := t.GetFirstByte(), t.GetTotal(); fb != nil && total != nil && total.AsDuration() > 0 && fb.AsDuration() > total.AsDuration() {
		v.add(path+".first_byte", "is longer than timeouts.total")
	}
}

// kindSettings checks the fields some kinds cannot work without.
func (v *validator) kindSettings(path string, p *configv1.Provider) {
	switch p.GetKind() {
	case "azure-openai":
		if p.GetBaseUrl() == "" {
			v.add(path+".base_url", "is required for kind azure-openai (https://<resource>.openai.azure.com)")
		}
	case "bedrock":
		if p.GetAws().GetRegion() == "" {
			v.add(path+".aws.region", "is required for kind bedrock")
		}
	case "vertex-ai", "vertex-anthropic":
		if p.GetGcp().GetProject() == "" {
			v.add(path+".gcp.project", "is required for kind %s", p.GetKind())
		}
		if p.GetGcp().GetLocation() == "" {
			v.add(path+".gcp.location", "is required for kind %s", p.GetKind())
		}
	}
	if aws := p.GetAws(); aws != nil {
		id, secret := aws.GetAccessKeyId() != "", aws.GetSecretAccessKey() != ""
		switch {
		case id && !secret:
			v.add(path+".aws.secret_access_key", "is required when access_key_id is set")
		case secret && !id:
			v.add(path+".aws.access_key_id", "is required when secret_access_key is set")
		case aws.GetSessionToken() != "" && !id:
			v.add(path+".aws.session_token", "needs access_key_id and secret_access_key")
		}
		if arn := aws.GetRoleArn(); arn != "" && !strings.HasPrefix(arn, "arn:") {
			v.add(path+".aws.role_arn", "must be an ARN (arn:aws:iam::<account>:role/<name>)")
		}
	}
}

// models checks models and returns every public name (names and aliases).
//
// A backend name may appear in several models when it denotes the same
// provider and upstream model: Envoy then has one cluster for it. With
// server.upstream_filter that cluster also lists the model's other candidates
// as fallback priorities, so the models must agree on that chain too.
func (v *validator) models(ms []*configv1.Model, providers map[string]bool, upstreamFilter bool) map[string]bool {
	public := map[string]string{} // name or alias → path where first defined
	backends := map[string]backendUse{}
	known := slices.Sorted(func(yield func(string) bool) {
		for k := range providers {
			if !yield(k) {
				return
			}
		}
	})
	claim := func(path, name string) {
		if prev, dup := public[name]; dup {
			v.add(path, "model name %q is already used by %s", name, prev)
			return
		}
		public[name] = path
	}
	for i, m := range ms {
		path := joinIndex("models", i)
		if m.GetName() == "" {
			v.add(path+".name", "is required")
		} else {
			claim(path+".name", m.GetName())
		}
		for j, a := range m.GetAliases() {
			apath := joinIndex(path+".aliases", j)
			if a == "" {
				v.add(apath, "must not be empty")
				continue
			}
			claim(apath, a)
		}
		if s := m.GetStrategy(); s != "" && !slices.Contains(strategies, s) {
			v.add(path+".strategy", "unknown strategy %q (want one of %s)", s, strings.Join(strategies, ", "))
		}
		var splitSum float64
		for j, sp := range m.GetSplits() {
			sp := sp
			spath := fmt.Sprintf("%s.splits[%d]", path, j)
			if sp.GetTarget() == "" {
				v.add(spath+".target", "must not be empty")
			}
			if sp.GetPercent() < 0 || sp.GetPercent() > 100 {
				v.add(spath+".percent", "must be between 0 and 100")
			}
			splitSum += sp.GetPercent()
		}
		if splitSum > 100 {
			v.add(path+".splits", "percentages add up to %v, more than 100", splitSum)
		}
		if c := m.GetCache(); c != "" && c != "auto" && c != "always" && c != "never" {
			v.add(path+".cache", "unknown cache mode %q (want auto, always or never)", c)
		}
		if len(m.GetBackends()) == 0 {
			v.add(path+".backends", "at least one backend is required")
		}
		chains := fallbackChains(m)
		for j, b := range m.GetBackends() {
			bpath := joinIndex(path+".backends", j)
			switch {
			case b.GetProvider() == "":
				v.add(bpath+".provider", "is required")
			case !providers[b.GetProvider()]:
				v.add(bpath+".provider", "unknown provider %q (defined: %s)", b.GetProvider(), strings.Join(known, ", "))
			}
			if b.GetName() != "" && !validName(b.GetName()) {
				v.add(bpath+".name", "%q %s", b.GetName(), nameRule)
				continue
			}
			if b.GetProvider() == "" {
				continue
			}
			cur := backendUse{path: bpath, model: i, provider: b.GetProvider(), upstream: effectiveModel(m, b), chain: chains[j]}
			name := effectiveBackendName(m, b)
			prev, dup := backends[name]
			if !dup {
				backends[name] = cur
				continue
			}
			how := "backend name"
			if b.GetName() == "" {
				how = "derived backend name"
			}
			switch {
			case prev.model == cur.model:
				v.add(bpath+".name", "%s %q is already used by %s; give one of them an explicit name", how, name, prev.path)
			case prev.provider != cur.provider || prev.upstream != cur.upstream:
				v.add(bpath+".name", "%s %q is already used by %s for another provider or model; give one of them an explicit name", how, name, prev.path)
			case upstreamFilter && prev.chain != cur.chain:
				v.add(bpath+".name", "%s %q is also used by %s with a different fallback chain; with server.upstream_filter each backend's Envoy cluster holds one chain, so give one of them an explicit name", how, name, prev.path)
			}
		}
	}
	names := make(map[string]bool, len(public))
	for k := range public {
		names[k] = true
	}
	return names
}

func (v *validator) auth(a *configv1.Auth, models map[string]bool) {
	ids := map[string]int{}
	hashes := map[string]int{}
	for i, k := range a.GetKeys() {
		path := joinIndex("auth.keys", i)
		if k.GetId() == "" {
			v.add(path+".id", "is required")
		} else if j, dup := ids[k.GetId()]; dup {
			v.add(path+".id", "duplicate key id %q (first defined at auth.keys[%d])", k.GetId(), j)
		} else {
			ids[k.GetId()] = i
		}
		switch key, sum := k.GetKey(), k.GetSha256(); {
		case key != "" && sum != "":
			v.add(path, "set either key or sha256, not both")
		case key == "" && sum == "":
			v.add(path, "one of key or sha256 is required")
		case sum != "" && !isSHA256Hex(sum):
			v.add(path+".sha256", "must be 64 lowercase hex characters (the SHA-256 of the key)")
		case sum != "":
			if j, dup := hashes[sum]; dup {
				v.add(path+".sha256", "same key as auth.keys[%d]", j)
			} else {
				hashes[sum] = i
			}
		}
		for j, m := range k.GetModels() {
			if !models[m] {
				v.add(joinIndex(path+".models", j), "unknown model %q", m)
			}
		}
	}
}

func (v *validator) admin(a *configv1.Admin) {
	ids := map[string]int{}
	for i, t := range a.GetTokens() {
		path := joinIndex("admin.tokens", i)
		if t.GetId() == "" {
			v.add(path+".id", "is required")
		} else if j, dup := ids[t.GetId()]; dup {
			v.add(path+".id", "duplicate token id %q (first defined at admin.tokens[%d])", t.GetId(), j)
		} else {
			ids[t.GetId()] = i
		}
		if !isSHA256Hex(t.GetSha256()) {
			v.add(path+".sha256", "must be 64 lowercase hex characters (the SHA-256 of the token)")
		}
	}
	if u := a.GetPublicUrl(); u != "" {
		if msg := checkURL(u); msg != "" {
			v.add("admin.public_url", "%s", msg)
		}
	}
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (v *validator) logging(l *configv1.Logging) {
	if s := l.GetLevel(); s != "" && !slices.Contains(logLevels, s) {
		v.add("logging.level", "unknown log level %q (want one of %s)", s, strings.Join(logLevels, ", "))
	}
	if s := l.GetFormat(); s != "" && !slices.Contains(logFormats, s) {
		v.add("logging.format", "unknown log format %q (want one of %s)", s, strings.Join(logFormats, ", "))
	}
}

// secretSyntax checks every secret reference (and credential file path) without
// resolving it.
func (v *validator) secretSyntax(cfg *configv1.Config) {
	rangeSecrets(proto.Clone(cfg).ProtoReflect(), "", func(path, s string) string {
		if err := checkReference(s); err != nil {
			v.add(path, "%s", err.Error())
		}
		return s
	})
	for i, p := range cfg.GetProviders() {
		if f := p.GetGcp().GetCredentialsFile(); f != "" {
			if err := checkPathReference(f); err != nil {
				v.add(joinIndex("providers", i)+".gcp.credentials_file", "%s", err.Error())
			}
		}
	}
}

// backendUse is where a backend name was first used.
type backendUse struct {
	path               string
	model              int
	provider, upstream string
	chain              string
}

// effectiveModel is the upstream model of b: its model, else the public name.
func effectiveModel(m *configv1.Model, b *configv1.Backend) string {
	return orDefault(b.GetModel(), m.GetName())
}

// effectiveBackendName is b's name, else the derived "<provider>.<model>".
func effectiveBackendName(m *configv1.Model, b *configv1.Backend) string {
	return orDefault(b.GetName(), BackendName(b.GetProvider(), effectiveModel(m, b)))
}

// fallbackChains returns, for each backend of m, the names of the model's other
// candidates in fallback order (priority, then listing order), joined by
// commas: what the backend's Envoy cluster holds as priorities 1..n.
func fallbackChains(m *configv1.Model) []string {
	bs := m.GetBackends()
	order := make([]int, len(bs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return int(bs[a].GetPriority()) - int(bs[b].GetPriority())
	})
	chains := make([]string, len(bs))
	for i := range bs {
		var others []string
		for _, j := range order {
			if j != i {
				others = append(others, effectiveBackendName(m, bs[j]))
			}
		}
		chains[i] = strings.Join(others, ",")
	}
	return chains
}
