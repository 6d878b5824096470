{{/*
Names and secrets of the producer API (`switchyard api`). Its own Secret holds the bearer
tokens and the URL of its broker user; with secret.existingSecret that Secret holds them.
*/}}

{{- define "switchyard.apiName" -}}
{{- include "switchyard.componentName" (dict "root" . "component" "api") -}}
{{- end -}}

{{- define "switchyard.apiSecretName" -}}
{{- default (include "switchyard.componentName" (dict "root" . "component" "api-auth")) .Values.secret.existingSecret -}}
{{- end -}}

{{/*
The API broker user's URL the chart writes (empty with existingSecret): api.brokerUrl, or
made up for the in-cluster RabbitMQ with a password derived from devServices.password.
*/}}
{{- define "switchyard.apiBrokerUrl" -}}
{{- $dev := .Values.devServices -}}
{{- if .Values.secret.existingSecret -}}
{{- else if $dev.rabbitmq.enabled -}}
{{- $host := include "switchyard.componentName" (dict "root" . "component" "rabbitmq") -}}
{{- $user := (include "switchyard.topology" . | fromJson).api.brokerUser -}}
{{- $password := printf "%s/%s" $dev.password $user | sha256sum | trunc 32 -}}
{{- printf "amqp://%s:%s@%s:5672/switchyard" $user $password $host -}}
{{- else -}}
{{- .Values.api.brokerUrl -}}
{{- end -}}
{{- end -}}

{{/* "true" when the API connects as its own broker user. */}}
{{- define "switchyard.apiUser" -}}
{{- if and .Values.api.enabled .Values.secret.existingSecret -}}
{{- ternary "true" "" .Values.api.existingSecretHasBrokerUrl -}}
{{- else if .Values.api.enabled -}}
{{- ternary "true" "" (ne (include "switchyard.apiBrokerUrl" .) "") -}}
{{- end -}}
{{- end -}}

{{/* For the hook Job: the API user's URL, so `topology declare` creates the user. */}}
{{- define "switchyard.apiBrokerEnv" -}}
{{- if include "switchyard.apiUser" . -}}
- name: SWITCHYARD_API_BROKER_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "switchyard.apiSecretName" . }}
      key: api-broker-url
{{- end -}}
{{- end -}}
