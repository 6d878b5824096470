{{/*
Every cross-field check in one place: all errors are collected, then the render fails once
with the whole list (as Bitnami's validateValues does).
*/}}
{{- define "switchyard.validateValues" -}}
{{- $errors := list -}}
{{- $topology := include "switchyard.topology" . | fromJson -}}
{{- $poolNames := list -}}
{{- range $topology.pools }}{{ $poolNames = append $poolNames .name }}{{ end -}}
{{- range $name, $_ := .Values.workers.pools -}}
{{- if not (has $name $poolNames) -}}
{{- $errors = append $errors (printf "workers.pools.%s: routing/declaration.py declares no pool %q (pools: %s)" $name $name (join ", " $poolNames)) -}}
{{- end -}}
{{- end -}}
{{- $timeout := int .Values.config.brokerConsumerTimeoutSeconds -}}
{{- range $pool := $topology.pools -}}
{{- $v := include "switchyard.poolValues" (dict "root" $ "pool" $pool) | fromJson -}}
{{- $where := printf "workers.pools.%s" $pool.name -}}
{{- if lt (int $v.terminationGracePeriodSeconds) (int $v.minimumGraceSeconds) -}}
{{- $errors = append $errors (printf "%s.terminationGracePeriodSeconds=%d is below the pool's hard time limit %ds + shutdownMarginSeconds %ds = %ds: Kubernetes would kill running tasks on every rollout. Raise it, or leave it null to derive it." $where (int $v.terminationGracePeriodSeconds) (int $pool.timeLimitSeconds) (int $v.shutdownMarginSeconds) (int $v.minimumGraceSeconds)) -}}
{{- end -}}
{{- if ge (int $pool.timeLimitSeconds) $timeout -}}
{{- $errors = append $errors (printf "pool %s: time limit %ds reaches config.brokerConsumerTimeoutSeconds (%ds); the broker would close the channel mid-task" $pool.name (int $pool.timeLimitSeconds) $timeout) -}}
{{- end -}}
{{- if and (not $v.autoscaling.enabled) (gt (int $v.replicas) (int $pool.maxReplicas)) -}}
{{- $errors = append $errors (printf "%s.replicas=%d is above the pool's max_replicas %d in routing/declaration.py: raise max_replicas there (and check what it bounds) before scaling past it" $where (int $v.replicas) (int $pool.maxReplicas)) -}}
{{- end -}}
{{- $scaling := $v.autoscaling -}}
{{- if $scaling.enabled -}}
{{- if gt (int $scaling.minReplicas) (int $scaling.maxReplicas) -}}
{{- $errors = append $errors (printf "%s.autoscaling: minReplicas %d > maxReplicas %d" $where (int $scaling.minReplicas) (int $scaling.maxReplicas)) -}}
{{- end -}}
{{- if and (eq $scaling.kind "hpa") (not $scaling.hpa.metrics) (not (dig "requests" "cpu" "" $v.resources)) -}}
{{- $errors = append $errors (printf "%s: a CPU-utilisation HPA needs resources.requests.cpu" $where) -}}
{{- end -}}
{{- end -}}
{{- if gt (len $pool.name) 63 -}}
{{- $errors = append $errors (printf "pool %s: a name longer than 63 characters cannot be a label value" $pool.name) -}}
{{- end -}}
{{- end -}}
{{- $secret := .Values.secret -}}
{{- $dev := .Values.devServices -}}
{{- $inCluster := or $dev.rabbitmq.enabled $dev.postgresql.enabled -}}
{{- if $secret.existingSecret -}}
{{- range $key := list "brokerUrl" "brokerApiUrl" "databaseUrl" "migrationDatabaseUrl" "flowerBasicAuth" -}}
{{- if get $secret $key -}}
{{- $errors = append $errors (printf "secret.%s is set together with secret.existingSecret: put it in the existing Secret (key %s) instead" $key (get $secret.keys $key)) -}}
{{- end -}}
{{- end -}}
{{- if $inCluster -}}
{{- $errors = append $errors "devServices write their URLs into the Secret the chart creates: unset secret.existingSecret" -}}
{{- end -}}
{{- end -}}
{{- if $secret.poolBrokerUrls -}}
{{- if or $secret.existingSecret $dev.rabbitmq.enabled -}}
{{- $errors = append $errors "secret.poolBrokerUrls is for a broker outside the release and a Secret the chart creates: with existingSecret put them in it (existingSecretHasPoolBrokerUrls), with devServices.rabbitmq they are generated" -}}
{{- end -}}
{{- range $name, $_ := $secret.poolBrokerUrls -}}
{{- if not (has $name $poolNames) -}}
{{- $errors = append $errors (printf "secret.poolBrokerUrls.%s: routing/declaration.py declares no pool %q (pools: %s)" $name $name (join ", " $poolNames)) -}}
{{- end -}}
{{- end -}}
{{- range $name := $poolNames -}}
{{- if not (hasKey $secret.poolBrokerUrls $name) -}}
{{- $errors = append $errors (printf "secret.poolBrokerUrls has no URL for pool %q: list every pool, or none" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $cluster := .Values.rabbitmq.cluster -}}
{{- if $cluster.enabled -}}
{{- if $dev.rabbitmq.enabled -}}
{{- $errors = append $errors "rabbitmq.cluster.enabled and devServices.rabbitmq.enabled both run a broker: enable one" -}}
{{- end -}}
{{- range $key := list "brokerUrl" "brokerApiUrl" -}}
{{- if get $secret $key -}}
{{- $errors = append $errors (printf "secret.%s is set, but with rabbitmq.cluster.enabled pods connect to the chart's RabbitmqCluster with users the chart creates: unset it" $key) -}}
{{- end -}}
{{- end -}}
{{- if or $secret.poolBrokerUrls $secret.existingSecretHasPoolBrokerUrls -}}
{{- $errors = append $errors "secret.poolBrokerUrls / existingSecretHasPoolBrokerUrls: with rabbitmq.cluster.enabled each pool's user and URL are generated; unset them" -}}
{{- end -}}
{{- $clusterName := include "switchyard.brokerCluster" . -}}
{{- if gt (len $clusterName) 45 -}}
{{- $errors = append $errors (printf "the RabbitmqCluster name %q has %d characters, more than 45 (its StatefulSet <name>-server must fit 52): set rabbitmq.cluster.name" $clusterName (len $clusterName)) -}}
{{- end -}}
{{- end -}}
{{- if and $inCluster (not $dev.password) -}}
{{- $errors = append $errors "devServices.password is required when an in-cluster service is enabled" -}}
{{- end -}}
{{- if and .Values.flower.enabled (not $secret.existingSecret) (not $secret.flowerBasicAuth) -}}
{{- $errors = append $errors "flower.enabled needs secret.flowerBasicAuth (user:password), or the key in secret.existingSecret" -}}
{{- end -}}
{{- if $errors -}}
{{- fail (printf "\n\nInvalid values:\n  - %s\n" (join "\n  - " $errors)) -}}
{{- end -}}
{{- end -}}
