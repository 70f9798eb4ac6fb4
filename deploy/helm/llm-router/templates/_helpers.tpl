{{/* Chart name, truncated to the 63 characters Kubernetes names allow. */}}
{{- define "llm-router.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: the release name, unless it already contains the chart name. */}}
{{- define "llm-router.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "llm-router.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llm-router.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "llm-router.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "llm-router.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "llm-router.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "llm-router.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "llm-router.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* The Secret whose keys become llm-router's environment. */}}
{{- define "llm-router.secretName" -}}
{{- if .Values.secrets.create }}
{{- printf "%s-secrets" (include "llm-router.fullname" .) }}
{{- else }}
{{- .Values.secrets.existingSecret }}
{{- end }}
{{- end }}

{{- define "llm-router.sidecarMode" -}}
{{- if eq .Values.mode "sidecar" }}true{{ end }}
{{- end }}

{{/*
The llm-router config as rendered: .Values.config with the fields the chart owns
(listener addresses, the upstream filter in istio mode, storage).
*/}}
{{- define "llm-router.config" -}}
{{- if not (has .Values.mode (list "sidecar" "istio")) }}
{{- fail (printf "mode must be \"sidecar\" or \"istio\", not %q" .Values.mode) }}
{{- end }}
{{- $cfg := deepCopy .Values.config }}
{{- $server := $cfg.server | default dict }}
{{- if eq .Values.mode "istio" }}
{{- $_ := set $server "extproc_address" "0.0.0.0:50051" }}
{{- $_ := set $server "upstream_filter" false }}
{{- else }}
{{- $_ := set $server "extproc_address" "unix:///var/run/llm-router/extproc.sock" }}
{{- end }}
{{- $_ := set $server "admin_address" (printf "0.0.0.0:%d" (int .Values.adminPort)) }}
{{- $_ := set $cfg "server" $server }}
{{- if eq .Values.storage.type "postgres" }}
{{- $storage := dict "postgres_dsn" "${LLM_ROUTER_POSTGRES_DSN}" }}
{{- with .Values.storage.postgres.schema }}{{ $_ := set $storage "postgres_schema" . }}{{ end }}
{{- $_ := set $cfg "storage" $storage }}
{{- else if eq .Values.storage.type "sqlite" }}
{{- $_ := set $cfg "storage" (dict "sqlite_path" .Values.storage.sqlite.path) }}
{{- else if eq .Values.storage.type "none" }}
{{- if and $cfg.auth $cfg.auth.virtual_keys }}
{{- fail "storage.type none: virtual keys need a store; set config.auth.virtual_keys to false or choose postgres or sqlite" }}
{{- end }}
{{- $_ := unset $cfg "storage" }}
{{- else }}
{{- fail (printf "storage.type must be postgres, sqlite or none, not %q" .Values.storage.type) }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}

{{/*
The Envoy bootstrap (sidecar mode): envoy.bootstrap or files/envoy.yaml, plus the
stats listener on envoy.statsPort that serves only /ready and /stats/prometheus from
the loopback-only admin interface. The listener carries the main listener's ext_proc
filter disabled on both routes, so `llm-router validate` accepts the file and probes
never reach llm-router.
*/}}
{{- define "llm-router.envoyBootstrap" -}}
{{- $raw := .Values.envoy.bootstrap | default (.Files.Get "files/envoy.yaml") }}
{{- $boot := fromYaml $raw }}
{{- if hasKey $boot "Error" }}
{{- fail (printf "envoy.bootstrap is not valid YAML: %s" (get $boot "Error")) }}
{{- end }}
{{- $sr := $boot.static_resources | default dict }}
{{- $extproc := dict }}
{{- range $l := $sr.listeners }}
{{- range $fc := $l.filter_chains }}
{{- range $f := $fc.filters }}
{{- if and (eq $f.name "envoy.filters.network.http_connection_manager") $f.typed_config }}
{{- range $hf := $f.typed_config.http_filters }}
{{- if and (eq $hf.name "envoy.filters.http.ext_proc") (not $extproc) }}
{{- $extproc = $hf }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- if not $extproc }}
{{- fail "envoy.bootstrap has no envoy.filters.http.ext_proc filter: generate it with `llm-router envoy --config ...`" }}
{{- end }}
{{- $disabled := dict "envoy.filters.http.ext_proc" (dict "@type" "type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute" "disabled" true) }}
{{- $ready := dict "name" "ready" "match" (dict "path" "/ready") "route" (dict "cluster" "envoy_admin") "typed_per_filter_config" $disabled }}
{{- $prom := dict "name" "prometheus" "match" (dict "path" "/stats/prometheus") "route" (dict "cluster" "envoy_admin") "typed_per_filter_config" $disabled }}
{{- $router := dict "name" "envoy.filters.http.router" "typed_config" (dict "@type" "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router") }}
{{- $vhost := dict "name" "envoy_stats" "domains" (list "*") "routes" (list $ready $prom) }}
{{- $hcm := dict "@type" "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager" "stat_prefix" "envoy_stats" "route_config" (dict "name" "envoy_stats" "virtual_hosts" (list $vhost)) "http_filters" (list $extproc $router) }}
{{- $listener := dict "name" "envoy_stats" "address" (dict "socket_address" (dict "address" "0.0.0.0" "port_value" (int .Values.envoy.statsPort))) "filter_chains" (list (dict "filters" (list (dict "name" "envoy.filters.network.http_connection_manager" "typed_config" $hcm)))) }}
{{- $adminPort := 9901 }}
{{- with $boot.admin }}{{ with .address }}{{ with .socket_address }}{{ with .port_value }}{{ $adminPort = int . }}{{ end }}{{ end }}{{ end }}{{ end }}
{{- $adminEndpoint := dict "endpoint" (dict "address" (dict "socket_address" (dict "address" "127.0.0.1" "port_value" $adminPort))) }}
{{- $cluster := dict "name" "envoy_admin" "type" "STATIC" "connect_timeout" "1s" "load_assignment" (dict "cluster_name" "envoy_admin" "endpoints" (list (dict "lb_endpoints" (list $adminEndpoint)))) }}
{{- $_ := set $sr "listeners" (append ($sr.listeners | default list) $listener) }}
{{- $_ := set $sr "clusters" (append ($sr.clusters | default list) $cluster) }}
{{- $_ := set $boot "static_resources" $sr }}
{{- toYaml $boot }}
{{- end }}

{{/* A backend's name, as pkg/config derives it: "<provider>.<model>" sanitized. */}}
{{- define "llm-router.backendName" -}}
{{- $b := index . 0 }}{{- $m := index . 1 }}
{{- if $b.name }}{{ $b.name }}{{ else }}{{ regexReplaceAll "[^A-Za-z0-9._-]" (printf "%s.%s" $b.provider ($b.model | default $m.name)) "-" }}{{ end }}
{{- end }}
