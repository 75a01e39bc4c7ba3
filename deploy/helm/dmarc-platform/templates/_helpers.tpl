{{/* The chart name, or nameOverride. */}}
{{- define "dmarc.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Resource name prefix: fullnameOverride, else <release>-<chart> (just the release when it holds the chart name). */}}
{{- define "dmarc.fullname" -}}
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

{{/* Name of one service's resources: <fullname>-<service>. Call with (dict "root" $ "name" $name). */}}
{{- define "dmarc.serviceFullname" -}}
{{- printf "%s-%s" (include "dmarc.fullname" .root) .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dmarc.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "dmarc.labels" -}}
helm.sh/chart: {{ include "dmarc.chart" . }}
app.kubernetes.io/name: {{ include "dmarc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: dmarc-platform
{{- end }}

{{/* Selector of one service's pods. Call with (dict "root" $ "name" $name). */}}
{{- define "dmarc.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dmarc.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/* Labels of one service's resources. Call with (dict "root" $ "name" $name). */}}
{{- define "dmarc.serviceLabels" -}}
{{ include "dmarc.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end }}

{{/* The image every container runs. */}}
{{- define "dmarc.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "dmarc.configMapName" -}}
{{- printf "%s-env" (include "dmarc.fullname" .) }}
{{- end }}

{{/* The Secret holding DATABASE_URL and REDIS_URL: the operator's, or the one this chart creates. */}}
{{- define "dmarc.secretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else }}
{{- include "dmarc.fullname" . }}
{{- end }}
{{- end }}

{{/* The Secret the migration hook reads: made before the release's own resources exist, hence its own. */}}
{{- define "dmarc.migrationSecretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else }}
{{- printf "%s-migrations" (include "dmarc.fullname" .) }}
{{- end }}
{{- end }}

{{/* The settings without which nothing can run; one clear message each. */}}
{{- define "dmarc.validate" -}}
{{- if not .Values.config.kafkaBrokers }}
{{- fail "config.kafkaBrokers is required: the Kafka bootstrap brokers, comma-separated host:port (e.g. --set config.kafkaBrokers=kafka:9092)" }}
{{- end }}
{{- if not .Values.secrets.existingSecret }}
{{- if not .Values.secrets.databaseUrl }}
{{- fail "secrets.databaseUrl is required (postgres://user:password@host:5432/database), or secrets.existingSecret naming a Secret that holds DATABASE_URL and REDIS_URL" }}
{{- end }}
{{- if not .Values.secrets.redisUrl }}
{{- fail "secrets.redisUrl is required (redis://host:6379), or secrets.existingSecret naming a Secret that holds DATABASE_URL and REDIS_URL" }}
{{- end }}
{{- end }}
{{- $dns := index .Values.services "dns" | default dict }}
{{- $aggregation := index .Values.services "aggregation" | default dict }}
{{- if and $aggregation.enabled (not $dns.enabled) (eq (($aggregation.env | default dict).SOURCE_TOPIC | default "") "dmarc.reports.enriched") }}
{{- fail "services.dns.enabled is false but services.aggregation.env.SOURCE_TOPIC is dmarc.reports.enriched, which only the dns service writes: set it to dmarc.reports.parsed" }}
{{- end }}
{{- end }}

{{/* The pod-level parts every pod shares (service account, pull secrets, security context). */}}
{{- define "dmarc.podCommon" -}}
{{- with .Values.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}

{{/* Writable places for a read-only root filesystem: the `dmarc` bundle (/app/dist) and /tmp. */}}
{{- define "dmarc.volumeMounts" -}}
- name: bundle
  mountPath: /app/dist
- name: tmp
  mountPath: /tmp
{{- end }}

{{- define "dmarc.volumes" -}}
- name: bundle
  emptyDir: { sizeLimit: 64Mi }
- name: tmp
  emptyDir: { sizeLimit: 64Mi }
{{- end }}
