{{/* The base name of every object: the release name, suffixed with -tessera unless it says tessera. */}}
{{- define "tessera.fullname" -}}
{{- if contains "tessera" .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-tessera" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tessera.labels" -}}
app.kubernetes.io/part-of: tessera
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Selector labels of one component: (dict "ctx" $ "component" "control-plane") */}}
{{- define "tessera.selector" -}}
app.kubernetes.io/name: tessera
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* An image reference: (dict "ctx" $ "image" .Values.proxy.image) */}}
{{- define "tessera.image" -}}
{{- $tag := .image.tag | default .ctx.Values.image.tag | default .ctx.Chart.AppVersion -}}
{{- printf "%s/%s:%s" .ctx.Values.image.registry .image.repository $tag -}}
{{- end -}}

{{- define "tessera.controlPlaneName" -}}{{ include "tessera.fullname" . }}-control-plane{{- end -}}
{{- define "tessera.meshName" -}}{{ include "tessera.fullname" . }}-mesh{{- end -}}
{{- define "tessera.injectorName" -}}{{ include "tessera.fullname" . }}-injector{{- end -}}

{{/* The mesh URL that proxies in the cluster connect to. */}}
{{- define "tessera.meshAddress" -}}
{{- printf "http://%s.%s.svc:15010" (include "tessera.meshName" .) .Release.Namespace -}}
{{- end -}}

{{/* Pod security shared by every Tessera container. */}}
{{- define "tessera.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}
{{- define "tessera.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{/* What both injector webhooks share: (dict "inj" .Values.injector "name" $name "namespace" .Release.Namespace) */}}
{{- define "tessera.webhookCommon" -}}
admissionReviewVersions: [v1]
sideEffects: None
failurePolicy: {{ .inj.failurePolicy }}
timeoutSeconds: {{ .inj.timeoutSeconds }}
reinvocationPolicy: Never
clientConfig:
  service:
    name: {{ .name }}
    namespace: {{ .namespace }}
    path: /mutate
    port: 443
rules:
  - operations: [CREATE]
    apiGroups: [""]
    apiVersions: [v1]
    resources: [pods]
    scope: Namespaced
{{- end -}}
