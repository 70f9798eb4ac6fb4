package deploytest

// Local models of the non-core APIs the manifests use, for strict decoding: a field
// that the real API does not define (a typo, a wrong nesting) fails. Each struct holds
// the fields of its API version (Istio networking/security v1, Prometheus Operator
// monitoring.coreos.com/v1, Kustomize v1beta1, the Prometheus rule file format) that
// deploy/ uses or may reasonably use; extend them from the API reference, never with
// invented names.

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// objectMeta is the metadata the models accept.
type objectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// --- Istio networking.istio.io ---------------------------------------------------

type istioWorkloadSelector struct {
	Labels map[string]string `json:"labels,omitempty"`
}

type envoyFilter struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		WorkloadSelector *istioWorkloadSelector `json:"workloadSelector,omitempty"`
		Priority         int32                  `json:"priority,omitempty"`
		ConfigPatches    []struct {
			ApplyTo string `json:"applyTo"`
			Match   *struct {
				Context string `json:"context,omitempty"`
				Proxy   *struct {
					ProxyVersion string            `json:"proxyVersion,omitempty"`
					Metadata     map[string]string `json:"metadata,omitempty"`
				} `json:"proxy,omitempty"`
				Listener *struct {
					PortNumber  uint32 `json:"portNumber,omitempty"`
					Name        string `json:"name,omitempty"`
					FilterChain *struct {
						Name                 string `json:"name,omitempty"`
						Sni                  string `json:"sni,omitempty"`
						TransportProtocol    string `json:"transportProtocol,omitempty"`
						ApplicationProtocols string `json:"applicationProtocols,omitempty"`
						DestinationPort      uint32 `json:"destinationPort,omitempty"`
						Filter               *struct {
							Name      string `json:"name,omitempty"`
							SubFilter *struct {
								Name string `json:"name,omitempty"`
							} `json:"subFilter,omitempty"`
						} `json:"filter,omitempty"`
					} `json:"filterChain,omitempty"`
				} `json:"listener,omitempty"`
				Cluster *struct {
					PortNumber uint32 `json:"portNumber,omitempty"`
					Service    string `json:"service,omitempty"`
					Subset     string `json:"subset,omitempty"`
					Name       string `json:"name,omitempty"`
				} `json:"cluster,omitempty"`
			} `json:"match,omitempty"`
			Patch struct {
				Operation   string `json:"operation"`
				Value       any    `json:"value,omitempty"`
				FilterClass string `json:"filterClass,omitempty"`
			} `json:"patch"`
		} `json:"configPatches"`
	} `json:"spec"`
}

type istioPort struct {
	Number     uint32 `json:"number"`
	Protocol   string `json:"protocol,omitempty"`
	Name       string `json:"name,omitempty"`
	TargetPort uint32 `json:"targetPort,omitempty"`
}

type serviceEntry struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		Hosts            []string               `json:"hosts"`
		Addresses        []string               `json:"addresses,omitempty"`
		Ports            []istioPort            `json:"ports,omitempty"`
		Location         string                 `json:"location,omitempty"`
		Resolution       string                 `json:"resolution,omitempty"`
		ExportTo         []string               `json:"exportTo,omitempty"`
		SubjectAltNames  []string               `json:"subjectAltNames,omitempty"`
		WorkloadSelector *istioWorkloadSelector `json:"workloadSelector,omitempty"`
	} `json:"spec"`
}

type clientTLSSettings struct {
	Mode               string   `json:"mode"`
	ClientCertificate  string   `json:"clientCertificate,omitempty"`
	PrivateKey         string   `json:"privateKey,omitempty"`
	CaCertificates     string   `json:"caCertificates,omitempty"`
	CredentialName     string   `json:"credentialName,omitempty"`
	SubjectAltNames    []string `json:"subjectAltNames,omitempty"`
	Sni                string   `json:"sni,omitempty"`
	InsecureSkipVerify *bool    `json:"insecureSkipVerify,omitempty"`
}

type connectionPool struct {
	TCP *struct {
		MaxConnections        int32  `json:"maxConnections,omitempty"`
		ConnectTimeout        string `json:"connectTimeout,omitempty"`
		MaxConnectionDuration string `json:"maxConnectionDuration,omitempty"`
		IdleTimeout           string `json:"idleTimeout,omitempty"`
	} `json:"tcp,omitempty"`
	HTTP *struct {
		HTTP1MaxPendingRequests  int32  `json:"http1MaxPendingRequests,omitempty"`
		HTTP2MaxRequests         int32  `json:"http2MaxRequests,omitempty"`
		MaxRequestsPerConnection int32  `json:"maxRequestsPerConnection,omitempty"`
		MaxRetries               int32  `json:"maxRetries,omitempty"`
		IdleTimeout              string `json:"idleTimeout,omitempty"`
		H2UpgradePolicy          string `json:"h2UpgradePolicy,omitempty"`
		UseClientProtocol        bool   `json:"useClientProtocol,omitempty"`
		MaxConcurrentStreams     int32  `json:"maxConcurrentStreams,omitempty"`
	} `json:"http,omitempty"`
}

type trafficPolicy struct {
	ConnectionPool    *connectionPool    `json:"connectionPool,omitempty"`
	TLS               *clientTLSSettings `json:"tls,omitempty"`
	PortLevelSettings []struct {
		Port struct {
			Number uint32 `json:"number"`
		} `json:"port"`
		ConnectionPool *connectionPool    `json:"connectionPool,omitempty"`
		TLS            *clientTLSSettings `json:"tls,omitempty"`
	} `json:"portLevelSettings,omitempty"`
}

type destinationRule struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		Host          string         `json:"host"`
		TrafficPolicy *trafficPolicy `json:"trafficPolicy,omitempty"`
		ExportTo      []string       `json:"exportTo,omitempty"`
	} `json:"spec"`
}

type stringMatch struct {
	Exact  string `json:"exact,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	Regex  string `json:"regex,omitempty"`
}

type headerOps struct {
	Set    map[string]string `json:"set,omitempty"`
	Add    map[string]string `json:"add,omitempty"`
	Remove []string          `json:"remove,omitempty"`
}

// corsPolicy is Istio's CorsPolicy (networking v1; the deprecated allowOrigin is left
// out on purpose).
type corsPolicy struct {
	AllowOrigins        []stringMatch `json:"allowOrigins,omitempty"`
	AllowMethods        []string      `json:"allowMethods,omitempty"`
	AllowHeaders        []string      `json:"allowHeaders,omitempty"`
	ExposeHeaders       []string      `json:"exposeHeaders,omitempty"`
	MaxAge              string        `json:"maxAge,omitempty"`
	AllowCredentials    *bool         `json:"allowCredentials,omitempty"`
	UnmatchedPreflights string        `json:"unmatchedPreflights,omitempty"`
}

type httpMatch struct {
	Name      string                 `json:"name,omitempty"`
	URI       *stringMatch           `json:"uri,omitempty"`
	Method    *stringMatch           `json:"method,omitempty"`
	Authority *stringMatch           `json:"authority,omitempty"`
	Headers   map[string]stringMatch `json:"headers,omitempty"`
	Port      uint32                 `json:"port,omitempty"`
	Gateways  []string               `json:"gateways,omitempty"`
}

type httpRoute struct {
	Name  string      `json:"name,omitempty"`
	Match []httpMatch `json:"match,omitempty"`
	Route []struct {
		Destination struct {
			Host   string `json:"host"`
			Subset string `json:"subset,omitempty"`
			Port   *struct {
				Number uint32 `json:"number"`
			} `json:"port,omitempty"`
		} `json:"destination"`
		Weight  int32 `json:"weight,omitempty"`
		Headers *struct {
			Request  *headerOps `json:"request,omitempty"`
			Response *headerOps `json:"response,omitempty"`
		} `json:"headers,omitempty"`
	} `json:"route,omitempty"`
	DirectResponse *struct {
		Status uint32 `json:"status"`
		Body   *struct {
			String string `json:"string,omitempty"`
			Bytes  string `json:"bytes,omitempty"`
		} `json:"body,omitempty"`
	} `json:"directResponse,omitempty"`
	Rewrite *struct {
		URI       string `json:"uri,omitempty"`
		Authority string `json:"authority,omitempty"`
	} `json:"rewrite,omitempty"`
	Timeout string `json:"timeout,omitempty"`
	Retries *struct {
		Attempts      int32  `json:"attempts"`
		PerTryTimeout string `json:"perTryTimeout,omitempty"`
		RetryOn       string `json:"retryOn,omitempty"`
	} `json:"retries,omitempty"`
	Headers *struct {
		Request  *headerOps `json:"request,omitempty"`
		Response *headerOps `json:"response,omitempty"`
	} `json:"headers,omitempty"`
	CorsPolicy *corsPolicy `json:"corsPolicy,omitempty"`
}

type virtualService struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		Hosts    []string    `json:"hosts"`
		Gateways []string    `json:"gateways,omitempty"`
		HTTP     []httpRoute `json:"http,omitempty"`
		ExportTo []string    `json:"exportTo,omitempty"`
	} `json:"spec"`
}

type istioGateway struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		Selector map[string]string `json:"selector"`
		Servers  []struct {
			Port  istioPort `json:"port"`
			Bind  string    `json:"bind,omitempty"`
			Hosts []string  `json:"hosts"`
			Name  string    `json:"name,omitempty"`
			TLS   *struct {
				HTTPSRedirect      bool     `json:"httpsRedirect,omitempty"`
				Mode               string   `json:"mode,omitempty"`
				CredentialName     string   `json:"credentialName,omitempty"`
				ServerCertificate  string   `json:"serverCertificate,omitempty"`
				PrivateKey         string   `json:"privateKey,omitempty"`
				CaCertificates     string   `json:"caCertificates,omitempty"`
				SubjectAltNames    []string `json:"subjectAltNames,omitempty"`
				MinProtocolVersion string   `json:"minProtocolVersion,omitempty"`
				MaxProtocolVersion string   `json:"maxProtocolVersion,omitempty"`
				CipherSuites       []string `json:"cipherSuites,omitempty"`
			} `json:"tls,omitempty"`
		} `json:"servers"`
	} `json:"spec"`
}

// --- Istio security.istio.io ----------------------------------------------------

type istioSelector struct {
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
}

type peerAuthentication struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		Selector *istioSelector `json:"selector,omitempty"`
		Mtls     *struct {
			Mode string `json:"mode"`
		} `json:"mtls,omitempty"`
		PortLevelMtls map[string]struct {
			Mode string `json:"mode"`
		} `json:"portLevelMtls,omitempty"`
	} `json:"spec"`
}

type authorizationPolicy struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		Selector *istioSelector `json:"selector,omitempty"`
		Action   string         `json:"action,omitempty"`
		Rules    []struct {
			From []struct {
				Source struct {
					Principals        []string `json:"principals,omitempty"`
					NotPrincipals     []string `json:"notPrincipals,omitempty"`
					RequestPrincipals []string `json:"requestPrincipals,omitempty"`
					Namespaces        []string `json:"namespaces,omitempty"`
					NotNamespaces     []string `json:"notNamespaces,omitempty"`
					IPBlocks          []string `json:"ipBlocks,omitempty"`
					NotIPBlocks       []string `json:"notIpBlocks,omitempty"`
				} `json:"source"`
			} `json:"from,omitempty"`
			To []struct {
				Operation struct {
					Hosts      []string `json:"hosts,omitempty"`
					Ports      []string `json:"ports,omitempty"`
					NotPorts   []string `json:"notPorts,omitempty"`
					Methods    []string `json:"methods,omitempty"`
					NotMethods []string `json:"notMethods,omitempty"`
					Paths      []string `json:"paths,omitempty"`
					NotPaths   []string `json:"notPaths,omitempty"`
				} `json:"operation"`
			} `json:"to,omitempty"`
			When []struct {
				Key       string   `json:"key"`
				Values    []string `json:"values,omitempty"`
				NotValues []string `json:"notValues,omitempty"`
			} `json:"when,omitempty"`
		} `json:"rules,omitempty"`
	} `json:"spec"`
}

// --- Prometheus -------------------------------------------------------------------

// ruleGroups is the Prometheus rule file format (and PrometheusRule's spec).
type ruleGroups struct {
	Groups []struct {
		Name     string `json:"name"`
		Interval string `json:"interval,omitempty"`
		Rules    []struct {
			Alert         string            `json:"alert,omitempty"`
			Record        string            `json:"record,omitempty"`
			Expr          string            `json:"expr"`
			For           string            `json:"for,omitempty"`
			KeepFiringFor string            `json:"keep_firing_for,omitempty"`
			Labels        map[string]string `json:"labels,omitempty"`
			Annotations   map[string]string `json:"annotations,omitempty"`
		} `json:"rules"`
	} `json:"groups"`
}

type prometheusRule struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       ruleGroups `json:"spec"`
}

type serviceMonitor struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector *struct {
			Any        bool     `json:"any,omitempty"`
			MatchNames []string `json:"matchNames,omitempty"`
		} `json:"namespaceSelector,omitempty"`
		JobLabel  string `json:"jobLabel,omitempty"`
		Endpoints []struct {
			Port          string `json:"port,omitempty"`
			Path          string `json:"path,omitempty"`
			Scheme        string `json:"scheme,omitempty"`
			Interval      string `json:"interval,omitempty"`
			ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// promConfig is the part of prometheus.yml the compose stack uses.
type promConfig struct {
	Global struct {
		ScrapeInterval     string `json:"scrape_interval,omitempty"`
		EvaluationInterval string `json:"evaluation_interval,omitempty"`
		ScrapeTimeout      string `json:"scrape_timeout,omitempty"`
	} `json:"global"`
	RuleFiles     []string `json:"rule_files,omitempty"`
	ScrapeConfigs []struct {
		JobName        string `json:"job_name"`
		MetricsPath    string `json:"metrics_path,omitempty"`
		Scheme         string `json:"scheme,omitempty"`
		ScrapeInterval string `json:"scrape_interval,omitempty"`
		StaticConfigs  []struct {
			Targets []string          `json:"targets"`
			Labels  map[string]string `json:"labels,omitempty"`
		} `json:"static_configs"`
	} `json:"scrape_configs"`
}

// --- Grafana provisioning -----------------------------------------------------------

type grafanaDatasources struct {
	APIVersion  int `json:"apiVersion"`
	Datasources []struct {
		Name      string `json:"name"`
		UID       string `json:"uid,omitempty"`
		Type      string `json:"type"`
		Access    string `json:"access,omitempty"`
		URL       string `json:"url,omitempty"`
		IsDefault bool   `json:"isDefault,omitempty"`
		Editable  bool   `json:"editable,omitempty"`
	} `json:"datasources"`
}

type grafanaDashboards struct {
	APIVersion int `json:"apiVersion"`
	Providers  []struct {
		Name                  string `json:"name"`
		OrgID                 int    `json:"orgId,omitempty"`
		Folder                string `json:"folder,omitempty"`
		Type                  string `json:"type"`
		DisableDeletion       bool   `json:"disableDeletion,omitempty"`
		AllowUIUpdates        bool   `json:"allowUiUpdates,omitempty"`
		UpdateIntervalSeconds int    `json:"updateIntervalSeconds,omitempty"`
		Options               struct {
			Path                      string `json:"path"`
			FoldersFromFilesStructure bool   `json:"foldersFromFilesStructure,omitempty"`
		} `json:"options"`
	} `json:"providers"`
}

// --- Kustomize ------------------------------------------------------------------

type kGenerator struct {
	Name      string   `json:"name"`
	Namespace string   `json:"namespace,omitempty"`
	Behavior  string   `json:"behavior,omitempty"`
	Files     []string `json:"files,omitempty"`
	Literals  []string `json:"literals,omitempty"`
	Envs      []string `json:"envs,omitempty"`
	Type      string   `json:"type,omitempty"`
	Options   *struct {
		DisableNameSuffixHash bool              `json:"disableNameSuffixHash,omitempty"`
		Labels                map[string]string `json:"labels,omitempty"`
		Annotations           map[string]string `json:"annotations,omitempty"`
	} `json:"options,omitempty"`
}

type kTarget struct {
	Group              string `json:"group,omitempty"`
	Version            string `json:"version,omitempty"`
	Kind               string `json:"kind,omitempty"`
	Name               string `json:"name,omitempty"`
	Namespace          string `json:"namespace,omitempty"`
	LabelSelector      string `json:"labelSelector,omitempty"`
	AnnotationSelector string `json:"annotationSelector,omitempty"`
}

type kustomization struct {
	APIVersion         string            `json:"apiVersion"`
	Kind               string            `json:"kind"`
	Namespace          string            `json:"namespace,omitempty"`
	NamePrefix         string            `json:"namePrefix,omitempty"`
	NameSuffix         string            `json:"nameSuffix,omitempty"`
	Resources          []string          `json:"resources,omitempty"`
	Components         []string          `json:"components,omitempty"`
	CommonAnnotations  map[string]string `json:"commonAnnotations,omitempty"`
	ConfigMapGenerator []kGenerator      `json:"configMapGenerator,omitempty"`
	SecretGenerator    []kGenerator      `json:"secretGenerator,omitempty"`
	Patches            []struct {
		Path    string          `json:"path,omitempty"`
		Patch   string          `json:"patch,omitempty"`
		Target  *kTarget        `json:"target,omitempty"`
		Options map[string]bool `json:"options,omitempty"`
	} `json:"patches,omitempty"`
	Images []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images,omitempty"`
	Replicas []struct {
		Name  string `json:"name"`
		Count int32  `json:"count"`
	} `json:"replicas,omitempty"`
}

// jsonPatchOp is one RFC 6902 operation.
type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	From  string `json:"from,omitempty"`
	Value any    `json:"value,omitempty"`
}
