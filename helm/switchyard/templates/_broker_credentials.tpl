{{/*
A broker user's credentials Secret: `username` and `password` for the Topology Operator's
User (importCredentialsSecret), and the URLs pods connect with. The password is the one
already in the cluster's Secret when there is one (lookup), else a new random one: a Secret
is read by the operator only when it creates the user, so the password must never change.
(dict "root" $ "user" "admin" "username" "switchyard-admin" "api" true)
*/}}
{{- define "switchyard.brokerCredentials" -}}
{{- $root := .root -}}
{{- $name := include "switchyard.brokerCredentialsName" (dict "root" $root "user" .user) -}}
{{- $existing := lookup "v1" "Secret" $root.Release.Namespace $name -}}
{{- $password := "" -}}
{{- if and $existing (hasKey (default dict $existing.data) "password") -}}
{{- $password = index $existing.data "password" | b64dec -}}
{{- else -}}
{{- $password = randAlphaNum 32 -}}
{{- end -}}
{{- $host := printf "%s.%s.svc" (include "switchyard.brokerCluster" $root) $root.Release.Namespace -}}
{{- $vhost := (include "switchyard.topology" $root | fromJson).broker.vhost | urlquery -}}
apiVersion: v1
kind: Secret
metadata:
  name: {{ $name }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "switchyard.labels" (dict "root" $root "component" "broker-credentials") | nindent 4 }}
  {{- if $root.Values.secret.keep }}
  annotations:
    helm.sh/resource-policy: keep
  {{- end }}
type: Opaque
data:
  username: {{ .username | b64enc | quote }}
  password: {{ $password | b64enc | quote }}
  {{ $root.Values.secret.keys.brokerUrl }}: {{ printf "amqp://%s:%s@%s:5672/%s" .username $password $host $vhost | b64enc | quote }}
  {{- if .api }}
  {{ $root.Values.secret.keys.brokerApiUrl }}: {{ printf "http://%s:%s@%s:15672" .username $password $host | b64enc | quote }}
  {{- end }}
{{- end -}}
