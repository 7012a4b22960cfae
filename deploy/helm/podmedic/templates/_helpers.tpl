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

{{/* An approvers setting as `podmedic run` reads it: a map (namespace or "*" -> list of ids) becomes `ns=a,b;*=c`; a string passes as is. */}}
{{- define "podmedic.approvers" -}}
{{- if kindIs "string" . -}}
{{- . -}}
{{- else -}}
{{- $parts := list -}}
{{- range $ns, $ids := . -}}
{{- $parts = append $parts (printf "%s=%s" $ns (join "," $ids)) -}}
{{- end -}}
{{- join ";" $parts -}}
{{- end -}}
{{- end -}}

{{/* chatops.slack.users as `podmedic run` reads it: a map (Slack user id -> Kubernetes user) becomes `U1=alice,U2=bob`; a string passes as is. */}}
{{- define "podmedic.slackUsers" -}}
{{- if kindIs "string" . -}}
{{- . -}}
{{- else -}}
{{- $parts := list -}}
{{- range $id, $user := . -}}
{{- $parts = append $parts (printf "%s=%s" $id $user) -}}
{{- end -}}
{{- join "," $parts -}}
{{- end -}}
{{- end -}}

{{/* Where the ChatOps Secret's keys and the approvers file are mounted. */}}
{{- define "podmedic.chatopsSecretDir" -}}/etc/podmedic/chatops/secrets{{- end -}}
{{- define "podmedic.approversDir" -}}/etc/podmedic/chatops/approvers{{- end -}}
{{- define "podmedic.llmSecretDir" -}}/etc/podmedic/llm{{- end -}}

{{/* The ConfigMap with the approvers file: the chart's own (approversFile.content) or yours (approversFile.existingConfigMap); empty when neither. */}}
{{- define "podmedic.approversConfigMap" -}}
{{- $f := .Values.chatops.approversFile -}}
{{- if $f.existingConfigMap -}}
{{- $f.existingConfigMap -}}
{{- else if $f.content -}}
{{- printf "%s-chatops-approvers" (include "podmedic.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* "true" when any Slack credential is mounted (Slack's API is then reached over HTTPS). */}}
{{- define "podmedic.slackOn" -}}
{{- $k := .Values.chatops.keys -}}
{{- if and .Values.chatops.existingSecret (or $k.slackSigningSecret $k.slackBotToken $k.slackWebhookURL) -}}true{{- end -}}
{{- end -}}

{{/*
The ChatOps settings, checked at install time as `podmedic run` checks them
at start-up (src/chatops/mod.rs), so that a mistake fails `helm install`
instead of crash-looping the controller. Renders nothing.
*/}}
{{- define "podmedic.validateChatops" -}}
{{- $c := .Values.chatops -}}
{{- $k := $c.keys -}}
{{- $anyKey := or $k.slackSigningSecret $k.slackBotToken $k.slackWebhookURL $k.webhookURL $k.webhookSecret -}}
{{- $file := include "podmedic.approversConfigMap" . -}}
{{- if and $c.existingSecret (not $anyKey) -}}
{{- fail "chatops.existingSecret is set but chatops.keys names none of its keys: name the keys your Secret holds (e.g. chatops.keys.slackSigningSecret=slack-signing-secret)" -}}
{{- end -}}
{{- if and $anyKey (not $c.existingSecret) -}}
{{- fail "chatops.keys names Secret keys but chatops.existingSecret is empty: set the Secret's name" -}}
{{- end -}}
{{- if and $c.slack.channel (not (and $c.existingSecret $k.slackBotToken)) -}}
{{- fail "chatops.slack.channel needs the bot token: chatops.existingSecret and chatops.keys.slackBotToken" -}}
{{- end -}}
{{- if and $c.slack.approvers (not (and $c.existingSecret $k.slackSigningSecret)) -}}
{{- fail "chatops.slack.approvers needs the Slack app's signing secret: chatops.existingSecret and chatops.keys.slackSigningSecret" -}}
{{- end -}}
{{- if and $c.existingSecret $k.slackSigningSecret (not $c.slack.approvers) (not $file) -}}
{{- fail "chatops.keys.slackSigningSecret turns Slack's buttons on, but nobody may approve: set chatops.slack.approvers or chatops.approversFile" -}}
{{- end -}}
{{- if and $c.webhook.approvers (not (and $c.existingSecret $k.webhookSecret)) -}}
{{- fail "chatops.webhook.approvers needs the webhook secret: chatops.existingSecret and chatops.keys.webhookSecret" -}}
{{- end -}}
{{- if and (regexMatch "(^|[=,;])\\s*\\*\\s*([,;]|$)" (include "podmedic.approvers" $c.slack.approvers)) (not $c.subjectAccessReview) -}}
{{- fail "chatops.slack.approvers lists \"*\" as an approver: every member of the Slack workspace, guests included, could approve. List Slack user and user-group ids, or set chatops.subjectAccessReview=true (with chatops.slack.users) so that Kubernetes RBAC decides" -}}
{{- end -}}
{{- if and $c.subjectAccessReview (not $c.slack.users) (not $file) -}}
{{- fail "chatops.subjectAccessReview needs Slack users mapped to Kubernetes users: chatops.slack.users or chatops.approversFile" -}}
{{- end -}}
{{- if and $c.approversFile.existingConfigMap $c.approversFile.content -}}
{{- fail "chatops.approversFile: set existingConfigMap or content, not both" -}}
{{- end -}}
{{- end -}}
