{{/* Labels on everything the chart installs: `helm uninstall` and `kubectl get -l` find it all. */}}
{{- define "sp.labels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: streamlit-preview
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{/* The project image: by digest when one is set, the tag kept for people to read. */}}
{{- define "sp.image" -}}
{{- $tag := .Values.image.tag | default (printf "%s-python3.12" .Chart.AppVersion) -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}:{{ $tag }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ $tag }}
{{- end -}}
{{- end }}

{{/* A repository's namespace: its own, or preview-<owner>-<name> (DNS-safe, at most 63). */}}
{{- define "sp.namespaceOf" -}}
{{- if .namespace -}}
{{ .namespace }}
{{- else -}}
{{ printf "preview-%s" (.name | lower | replace "/" "-" | replace "." "-" | replace "_" "-") | trunc 63 | trimSuffix "-" }}
{{- end -}}
{{- end }}

{{/* Every namespace previews run in, as a YAML list: namespace, repository, label, quota. */}}
{{- define "sp.previewNamespaces" -}}
{{- range .Values.repositories }}
- namespace: {{ include "sp.namespaceOf" . }}
  repository: {{ .name | quote }}
  label: {{ .name | replace "/" "." | quote }}
  quota: {{ .quota | default dict | toJson }}
{{- end }}
{{- if .Values.sharedNamespace.enabled }}
- namespace: {{ .Values.sharedNamespace.name }}
  repository: ""
  label: ""
  quota: {}
{{- end }}
{{- end }}

{{- define "sp.signInAddress" -}}
{{- if .Values.signIn.external -}}
{{ .Values.signIn.external }}
{{- else -}}
preview-sign-in.{{ .Release.Namespace }}.svc.cluster.local:4180
{{- end -}}
{{- end }}

{{- define "sp.receiverURL" -}}
{{- if .Values.receiver.external -}}
{{ .Values.receiver.external | trimSuffix "/" }}
{{- else -}}
http://streamlit-preview-hook.{{ .Release.Namespace }}.svc.cluster.local
{{- end -}}
{{- end }}

{{- define "sp.outside" -}}
{{- /* HTTPS outside the cluster: each allowed range with the ranges that are never allowed. */ -}}
{{- range $cidr := .egressHttpsTo }}
- ipBlock:
    cidr: {{ $cidr }}
    {{- $v6 := contains ":" $cidr }}
    {{- $except := list }}
    {{- range $.egressExcept }}{{ if eq (contains ":" .) $v6 }}{{ $except = append $except . }}{{ end }}{{ end }}
    {{- if $except }}
    except: {{- toYaml $except | nindent 6 }}
    {{- end }}
{{- end }}
{{- end }}
