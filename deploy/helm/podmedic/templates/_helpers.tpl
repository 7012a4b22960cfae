{{/* Name of the chart, or nameOverride. */}}
{{- define "podmedic.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: fullnameOverride, else the release name if it contains the chart name, else release-chart. */}}
{{- define "podmedic.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "podmedic.selectorLabels" -}}
app.kubernetes.io/name: {{ include "podmedic.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "podmedic.labels" -}}
{{ include "podmedic.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "podmedic.serviceAccountName" -}}
{{- default (include "podmedic.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The user name the API server gives the controller's ServiceAccount. */}}
{{- define "podmedic.serviceAccountUser" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "podmedic.serviceAccountName" .) -}}
{{- end -}}

{{- define "podmedic.leaseName" -}}
{{- default (include "podmedic.fullname" .) .Values.leaderElection.leaseName -}}
{{- end -}}

{{- define "podmedic.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}
