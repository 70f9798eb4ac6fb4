{{/* The llm-router container (everything after its name), shared by both modes. */}}
{{- define "llm-router.container" -}}
image: {{ include "llm-router.image" . }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
command: ["/llm-router"]
args: ["serve", "--config", "/etc/llm-router/config.yaml"]
{{- if or .Values.secrets.create .Values.secrets.existingSecret }}
envFrom:
  - secretRef:
      name: {{ include "llm-router.secretName" . }}
{{- end }}
env:
  - name: GOMEMLIMIT
    valueFrom:
      resourceFieldRef:
        resource: limits.memory
  {{- if eq .Values.storage.type "postgres" }}
  - name: LLM_ROUTER_POSTGRES_DSN
    valueFrom:
      secretKeyRef:
        name: {{ .Values.storage.postgres.dsnSecret.name }}
        key: {{ .Values.storage.postgres.dsnSecret.key }}
  {{- end }}
  {{- if .Values.redis.enabled }}
  - name: LLM_ROUTER_REDIS_URL
    valueFrom:
      secretKeyRef:
        name: {{ .Values.redis.urlSecret.name }}
        key: {{ .Values.redis.urlSecret.key }}
  {{- end }}
ports:
  - name: http-admin
    containerPort: {{ .Values.adminPort }}
    protocol: TCP
  {{- if not (include "llm-router.sidecarMode" .) }}
  - name: grpc
    containerPort: 50051
    protocol: TCP
  {{- end }}
startupProbe:
  httpGet:
    path: /healthz
    port: http-admin
  periodSeconds: 1
  failureThreshold: 60
livenessProbe:
  httpGet:
    path: /healthz
    port: http-admin
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /readyz
    port: http-admin
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
resources:
  {{- toYaml .Values.resources | nindent 2 }}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: [ALL]
volumeMounts:
  - name: config
    mountPath: /etc/llm-router
    readOnly: true
  {{- if include "llm-router.sidecarMode" . }}
  - name: extproc-socket
    mountPath: /var/run/llm-router
  {{- end }}
  {{- if eq .Values.storage.type "sqlite" }}
  - name: data
    mountPath: {{ dir .Values.storage.sqlite.path }}
  {{- end }}
{{- end }}
