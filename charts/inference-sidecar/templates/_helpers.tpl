{{/*
Names. Every helper takes the chart's own context: in sidecar mode, an app chart that has this chart as a dependency
passes (dict "Values" (index .Values "inference-sidecar") "Release" .Release "Chart" (dict "Name" "inference-sidecar" "AppVersion" "<version>")).
*/}}
{{- define "inference-sidecar.name" -}}
{{- default "inference-sidecar" .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "inference-sidecar.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "inference-sidecar.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "inference-sidecar.selectorLabels" -}}
app.kubernetes.io/name: {{ include "inference-sidecar.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "inference-sidecar.labels" -}}
{{ include "inference-sidecar.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | default "unknown" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | default "Helm" }}
app.kubernetes.io/component: {{ .Values.mode }}
{{- end -}}

{{- define "inference-sidecar.keysSecret" -}}
{{- .Values.providerKeys.existingSecret | default (printf "%s-keys" (include "inference-sidecar.fullname" .)) -}}
{{- end -}}

{{- define "inference-sidecar.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "inference-sidecar.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/*
How many replicas share one Redis, for Sidecar:RateLimits:ExpectedReplicas (while Redis is down, FailureMode Open admits
limit / ExpectedReplicas per replica): expectedReplicas when set; else in gateway mode the HPA's maxReplicas when
autoscaling is on, or replicaCount; in sidecar mode replicaCount (set it to your app's replica count or HPA maximum).
*/}}
{{- define "inference-sidecar.expectedReplicas" -}}
{{- if .Values.expectedReplicas -}}
{{- .Values.expectedReplicas -}}
{{- else if and (eq .Values.mode "gateway") .Values.autoscaling.enabled -}}
{{- .Values.autoscaling.maxReplicas -}}
{{- else -}}
{{- .Values.replicaCount -}}
{{- end -}}
{{- end -}}

{{/*
The appsettings JSON the ConfigMap holds: config, plus RateLimits:ExpectedReplicas from the replica count unless config
sets it, plus the admin token file reference when a token is set.
*/}}
{{- define "inference-sidecar.appsettings" -}}
{{- $config := deepCopy .Values.config -}}
{{- $sidecarConfig := get $config "Sidecar" | default dict -}}
{{- $limits := get $sidecarConfig "RateLimits" | default dict -}}
{{- if not (hasKey $limits "ExpectedReplicas") -}}
{{- $_ := set $limits "ExpectedReplicas" (include "inference-sidecar.expectedReplicas" . | int) -}}
{{- end -}}
{{- $_ := set $sidecarConfig "RateLimits" $limits -}}
{{- $_ := set $config "Sidecar" $sidecarConfig -}}
{{- if or .Values.adminToken.existingSecret .Values.adminToken.value -}}
{{- $sidecar := get $config "Sidecar" | default dict -}}
{{- $_ := set $sidecar "Admin" (dict "Token" "file:/var/run/secrets/inference-sidecar/admin/token") -}}
{{- $_ := set $config "Sidecar" $sidecar -}}
{{- end -}}
{{- toPrettyJson $config -}}
{{- end -}}

{{/*
The sidecar container. In sidecar mode, add it to your pod's containers:
  containers:
    - name: my-app
      ...
    {{- include "inference-sidecar.container" $ctx | nindent 4 }}
*/}}
{{- define "inference-sidecar.container" -}}
- name: inference-sidecar
  image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}{{ if eq (.Values.image.build | default "aot") "jit" }}-jit{{ end }}"
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  ports:
    - name: proxy
      containerPort: {{ .Values.ports.proxy }}
      protocol: TCP
    - name: management
      containerPort: {{ .Values.ports.management }}
      protocol: TCP
  env:
    - name: SIDECAR_CONFIG
      value: /etc/inference-sidecar/appsettings.json
    - name: Kestrel__Endpoints__Proxy__Url
      {{- if eq .Values.mode "sidecar" }}
      value: "http://127.0.0.1:{{ .Values.ports.proxy }}"
      {{- else }}
      value: "http://0.0.0.0:{{ .Values.ports.proxy }}"
      {{- end }}
    - name: Kestrel__Endpoints__Management__Url
      value: "http://0.0.0.0:{{ .Values.ports.management }}"
    {{- if .Values.redis.existingSecret }}
    - name: ConnectionStrings__Redis
      valueFrom:
        secretKeyRef:
          name: {{ .Values.redis.existingSecret }}
          key: {{ .Values.redis.existingSecretKey }}
    {{- else if .Values.redis.connectionString }}
    - name: ConnectionStrings__Redis
      valueFrom:
        secretKeyRef:
          name: {{ include "inference-sidecar.keysSecret" . }}-redis
          key: connectionString
    {{- end }}
    {{- if .Values.otlp.endpoint }}
    - name: OTEL_EXPORTER_OTLP_ENDPOINT
      value: {{ .Values.otlp.endpoint | quote }}
    - name: OTEL_EXPORTER_OTLP_PROTOCOL
      value: {{ .Values.otlp.protocol | quote }}
    - name: OTEL_SERVICE_NAME
      value: {{ include "inference-sidecar.fullname" . | quote }}
    {{- end }}
    {{- with .Values.env }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.probes }}
  startupProbe:
    httpGet: { path: {{ .startup.path }}, port: management }
    periodSeconds: {{ .startup.periodSeconds }}
    failureThreshold: {{ .startup.failureThreshold }}
  livenessProbe:
    httpGet: { path: {{ .liveness.path }}, port: management }
    periodSeconds: {{ .liveness.periodSeconds }}
    failureThreshold: {{ .liveness.failureThreshold }}
  readinessProbe:
    httpGet: { path: {{ .readiness.path }}, port: management }
    periodSeconds: {{ .readiness.periodSeconds }}
    failureThreshold: {{ .readiness.failureThreshold }}
  {{- end }}
  resources:
    {{- toYaml .Values.resources | nindent 4 }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  volumeMounts:
    - name: inference-sidecar-config
      mountPath: /etc/inference-sidecar
      readOnly: true
    - name: inference-sidecar-keys
      mountPath: /var/run/secrets/inference-sidecar/keys
      readOnly: true
    {{- if or .Values.adminToken.existingSecret .Values.adminToken.value }}
    - name: inference-sidecar-admin
      mountPath: /var/run/secrets/inference-sidecar/admin
      readOnly: true
    {{- end }}
    - name: inference-sidecar-tmp
      mountPath: /tmp
{{- end -}}

{{/* The volumes the container mounts; add them to your pod's volumes in sidecar mode. */}}
{{- define "inference-sidecar.volumes" -}}
- name: inference-sidecar-config
  configMap:
    name: {{ include "inference-sidecar.fullname" . }}
- name: inference-sidecar-keys
  secret:
    secretName: {{ include "inference-sidecar.keysSecret" . }}
{{- if or .Values.adminToken.existingSecret .Values.adminToken.value }}
- name: inference-sidecar-admin
  secret:
    secretName: {{ .Values.adminToken.existingSecret | default (printf "%s-admin" (include "inference-sidecar.fullname" .)) }}
    items:
      - key: {{ if .Values.adminToken.existingSecret }}{{ .Values.adminToken.existingSecretKey }}{{ else }}token{{ end }}
        path: token
{{- end }}
- name: inference-sidecar-tmp
  emptyDir:
    medium: Memory
    sizeLimit: 16Mi
{{- end -}}

{{/* Pod annotation that restarts pods when the rendered config changes. */}}
{{- define "inference-sidecar.checksum" -}}
checksum/config: {{ include "inference-sidecar.appsettings" . | sha256sum }}
{{- end -}}
