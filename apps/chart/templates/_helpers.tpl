{{/* Labels every resource carries. */}}
{{- define "workshop-app.labels" -}}
app.kubernetes.io/part-of: workshop-app
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* Which peers each service calls; the app reads ISTIO_SVC_<PEER> for each. */}}
{{- define "workshop-app.peers" -}}
frontend-portal: [auth-service, content-generator, image-processor, mailing-service]
auth-service: []
content-generator: []
image-processor: [content-generator, auth-service]
mailing-service: [auth-service]
{{- end }}

{{/* Image reference: a per-version or per-service override, else <registry>/<service>:<tag>; no tag
     anywhere means the chart's appVersion (the tag the images workflow pushes from main). */}}
{{- define "workshop-app.image" -}}
{{- $g := .root.Values.global.image -}}
{{- $svcImage := .svc.image | default dict -}}
{{- $verImage := .ver.image | default dict -}}
{{- $repository := $verImage.repository | default $svcImage.repository | default (printf "%s/%s" $g.registry .name) -}}
{{- $tag := $verImage.tag | default $svcImage.tag | default $g.tag | default .root.Chart.AppVersion -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end }}

{{/* Where the apps find PostgreSQL: the external host when set, else the in-chart StatefulSet. */}}
{{- define "workshop-app.postgresHost" -}}
{{- $pg := .Values.stores.postgres -}}
{{- if $pg.external.host -}}{{ $pg.external.host }}{{- else if $pg.enabled -}}postgres{{- else -}}
{{- fail "image-processor needs PostgreSQL: set stores.postgres.enabled or stores.postgres.external.host" -}}
{{- end -}}
{{- end }}

{{- define "workshop-app.postgresPort" -}}
{{- $pg := .Values.stores.postgres -}}
{{- if $pg.external.host -}}{{ $pg.external.port | default 5432 }}{{- else -}}5432{{- end -}}
{{- end }}

{{- define "workshop-app.postgresSecret" -}}
{{- .Values.stores.postgres.auth.existingSecret | default "postgres-auth" -}}
{{- end }}

{{- define "workshop-app.redisUrl" -}}
{{- $redis := .Values.stores.redis -}}
{{- if $redis.external.host -}}redis://{{ $redis.external.host }}:{{ $redis.external.port | default 6379 }}
{{- else if $redis.enabled -}}redis://redis:6379
{{- else -}}{{- fail "image-processor and mailing-service need Redis: set stores.redis.enabled or stores.redis.external.host" -}}
{{- end -}}
{{- end }}

{{/* Hardened container defaults shared by the app containers. */}}
{{- define "workshop-app.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end }}
