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

{{- /*
baton.operatorNamespacedRules are the operator's rules on namespaced objects: in a
ClusterRole when it watches the whole cluster, in a Role per watched namespace when
operator.watchNamespaces is set (so it creates Jobs nowhere else).
*/}}
{{- define "baton.operatorNamespacedRules" }}
  # kopf watches the four kinds (on.event handlers: it writes no finalizers or
  # annotations on users' objects, so no patch/update on them).
  - apiGroups: ["baton.dev"]
    resources: ["flows", "workpools", "deployments", "flowruns"]
    verbs: ["get", "list", "watch"]
  # The scheduler creates one FlowRun per fire time and deletes runs past the
  # Deployment's history limits.
  - apiGroups: ["baton.dev"]
    resources: ["flowruns"]
    verbs: ["create", "delete"]
  # Status only, never spec (Argo CD would see drift): Deployment schedule status,
  # FlowRun states, WorkPool counts, Flow conditions.
  - apiGroups: ["baton.dev"]
    resources: ["flows/status", "workpools/status", "deployments/status", "flowruns/status"]
    verbs: ["get", "patch"]
  # FlowRuns (owned by their Deployment) and Jobs (owned by their FlowRun) set
  # blockOwnerDeletion; clusters running the OwnerReferencesPermissionEnforcement
  # admission plugin require this. There is no such endpoint to call.
  - apiGroups: ["baton.dev"]
    resources: ["deployments/finalizers", "flowruns/finalizers"]
    verbs: ["update"]
  # The run controller creates one Job per attempt, follows it, deletes it on cancel.
  # It lists and watches only the ones labelled app.kubernetes.io/managed-by=baton;
  # RBAC cannot express a label selector, so the verbs cover the namespace
  # (or, without operator.watchNamespaces, the cluster).
  - apiGroups: ["batch"]
    resources: ["jobs"]
    verbs: ["get", "list", "watch", "create", "delete"]
  # Pods of those Jobs (same selector): eviction, OOM kill, image pull errors.
  - apiGroups: [""]
    resources: ["pods"]
    verbs: ["get", "list", "watch"]
  # Events with stable reasons (controller/events.py); list: a Job's FailedCreate
  # Events, read by the Job's UID while it has no pod (controller/startup.py).
  - apiGroups: [""]
    resources: ["events"]
    verbs: ["create", "list"]
{{- end }}

{{- /*
baton.automationsServiceAccountName is the automations component's ServiceAccount.
*/}}
{{- define "baton.automationsServiceAccountName" -}}
{{- if .Values.automations.serviceAccount.create }}
{{- default (printf "%s-automations" (include "baton.fullname" .) | trunc 63 | trimSuffix "-") .Values.automations.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.automations.serviceAccount.name }}
{{- end }}
{{- end }}

{{- /*
baton.automationsSelectorLabels select the automations pods.
*/}}
{{- define "baton.automationsSelectorLabels" -}}
app.kubernetes.io/name: {{ include "baton.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: automations
{{- end }}

{{- /*
baton.automationsNamespacedRules are the automations component's rules on namespaced
objects (operator/baton/automations/): in a ClusterRole when the operator watches the
whole cluster, in a Role per watched namespace otherwise. Secrets are not here: they
are granted by name only, in automations-secrets-role.yaml.
*/}}
{{- define "baton.automationsNamespacedRules" }}
  # It lists and watches what triggers look at (app.py, controller.py).
  - apiGroups: ["baton.dev"]
    resources: ["flowruns", "deployments", "automations"]
    verbs: ["get", "list", "watch"]
  # The Automations a Deployment's spec.notifications expands to (shorthand.py): it
  # creates, updates and deletes those it owns.
  - apiGroups: ["baton.dev"]
    resources: ["automations"]
    verbs: ["create", "patch", "delete"]
  # Deliveries, failures and conditions.
  - apiGroups: ["baton.dev"]
    resources: ["automations/status"]
    verbs: ["get", "patch"]
  # The runDeployment action creates a FlowRun; cancelRun sets spec.cancelRequested
  # (as `baton cancel` does).
  - apiGroups: ["baton.dev"]
    resources: ["flowruns"]
    verbs: ["create", "patch"]
  # pauseDeployment / resumeDeployment set spec.paused.
  - apiGroups: ["baton.dev"]
    resources: ["deployments"]
    verbs: ["patch"]
  # Events on Automations (Delivered, DeliveryRetrying, DeliveryFailed, TemplateError).
  - apiGroups: [""]
    resources: ["events"]
    verbs: ["create"]
{{- end }}
