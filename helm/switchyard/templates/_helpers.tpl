{{/*
Names, labels and shared pod parts. Every resource name goes through
switchyard.componentName, which keeps it within 63 characters.
*/}}

{{- define "switchyard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The prefix of every name: the release name, so `<release>-worker-<pool>`. */}}
{{- define "switchyard.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
`<fullname>-<component>`, at most 63 characters. A longer one is cut and given a hash of
the full name, so two long names never collide after truncation.
Call with (dict "root" $ "component" "worker-default").
*/}}
{{- define "switchyard.componentName" -}}
{{- $full := printf "%s-%s" (include "switchyard.fullname" .root) .component -}}
{{- if le (len $full) 63 -}}
{{- $full -}}
{{- else -}}
{{- printf "%s-%s" ($full | trunc 54 | trimSuffix "-") ($full | sha256sum | trunc 8) -}}
{{- end -}}
{{- end -}}

{{- define "switchyard.workerName" -}}
{{- include "switchyard.componentName" (dict "root" .root "component" (printf "worker-%s" .pool)) -}}
{{- end -}}

{{/* Selector labels: minimal, and never changed after install (selectors are immutable). */}}
{{- define "switchyard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "switchyard.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- with .pool }}
switchyard/pool: {{ . }}
{{- end }}
{{- end -}}

{{- define "switchyard.labels" -}}
{{ include "switchyard.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: switchyard
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "switchyard.podLabels" -}}
{{ include "switchyard.labels" . }}
{{- with .root.Values.podLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "switchyard.image" -}}
{{- $image := .Values.image -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default .Chart.AppVersion $image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "switchyard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "switchyard.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "switchyard.secretName" -}}
{{- default (include "switchyard.componentName" (dict "root" . "component" "urls")) .Values.secret.existingSecret -}}
{{- end -}}

{{/* files/topology.json, generated from routing/declaration.py. */}}
{{- define "switchyard.topology" -}}
{{- $raw := .Files.Get "files/topology.json" -}}
{{- if not $raw -}}
{{- fail "files/topology.json is missing: run `switchyard chart values`" -}}
{{- end -}}
{{- $raw -}}
{{- end -}}

{{/*
One pool's values: workers.defaults with workers.pools.<pool> over them. A key given for the
pool replaces the default, except the maps below, which are merged key by key (sprig's
merge would ignore an override to false or 0). Returns JSON; use with fromJson.
Call with (dict "root" $ "pool" $pool), $pool an entry of topology.json.
*/}}
{{- define "switchyard.poolValues" -}}
{{- $defaults := .root.Values.workers.defaults -}}
{{- $override := get .root.Values.workers.pools .pool.name | default dict -}}
{{- $out := deepCopy $defaults -}}
{{- $_ := set $out "replicas" .pool.replicas -}}
{{- range $key, $value := $override -}}
{{- if and (has $key (list "autoscaling" "podDisruptionBudget" "probes")) (kindIs "map" $value) -}}
{{- $merged := deepCopy (get $defaults $key) -}}
{{- range $k, $v := $value -}}
{{- if and (kindIs "map" $v) (kindIs "map" (get $merged $k)) -}}
{{- $_ := set $merged $k (merge (deepCopy $v) (get $merged $k)) -}}
{{- else -}}
{{- $_ := set $merged $k $v -}}
{{- end -}}
{{- end -}}
{{- $_ := set $out $key $merged -}}
{{- else -}}
{{- $_ := set $out $key $value -}}
{{- end -}}
{{- end -}}
{{- $scaling := $out.autoscaling -}}
{{- $_ := set $scaling "minReplicas" (ternary .pool.minReplicas $scaling.minReplicas (kindIs "invalid" $scaling.minReplicas)) -}}
{{- $_ := set $scaling "maxReplicas" (ternary .pool.maxReplicas $scaling.maxReplicas (kindIs "invalid" $scaling.maxReplicas)) -}}
{{- $grace := add (int .pool.timeLimitSeconds) (int $out.shutdownMarginSeconds) -}}
{{- $_ := set $out "minimumGraceSeconds" $grace -}}
{{- if kindIs "invalid" $out.terminationGracePeriodSeconds -}}
{{- $_ := set $out "terminationGracePeriodSeconds" $grace -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* Secret-backed environment: (dict "root" $ "keys" (list "brokerUrl" ...)). */}}
{{- define "switchyard.secretEnv" -}}
{{- $names := dict
  "brokerUrl" "SWITCHYARD_BROKER_URL"
  "brokerApiUrl" "SWITCHYARD_BROKER_API_URL"
  "databaseUrl" "SWITCHYARD_DATABASE_URL"
  "migrationDatabaseUrl" "SWITCHYARD_MIGRATION_DATABASE_URL"
  "flowerBasicAuth" "FLOWER_BASIC_AUTH"
  "poolBrokerUrls" "SWITCHYARD_POOL_BROKER_URLS" -}}
{{- $secretName := include "switchyard.secretName" .root -}}
{{- $keys := .root.Values.secret.keys -}}
{{- $env := list -}}
{{- $cluster := .root.Values.rabbitmq.cluster.enabled -}}
{{- $adminSecret := include "switchyard.brokerCredentialsName" (dict "root" .root "user" "admin") -}}
{{- range .keys -}}
{{- $ref := dict "name" $secretName "key" (get $keys .) -}}
{{- if and $cluster (has . (list "brokerUrl" "brokerApiUrl")) -}}
{{- $ref = dict "name" $adminSecret "key" (get $keys .) -}}
{{- end -}}
{{- $env = append $env (dict "name" (get $names .) "valueFrom" (dict "secretKeyRef" $ref)) -}}
{{- end -}}
{{- toYaml $env -}}
{{- end -}}

{{/* Non-secret settings every application container gets. */}}
{{- define "switchyard.configEnv" -}}
- name: SWITCHYARD_BROKER_CONSUMER_TIMEOUT_S
  value: {{ .Values.config.brokerConsumerTimeoutSeconds | int | quote }}
{{- end -}}

{{/* What a pod serving /metrics needs: its port and a multiprocess directory. */}}
{{- define "switchyard.metricsEnv" -}}
- name: SWITCHYARD_METRICS_PORT
  value: {{ .Values.config.metricsPort | int | quote }}
- name: PROMETHEUS_MULTIPROC_DIR
  value: /var/run/switchyard/metrics
{{- end -}}

{{/* Pod-level settings shared by every pod of the application image. */}}
{{- define "switchyard.podSecurity" -}}
serviceAccountName: {{ include "switchyard.serviceAccountName" . }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "switchyard.podAnnotations" -}}
checksum/config: {{ include "switchyard.configChecksum" . }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Rolls pods when the configuration they read changes: the Secret the chart writes (or the
name and keys of an existing one) and the non-secret settings.
*/}}
{{- define "switchyard.configChecksum" -}}
{{- $secret := include (print .Template.BasePath "/secret.yaml") . -}}
{{- dict "secret" $secret "existing" .Values.secret.existingSecret "keys" .Values.secret.keys "config" .Values.config | toJson | sha256sum -}}
{{- end -}}

{{/* Placement of one component: (dict "values" .Values.beat). */}}
{{- define "switchyard.placement" -}}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* /tmp is the only writable path of the read-only root filesystem. */}}
{{- define "switchyard.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- end -}}

{{- define "switchyard.metricsVolume" -}}
- name: metrics
  emptyDir:
    medium: Memory
    sizeLimit: 64Mi
{{- end -}}

{{- define "switchyard.metricsMounts" -}}
- name: tmp
  mountPath: /tmp
- name: metrics
  mountPath: /var/run/switchyard/metrics
{{- end -}}

{{/* "true" when monitoring.coreos.com objects are to be rendered. */}}
{{- define "switchyard.monitoring" -}}
{{- $mode := .Values.monitoring.enabled -}}
{{- if eq (toString $mode) "auto" -}}
{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" -}}true{{- end -}}
{{- else if $mode -}}
true
{{- end -}}
{{- end -}}

{{/* "true" when some pool scales with KEDA. */}}
{{- define "switchyard.usesKeda" -}}
{{- $topology := include "switchyard.topology" . | fromJson -}}
{{- range $pool := $topology.pools -}}
{{- $v := include "switchyard.poolValues" (dict "root" $ "pool" $pool) | fromJson -}}
{{- if and $v.autoscaling.enabled (eq $v.autoscaling.kind "keda") -}}true{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Each pool's own broker URL the chart writes into its Secret, as JSON (empty with
existingSecret): from secret.poolBrokerUrls, or made up for the in-cluster RabbitMQ with a
password derived from devServices.password and the pool's name.
*/}}
{{- define "switchyard.poolBrokerUrls" -}}
{{- $urls := dict -}}
{{- $dev := .Values.devServices -}}
{{- if or .Values.secret.existingSecret .Values.rabbitmq.cluster.enabled -}}
{{- else if $dev.rabbitmq.enabled -}}
{{- $host := include "switchyard.componentName" (dict "root" . "component" "rabbitmq") -}}
{{- range (include "switchyard.topology" . | fromJson).pools -}}
{{- $password := printf "%s/%s" $dev.password .name | sha256sum | trunc 32 -}}
{{- $_ := set $urls .name (printf "amqp://%s:%s@%s:5672/switchyard" .brokerUser $password $host) -}}
{{- end -}}
{{- else -}}
{{- $urls = .Values.secret.poolBrokerUrls -}}
{{- end -}}
{{- toJson $urls -}}
{{- end -}}

{{/* "true" when every pool connects as its own broker user. */}}
{{- define "switchyard.poolUsers" -}}
{{- if .Values.rabbitmq.cluster.enabled -}}
true
{{- else if .Values.secret.existingSecret -}}
{{- ternary "true" "" .Values.secret.existingSecretHasPoolBrokerUrls -}}
{{- else -}}
{{- ternary "true" "" (gt (len (include "switchyard.poolBrokerUrls" . | fromJson)) 0) -}}
{{- end -}}
{{- end -}}

{{/* The pool's own broker URL, for a worker container of that pool: (dict "root" $ "pool" NAME). */}}
{{- define "switchyard.poolBrokerEnv" -}}
{{- if include "switchyard.poolUsers" .root -}}
- name: SWITCHYARD_POOL_BROKER_URL
  valueFrom:
    secretKeyRef:
      {{- if .root.Values.rabbitmq.cluster.enabled }}
      name: {{ include "switchyard.brokerCredentialsName" (dict "root" .root "user" (printf "pool-%s" .pool)) }}
      key: {{ .root.Values.secret.keys.brokerUrl }}
      {{- else }}
      name: {{ include "switchyard.secretName" .root }}
      key: {{ printf "%s%s" .root.Values.secret.keys.poolBrokerUrlPrefix .pool }}
      {{- end }}
{{- end -}}
{{- end -}}

{{/* The RabbitmqCluster's name, which is also its Service's host name. */}}
{{- define "switchyard.brokerCluster" -}}
{{- default (include "switchyard.componentName" (dict "root" . "component" "mq")) .Values.rabbitmq.cluster.name -}}
{{- end -}}

{{/*
The Secret holding one broker user's credentials and URLs, with rabbitmq.cluster:
(dict "root" $ "user" "admin") or (dict "root" $ "user" "pool-<pool>").
*/}}
{{- define "switchyard.brokerCredentialsName" -}}
{{- include "switchyard.componentName" (dict "root" .root "component" (printf "mq-credentials-%s" .user)) -}}
{{- end -}}
