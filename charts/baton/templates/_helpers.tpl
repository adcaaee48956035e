{{- /*
baton.name is the chart name, or nameOverride.
*/}}
{{- define "baton.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- /*
baton.fullname is "<release>-<name>" (just "<release>" when the release name already
contains the chart name), truncated to 63 characters: a valid name for every object.
*/}}
{{- define "baton.fullname" -}}
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

{{- /*
baton.chart is "<chart>-<version>" for the helm.sh/chart label.
*/}}
{{- define "baton.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- /*
baton.labels are the common labels of every object the chart creates. Note that
app.kubernetes.io/managed-by is Helm here: the operator selects only the Jobs and pods
it labelled app.kubernetes.io/managed-by=baton, never the chart's own objects.
*/}}
{{- define "baton.labels" -}}
helm.sh/chart: {{ include "baton.chart" . }}
app.kubernetes.io/name: {{ include "baton.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: baton
{{- end }}

{{- /*
baton.selectorLabels select the operator pods (immutable once installed).
*/}}
{{- define "baton.selectorLabels" -}}
app.kubernetes.io/name: {{ include "baton.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- /*
baton.serviceAccountName is the operator's ServiceAccount (Helm's RBAC convention).
*/}}
{{- define "baton.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "baton.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- /*
baton.runnerServiceAccountName is the ServiceAccount flow pods run as.
*/}}
{{- define "baton.runnerServiceAccountName" -}}
{{- required "runner.serviceAccount.name must not be empty" .Values.runner.serviceAccount.name }}
{{- end }}

{{- /*
baton.runnerNamespaces is the JSON list of namespaces flows run in (runner.namespaces,
or the release namespace). Use: include "baton.runnerNamespaces" . | fromJsonArray
*/}}
{{- define "baton.runnerNamespaces" -}}
{{- if .Values.runner.namespaces }}
{{- .Values.runner.namespaces | uniq | toJson }}
{{- else }}
{{- list .Release.Namespace | toJson }}
{{- end }}
{{- end }}

{{- /*
baton.image is "<repository>:<tag>", the tag defaulting to the appVersion.
*/}}
{{- define "baton.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}
