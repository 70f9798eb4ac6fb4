package deploytest

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/llm-router/llm-router/pkg/config"
	"github.com/llm-router/llm-router/pkg/envoyconfig"
	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// decodeTyped decodes an object strictly into the Go type of its apiVersion and kind.
func decodeTyped(o object) (any, error) {
	var v any
	switch o.apiVersion() + " " + o.kind() {
	case "v1 ServiceAccount":
		v = &corev1.ServiceAccount{}
	case "v1 Service":
		v = &corev1.Service{}
	case "v1 ConfigMap":
		v = &corev1.ConfigMap{}
	case "v1 Secret":
		v = &corev1.Secret{}
	case "v1 Namespace":
		v = &corev1.Namespace{}
	case "v1 PersistentVolumeClaim":
		v = &corev1.PersistentVolumeClaim{}
	case "v1 Pod":
		v = &corev1.Pod{}
	case "apps/v1 Deployment":
		v = &appsv1.Deployment{}
	case "autoscaling/v2 HorizontalPodAutoscaler":
		v = &autoscalingv2.HorizontalPodAutoscaler{}
	case "policy/v1 PodDisruptionBudget":
		v = &policyv1.PodDisruptionBudget{}
	case "networking.k8s.io/v1 NetworkPolicy":
		v = &networkingv1.NetworkPolicy{}
	case "networking.istio.io/v1alpha3 EnvoyFilter":
		v = &envoyFilter{}
	case "networking.istio.io/v1 ServiceEntry":
		v = &serviceEntry{}
	case "networking.istio.io/v1 DestinationRule":
		v = &destinationRule{}
	case "networking.istio.io/v1 VirtualService":
		v = &virtualService{}
	case "networking.istio.io/v1 Gateway":
		v = &istioGateway{}
	case "security.istio.io/v1 PeerAuthentication":
		v = &peerAuthentication{}
	case "security.istio.io/v1 AuthorizationPolicy":
		v = &authorizationPolicy{}
	case "monitoring.coreos.com/v1 ServiceMonitor":
		v = &serviceMonitor{}
	case "monitoring.coreos.com/v1 PrometheusRule":
		v = &prometheusRule{}
	default:
		return nil, fmt.Errorf("%s: %s %s: no model for this apiVersion and kind", o.src, o.apiVersion(), o.kind())
	}
	if err := strict(o.json(), v); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", o.src, o.id(), err)
	}
	return v, nil
}

// checkOptions tune checkManifests for one set of manifests.
type checkOptions struct {
	// externalSecrets exist in the cluster, created by the operator (not in the set).
	externalSecrets []string
	// pinned requires every image to carry a version tag other than "latest", or a digest.
	pinned bool
}

// typedSet is a manifest set after strict decoding.
type typedSet struct {
	deployments   []*appsv1.Deployment
	services      []*corev1.Service
	configMaps    map[string]*corev1.ConfigMap
	secrets       map[string]*corev1.Secret
	hpas          []*autoscalingv2.HorizontalPodAutoscaler
	pdbs          []*policyv1.PodDisruptionBudget
	netpols       []*networkingv1.NetworkPolicy
	envoyFilters  []object
	serviceEntry  []*serviceEntry
	destRules     []*destinationRule
	virtualSvcs   []*virtualService
	svcMonitors   []*serviceMonitor
	promRules     []*prometheusRule
	namespaces    []string
	objectsByKind map[string]int
}

// checkManifests decodes every object strictly and checks the set as a whole.
func checkManifests(t tester, objs []object, opts checkOptions) *typedSet {
	t.Helper()
	require.NotEmpty(t, objs)
	s := &typedSet{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}, objectsByKind: map[string]int{}}
	seen := map[string]string{}
	for _, o := range objs {
		key := o.namespace() + "/" + o.id()
		if prev, dup := seen[key]; dup {
			t.Errorf("%s defined twice (%s and %s)", key, prev, o.src)
		}
		seen[key] = o.src
		v, err := decodeTyped(o)
		if !assertNoError(t, err) {
			continue
		}
		s.objectsByKind[o.kind()]++
		switch x := v.(type) {
		case *appsv1.Deployment:
			s.deployments = append(s.deployments, x)
		case *corev1.Service:
			s.services = append(s.services, x)
		case *corev1.ConfigMap:
			s.configMaps[x.Name] = x
		case *corev1.Secret:
			s.secrets[x.Name] = x
		case *autoscalingv2.HorizontalPodAutoscaler:
			s.hpas = append(s.hpas, x)
		case *policyv1.PodDisruptionBudget:
			s.pdbs = append(s.pdbs, x)
		case *networkingv1.NetworkPolicy:
			s.netpols = append(s.netpols, x)
		case *envoyFilter:
			s.envoyFilters = append(s.envoyFilters, o)
		case *serviceEntry:
			s.serviceEntry = append(s.serviceEntry, x)
		case *destinationRule:
			s.destRules = append(s.destRules, x)
		case *virtualService:
			s.virtualSvcs = append(s.virtualSvcs, x)
		case *serviceMonitor:
			s.svcMonitors = append(s.svcMonitors, x)
		case *prometheusRule:
			s.promRules = append(s.promRules, x)
		case *corev1.Namespace:
			s.namespaces = append(s.namespaces, x.Name)
		}
	}
	cfg := s.routerConfig(t)
	for _, d := range s.deployments {
		checkDeployment(t, s, d, cfg, opts)
	}
	for _, svc := range s.services {
		d := s.deploymentFor(svc.Spec.Selector)
		if !assertTrue(t, d != nil, "Service %s: selector %v matches no Deployment", svc.Name, svc.Spec.Selector) {
			continue
		}
		for _, p := range svc.Spec.Ports {
			checkPortRef(t, d, p.TargetPort, "Service "+svc.Name)
		}
	}
	for _, h := range s.hpas {
		ref := h.Spec.ScaleTargetRef
		assertTrue(t, ref.Kind == "Deployment" && s.deployment(ref.Name) != nil, "HPA %s: target %s/%s not found", h.Name, ref.Kind, ref.Name)
		for _, m := range h.Spec.Metrics {
			if m.Pods != nil {
				checkMetricDefined(t, m.Pods.Metric.Name, "HPA "+h.Name)
			}
		}
	}
	for _, p := range s.pdbs {
		assertTrue(t, s.deploymentFor(p.Spec.Selector.MatchLabels) != nil, "PDB %s: selector matches no Deployment", p.Name)
	}
	for _, np := range s.netpols {
		d := s.deploymentFor(np.Spec.PodSelector.MatchLabels)
		if !assertTrue(t, d != nil, "NetworkPolicy %s: podSelector matches no Deployment", np.Name) {
			continue
		}
		for _, in := range np.Spec.Ingress {
			for _, p := range in.Ports {
				if p.Port != nil {
					checkPortRef(t, d, *p.Port, "NetworkPolicy "+np.Name)
				}
			}
		}
	}
	for _, sm := range s.svcMonitors {
		var svc *corev1.Service
		for _, c := range s.services {
			if labelsMatch(sm.Spec.Selector.MatchLabels, c.Labels) {
				svc = c
			}
		}
		if !assertTrue(t, svc != nil, "ServiceMonitor %s: selector matches no Service", sm.Metadata.Name) {
			continue
		}
		for _, e := range sm.Spec.Endpoints {
			assertTrue(t, slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == e.Port }),
				"ServiceMonitor %s: Service %s has no port %q", sm.Metadata.Name, svc.Name, e.Port)
		}
	}
	for _, r := range s.promRules {
		checkRuleGroups(t, "PrometheusRule "+r.Metadata.Name, r.Spec)
	}
	checkIstio(t, s, cfg)
	return s
}

// routerConfig parses the llm-router config of the set (the ConfigMap with a
// config.yaml key), or returns nil when the set has none.
func (s *typedSet) routerConfig(t tester) *configv1.Config {
	t.Helper()
	var cfg *configv1.Config
	for name, cm := range s.configMaps {
		data, ok := cm.Data["config.yaml"]
		if !ok {
			continue
		}
		require.Nil(t, cfg, "two llm-router configs in one set")
		c, err := config.Parse([]byte(data), config.Options{})
		require.NoError(t, err, "ConfigMap %s: config.yaml", name)
		cfg = c
	}
	return cfg
}

func (s *typedSet) deployment(name string) *appsv1.Deployment {
	for _, d := range s.deployments {
		if d.Name == name {
			return d
		}
	}
	return nil
}

func (s *typedSet) deploymentFor(selector map[string]string) *appsv1.Deployment {
	if len(selector) == 0 {
		return nil
	}
	for _, d := range s.deployments {
		if labelsMatch(selector, d.Spec.Template.Labels) {
			return d
		}
	}
	return nil
}

func labelsMatch(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return len(selector) > 0
}

// allContainers lists init containers then containers.
func allContainers(spec *corev1.PodSpec) []corev1.Container {
	return append(slices.Clone(spec.InitContainers), spec.Containers...)
}

// checkPortRef checks that a Service/NetworkPolicy port refers to a container port of
// the pod: by name, or by number.
func checkPortRef(t tester, d *appsv1.Deployment, port intstr.IntOrString, what string) {
	t.Helper()
	for _, c := range allContainers(&d.Spec.Template.Spec) {
		for _, p := range c.Ports {
			if port.Type == intstr.String && p.Name == port.StrVal || port.Type == intstr.Int && p.ContainerPort == port.IntVal {
				return
			}
		}
	}
	t.Errorf("%s: port %s is not a container port of Deployment %s", what, port.String(), d.Name)
}

// serveContainer finds the container running `llm-router serve`.
func serveContainer(spec *corev1.PodSpec) (*corev1.Container, bool) {
	for i := range spec.InitContainers {
		if slices.Contains(spec.InitContainers[i].Args, "serve") {
			return &spec.InitContainers[i], true
		}
	}
	for i := range spec.Containers {
		if slices.Contains(spec.Containers[i].Args, "serve") {
			return &spec.Containers[i], false
		}
	}
	return nil, false
}

func findContainer(spec *corev1.PodSpec, name string) *corev1.Container {
	for _, c := range allContainers(spec) {
		if c.Name == name {
			return &c
		}
	}
	return nil
}

// checkDeployment applies the pod rules (restricted security, resources, probes,
// references) and, for llm-router pods, the wiring between Envoy and llm-router.
func checkDeployment(t tester, s *typedSet, d *appsv1.Deployment, cfg *configv1.Config, opts checkOptions) {
	t.Helper()
	what := "Deployment " + d.Name
	spec := &d.Spec.Template.Spec
	assertTrue(t, d.Spec.Selector != nil && labelsMatch(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels), "%s: selector does not match the pod labels", what)
	psc := spec.SecurityContext
	assertTrue(t, psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot, "%s: pod must set runAsNonRoot", what)
	assertTrue(t, psc != nil && psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault, "%s: seccompProfile RuntimeDefault", what)
	assertTrue(t, spec.AutomountServiceAccountToken != nil && !*spec.AutomountServiceAccountToken, "%s: automountServiceAccountToken must be false", what)

	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
		if v.ConfigMap != nil {
			_, ok := s.configMaps[v.ConfigMap.Name]
			assertTrue(t, ok, "%s: volume %s: ConfigMap %s not in the set", what, v.Name, v.ConfigMap.Name)
		}
		if v.Secret != nil {
			checkSecretRef(t, s, v.Secret.SecretName, "", opts, what)
		}
	}
	for _, c := range allContainers(spec) {
		cw := what + " container " + c.Name
		sc := c.SecurityContext
		assertTrue(t, sc != nil && sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation, "%s: allowPrivilegeEscalation false", cw)
		assertTrue(t, sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem, "%s: readOnlyRootFilesystem", cw)
		assertTrue(t, sc != nil && sc.Capabilities != nil && slices.Contains(sc.Capabilities.Drop, "ALL"), "%s: capabilities drop ALL", cw)
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			_, req := c.Resources.Requests[r]
			_, lim := c.Resources.Limits[r]
			assertTrue(t, req && lim, "%s: %s request and limit", cw, r)
		}
		checkImage(t, c.Image, opts, cw)
		for _, m := range c.VolumeMounts {
			_, ok := volumes[m.Name]
			assertTrue(t, ok, "%s: volumeMount %s has no volume", cw, m.Name)
		}
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil {
				checkSecretRef(t, s, e.SecretRef.Name, "", opts, cw)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				checkSecretRef(t, s, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key, opts, cw)
			}
		}
		for _, p := range []*corev1.Probe{c.StartupProbe, c.LivenessProbe, c.ReadinessProbe} {
			if p == nil {
				continue
			}
			switch {
			case p.HTTPGet != nil:
				checkContainerPort(t, c, p.HTTPGet.Port, cw)
			case p.TCPSocket != nil:
				checkContainerPort(t, c, p.TCPSocket.Port, cw)
			}
		}
	}

	serve, sidecar := serveContainer(spec)
	if serve == nil {
		return
	}
	sw := what + " llm-router"
	assertTrue(t, serve.LivenessProbe != nil && serve.LivenessProbe.HTTPGet != nil && serve.LivenessProbe.HTTPGet.Path == "/healthz", "%s: liveness probe on /healthz", sw)
	assertTrue(t, serve.ReadinessProbe != nil && serve.ReadinessProbe.HTTPGet != nil && serve.ReadinessProbe.HTTPGet.Path == "/readyz", "%s: readiness probe on /readyz", sw)
	if !assertTrue(t, cfg != nil, "%s: no llm-router config (ConfigMap with config.yaml) in the set", sw) {
		return
	}
	// The admin server listens where the probes and Prometheus look.
	_, adminPort, err := net.SplitHostPort(cfg.GetServer().GetAdminAddress())
	require.NoError(t, err)
	host, _, _ := net.SplitHostPort(cfg.GetServer().GetAdminAddress())
	assertTrue(t, host == "0.0.0.0" || host == "", "%s: admin_address %s is not reachable by probes", sw, cfg.GetServer().GetAdminAddress())
	assertTrue(t, slices.ContainsFunc(serve.Ports, func(p corev1.ContainerPort) bool {
		return p.Name == "http-admin" && strconv.Itoa(int(p.ContainerPort)) == adminPort
	}), "%s: port http-admin must be the admin_address port %s", sw, adminPort)
	// Every ${VAR} of the config reaches the process.
	checkSecretEnv(t, s, serve, cfg, opts, sw)

	envoy := findContainer(spec, "envoy")
	if envoy == nil {
		// Istio mode: llm-router alone, reached on a TCP gRPC port.
		assertTrue(t, !strings.HasPrefix(cfg.GetServer().GetExtprocAddress(), "unix://"), "%s: without an Envoy container the processor must listen on TCP", sw)
		assertTrue(t, slices.ContainsFunc(serve.Ports, func(p corev1.ContainerPort) bool { return p.Name == "grpc" }), "%s: port named grpc", sw)
		return
	}
	// Sidecar mode: native sidecar, shared socket, matching bootstrap.
	assertTrue(t, sidecar && serve.RestartPolicy != nil && *serve.RestartPolicy == corev1.ContainerRestartPolicyAlways,
		"%s: must be a native sidecar (init container with restartPolicy Always)", sw)
	sock, ok := strings.CutPrefix(cfg.GetServer().GetExtprocAddress(), "unix://")
	if !assertTrue(t, ok, "%s: extproc_address %s must be a unix socket next to Envoy", sw, cfg.GetServer().GetExtprocAddress()) {
		return
	}
	shared := false
	for _, a := range serve.VolumeMounts {
		for _, b := range envoy.VolumeMounts {
			if a.Name == b.Name && a.MountPath == b.MountPath && strings.HasPrefix(sock, strings.TrimSuffix(a.MountPath, "/")+"/") {
				shared = true
				assertTrue(t, volumes[a.Name].EmptyDir != nil, "%s: the socket volume must be an emptyDir", sw)
			}
		}
	}
	assertTrue(t, shared, "%s: Envoy and llm-router must mount the socket directory of %s at the same path", sw, sock)
	boot := envoyBootstrapOf(t, s, envoy, what)
	if boot == "" {
		return
	}
	for _, p := range envoyconfig.Validate([]byte(boot), cfg) {
		t.Errorf("%s: Envoy bootstrap: %s", what, p)
	}
	b, problems := envoyconfig.ParseBootstrap([]byte(boot), cfg)
	require.Empty(t, problems)
	ports := map[string]uint32{}
	for _, l := range b.GetStaticResources().GetListeners() {
		ports[l.GetName()] = l.GetAddress().GetSocketAddress().GetPortValue()
	}
	for _, c := range b.GetStaticResources().GetClusters() {
		if c.GetName() == envoyconfig.ExtprocCluster {
			pipe := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetPipe().GetPath()
			assertTrue(t, pipe == sock, "%s: Envoy's %s cluster points at %q, llm-router listens on %q", what, envoyconfig.ExtprocCluster, pipe, sock)
		}
	}
	portOf := func(name string) int32 {
		for _, p := range envoy.Ports {
			if p.Name == name {
				return p.ContainerPort
			}
		}
		return -1
	}
	assertTrue(t, uint32(portOf("http")) == ports[envoyconfig.ListenerName], "%s: Envoy port http %d, listener %d", what, portOf("http"), ports[envoyconfig.ListenerName])
	assertTrue(t, uint32(portOf("envoy-stats")) == ports[statsListenerName], "%s: Envoy port envoy-stats %d, stats listener %d", what, portOf("envoy-stats"), ports[statsListenerName])
	assertTrue(t, envoy.ReadinessProbe != nil && envoy.ReadinessProbe.HTTPGet != nil && envoy.ReadinessProbe.HTTPGet.Path == "/ready", "%s: Envoy readiness on /ready", what)
	assertTrue(t, envoy.Lifecycle != nil && envoy.Lifecycle.PreStop != nil, "%s: Envoy needs a preStop drain", what)
	if v := findContainer(spec, "validate"); assertTrue(t, v != nil, "%s: the validate init container checks config and bootstrap", what) {
		assertTrue(t, slices.Contains(v.Args, "validate") && slices.Contains(v.Args, "--envoy"), "%s: validate runs `llm-router validate --envoy`", what)
	}
}

// envoyBootstrapOf returns the bootstrap mounted into the Envoy container.
func envoyBootstrapOf(t tester, s *typedSet, envoy *corev1.Container, what string) string {
	t.Helper()
	cfgPath := ""
	for i, a := range envoy.Args {
		if a == "-c" && i+1 < len(envoy.Args) {
			cfgPath = envoy.Args[i+1]
		}
	}
	if !assertTrue(t, cfgPath != "", "%s: Envoy has no -c argument", what) {
		return ""
	}
	d := s.deploymentForContainer(envoy.Name)
	for _, m := range envoy.VolumeMounts {
		if !strings.HasPrefix(cfgPath, strings.TrimSuffix(m.MountPath, "/")+"/") {
			continue
		}
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil {
				cm := s.configMaps[v.ConfigMap.Name]
				if cm == nil {
					return ""
				}
				data, ok := cm.Data[strings.TrimPrefix(cfgPath, strings.TrimSuffix(m.MountPath, "/")+"/")]
				assertTrue(t, ok, "%s: ConfigMap %s has no %s", what, cm.Name, cfgPath)
				return data
			}
		}
	}
	t.Errorf("%s: %s is not mounted from a ConfigMap", what, cfgPath)
	return ""
}

func (s *typedSet) deploymentForContainer(name string) *appsv1.Deployment {
	for _, d := range s.deployments {
		if findContainer(&d.Spec.Template.Spec, name) != nil {
			return d
		}
	}
	return nil
}

func checkContainerPort(t tester, c corev1.Container, port intstr.IntOrString, what string) {
	t.Helper()
	for _, p := range c.Ports {
		if port.Type == intstr.String && p.Name == port.StrVal || port.Type == intstr.Int && p.ContainerPort == port.IntVal {
			return
		}
	}
	t.Errorf("%s: probe port %s is not one of its ports", what, port.String())
}

var tagRe = regexp.MustCompile(`:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

func checkImage(t tester, image string, opts checkOptions, what string) {
	t.Helper()
	hasDigest := strings.Contains(image, "@sha256:")
	tagged := tagRe.MatchString(image[strings.LastIndexByte(image, '/')+1:])
	if !assertTrue(t, hasDigest || tagged, "%s: image %q has no tag or digest", what, image) {
		return
	}
	if opts.pinned {
		assertTrue(t, hasDigest || !strings.HasSuffix(image, ":latest"), "%s: image %q must be pinned", what, image)
	}
}

func checkSecretRef(t tester, s *typedSet, name, key string, opts checkOptions, what string) {
	t.Helper()
	if slices.Contains(opts.externalSecrets, name) {
		return
	}
	sec, ok := s.secrets[name]
	if !assertTrue(t, ok, "%s: Secret %s is neither in the set nor declared external", what, name) || key == "" {
		return
	}
	_, inData := sec.Data[key]
	_, inString := sec.StringData[key]
	assertTrue(t, inData || inString, "%s: Secret %s has no key %s", what, name, key)
}

// secretRefRe finds ${VAR} references in config values.
var secretRefRe = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// checkSecretEnv checks that every environment variable the config references is
// given to the container, by name or through a Secret in the set.
func checkSecretEnv(t tester, s *typedSet, c *corev1.Container, cfg *configv1.Config, opts checkOptions, what string) {
	t.Helper()
	// Secret fields hold references until resolved at startup.
	raw, err := protojson.Marshal(cfg)
	require.NoError(t, err)
	for _, m := range secretRefRe.FindAllStringSubmatch(string(raw), -1) {
		name := m[1]
		if slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name }) {
			continue
		}
		found, unknown := false, false
		for _, ef := range c.EnvFrom {
			if ef.SecretRef == nil {
				continue
			}
			if slices.Contains(opts.externalSecrets, ef.SecretRef.Name) {
				unknown = true // its keys are the operator's; see the kustomization's notes
				continue
			}
			if sec, ok := s.secrets[ef.SecretRef.Name]; ok {
				_, a := sec.Data[name]
				_, b := sec.StringData[name]
				found = found || a || b
			}
		}
		assertTrue(t, found || unknown, "%s: the config references ${%s}, which no env var or Secret provides", what, name)
	}
}

// checkIstio cross-checks the Istio resources of a set with its config.
func checkIstio(t tester, s *typedSet, cfg *configv1.Config) {
	t.Helper()
	for _, ef := range s.envoyFilters {
		y, err := sigsyaml.JSONToYAML(ef.json())
		require.NoError(t, err)
		for _, p := range envoyconfig.Validate(y, cfg) {
			t.Errorf("%s: %s", ef.id(), p)
		}
	}
	entries := map[string]*serviceEntry{}
	for _, se := range s.serviceEntry {
		for _, h := range se.Spec.Hosts {
			entries[h] = se
		}
	}
	for _, dr := range s.destRules {
		se, ok := entries[dr.Spec.Host]
		if !assertTrue(t, ok, "DestinationRule %s: host %s has no ServiceEntry", dr.Metadata.Name, dr.Spec.Host) {
			continue
		}
		if dr.Spec.TrafficPolicy == nil {
			continue
		}
		for _, pl := range dr.Spec.TrafficPolicy.PortLevelSettings {
			if pl.TLS == nil || pl.TLS.Mode != "SIMPLE" {
				continue
			}
			assertTrue(t, pl.TLS.Sni == dr.Spec.Host, "DestinationRule %s: TLS origination must send SNI %s", dr.Metadata.Name, dr.Spec.Host)
			i := slices.IndexFunc(se.Spec.Ports, func(p istioPort) bool { return p.Number == pl.Port.Number })
			assertTrue(t, i >= 0 && se.Spec.Ports[i].Protocol == "HTTP" && se.Spec.Ports[i].TargetPort == 443,
				"DestinationRule %s: port %d must be an HTTP port of the ServiceEntry sent to 443", dr.Metadata.Name, pl.Port.Number)
		}
	}
	if len(s.virtualSvcs) == 0 || cfg == nil {
		return
	}
	routes := map[string]httpRoute{}
	for _, vs := range s.virtualSvcs {
		checkIstioCORS(t, vs, cfg)
		for _, r := range vs.Spec.HTTP {
			for _, m := range r.Match {
				if h, ok := m.Headers[envoyconfig.BackendHeader]; ok {
					routes[h.Exact] = r
				}
			}
			for _, dst := range r.Route {
				_, ok := entries[dst.Destination.Host]
				assertTrue(t, ok, "VirtualService %s route %s: host %s has no ServiceEntry", vs.Metadata.Name, r.Name, dst.Destination.Host)
			}
		}
	}
	providers := map[string]*configv1.Provider{}
	for _, p := range cfg.GetProviders() {
		providers[p.GetName()] = p
	}
	for _, m := range cfg.GetModels() {
		for _, b := range m.GetBackends() {
			name := envoyconfig.BackendName(m, b)
			u, err := url.Parse(providers[b.GetProvider()].GetBaseUrl())
			require.NoError(t, err)
			if u.Scheme != "https" {
				continue // in-mesh providers are routed by the mesh's own services
			}
			r, ok := routes[name]
			if !assertTrue(t, ok, "no VirtualService route for backend %s", name) {
				continue
			}
			assertTrue(t, len(r.Route) == 1 && r.Route[0].Destination.Host == u.Hostname(), "backend %s must route to %s", name, u.Hostname())
			assertTrue(t, r.Rewrite != nil && r.Rewrite.Authority == u.Hostname(), "backend %s: rewrite the authority to %s (ext_proc may not)", name, u.Hostname())
		}
	}
	assertTrue(t, !cfg.GetServer().GetUpstreamFilter(), "Istio mode routes in the mesh: server.upstream_filter must be false")
}

// assertTrue reports a failure without stopping the test, so one run lists every
// problem of a set; it returns cond.
func assertTrue(t tester, cond bool, format string, args ...any) bool {
	t.Helper()
	if !cond {
		t.Errorf(format, args...)
	}
	return cond
}

func assertNoError(t tester, err error) bool {
	t.Helper()
	if err != nil {
		t.Errorf("%v", err)
		return false
	}
	return true
}
