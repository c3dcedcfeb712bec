{{/*
_helpers.tpl — names, labels and the pieces several templates share: the URIs and environment
of the datastores, the auth INI (whose [role_mappings] is rendered from auth.roleMappings in the
legacy file's order and spelling, R-HELM-5), the oauth2-proxy decisions, and the checks that
make rendering fail with a message instead of producing a broken release (R-HELM-2).
*/}}

{{- define "mlflowd.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "mlflowd.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "mlflowd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mlflowd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mlflowd.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "mlflowd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "mlflowd.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "mlflowd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "mlflowd.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "mlflowd.configName" -}}
{{- printf "%s-config" (include "mlflowd.fullname" .) -}}
{{- end -}}

{{- define "mlflowd.secretKeyName" -}}
{{- default (printf "%s-secret-key" (include "mlflowd.fullname" .)) .Values.server.secretKey.existingSecret.name -}}
{{- end -}}

{{- define "mlflowd.kserveNamespace" -}}
{{- default .Release.Namespace .Values.kserve.namespace -}}
{{- end -}}

{{/* "true" when the oauth2-proxy runs as a native sidecar (initContainers, restartPolicy Always). */}}
{{- define "mlflowd.proxy.native" -}}
{{- $mode := toString .Values.proxy.nativeSidecar -}}
{{- if eq $mode "true" -}}true
{{- else if eq $mode "auto" -}}
{{- if semverCompare ">=1.29-0" .Capabilities.KubeVersion.Version -}}true{{- end -}}
{{- end -}}
{{- end -}}

{{/* The role mapping levels in the legacy INI's order and spelling. */}}
{{- define "mlflowd.levels" -}}
[["admin", "admin"], ["manage", "MANAGE"], ["edit", "EDIT"], ["read", "READ"], ["use", "USE"]]
{{- end -}}

{{/* [role_mappings] lines: "<LEVEL> = a, b" for every non-empty level, entries in given order. */}}
{{- define "mlflowd.roleMappingsIni" -}}
{{- $mappings := .Values.auth.roleMappings -}}
{{- $lines := list -}}
{{- range $level := include "mlflowd.levels" . | fromJsonArray -}}
{{- $entries := index $mappings (index $level 0) | default list -}}
{{- if $entries -}}
{{- $lines = append $lines (printf "%s = %s" (index $level 1) (join ", " $entries)) -}}
{{- end -}}
{{- end -}}
{{- join "\n" $lines -}}
{{- end -}}

{{/* oauth2-proxy --allowed-group values: proxy.oidc.allowedGroups, else the /group entries of
     auth.roleMappings (R-HELM-3). JSON list. */}}
{{- define "mlflowd.proxy.allowedGroups" -}}
{{- $groups := list -}}
{{- if .Values.proxy.oidc.allowedGroups -}}
{{- $groups = .Values.proxy.oidc.allowedGroups -}}
{{- else -}}
{{- $mappings := .Values.auth.roleMappings -}}
{{- range $level := include "mlflowd.levels" . | fromJsonArray -}}
{{- range $entry := index $mappings (index $level 0) | default list -}}
{{- if and (hasPrefix "/" $entry) (not (has $entry $groups)) -}}
{{- $groups = append $groups $entry -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $groups -}}
{{- end -}}

{{- define "mlflowd.postgresUri" -}}
{{- $pg := .Values.backendStore.postgres -}}
{{- printf "postgresql://%s:%v/%s?sslmode=%s" $pg.host $pg.port $pg.database $pg.sslmode -}}
{{- end -}}

{{- define "mlflowd.authDbUri" -}}
{{- $pg := .Values.backendStore.postgres -}}
{{- printf "postgresql://%s:%v/%s?sslmode=%s" $pg.host $pg.port .Values.auth.dbName $pg.sslmode -}}
{{- end -}}

{{- define "mlflowd.s3Location" -}}
{{- $s3 := .Values.artifacts.s3 -}}
{{- if $s3.prefix -}}
{{- printf "s3://%s/%s" $s3.bucket (trimAll "/" $s3.prefix) -}}
{{- else -}}
{{- printf "s3://%s" $s3.bucket -}}
{{- end -}}
{{- end -}}

{{/* libpq reads the credentials from the environment; URIs never hold them. */}}
{{- define "mlflowd.dbEnv" -}}
{{- $secret := .Values.backendStore.postgres.existingSecret -}}
- name: PGUSER
  valueFrom: {secretKeyRef: {name: {{ $secret.name | quote }}, key: {{ $secret.usernameKey | quote }}}}
- name: PGPASSWORD
  valueFrom: {secretKeyRef: {name: {{ $secret.name | quote }}, key: {{ $secret.passwordKey | quote }}}}
{{- end -}}

{{- define "mlflowd.s3Env" -}}
{{- $s3 := .Values.artifacts.s3 -}}
{{- if $s3.endpointUrl }}
- name: MLFLOW_S3_ENDPOINT_URL
  value: {{ $s3.endpointUrl | quote }}
{{- end }}
- name: AWS_DEFAULT_REGION
  value: {{ $s3.region | quote }}
{{- if $s3.ignoreTls }}
- name: MLFLOW_S3_IGNORE_TLS
  value: "true"
{{- end }}
{{- if $s3.existingSecret.name }}
- name: AWS_ACCESS_KEY_ID
  valueFrom: {secretKeyRef: {name: {{ $s3.existingSecret.name | quote }}, key: {{ $s3.existingSecret.accessKeyIdKey | quote }}}}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom: {secretKeyRef: {name: {{ $s3.existingSecret.name | quote }}, key: {{ $s3.existingSecret.secretAccessKeyKey | quote }}}}
{{- end }}
{{- end -}}

{{/* Fails rendering with what to set, for values that cannot work (R-HELM-2). */}}
{{- define "mlflowd.validate" -}}
{{- $pg := .Values.backendStore.postgres -}}
{{- if not $pg.host -}}
{{- fail "backendStore.postgres.host is required: mlflowd's replicas share one PostgreSQL database" -}}
{{- end -}}
{{- if not $pg.existingSecret.name -}}
{{- fail "backendStore.postgres.existingSecret.name is required: a Secret with the database user and password (keys usernameKey/passwordKey)" -}}
{{- end -}}
{{- if and .Values.auth.enabled (not .Values.auth.existingAdminSecret.name) -}}
{{- fail "auth is enabled but no admin password is given: set auth.existingAdminSecret.name to a Secret holding it (key auth.existingAdminSecret.passwordKey)" -}}
{{- end -}}
{{- if and .Values.proxy.enabled (not .Values.proxy.oidc.existingSecret.name) -}}
{{- fail "proxy.enabled needs proxy.oidc.existingSecret.name: a Secret with the OIDC client secret and the cookie secret" -}}
{{- end -}}
{{- if and .Values.proxy.enabled (not .Values.auth.enabled) -}}
{{- fail "proxy.enabled needs auth.enabled: mlflowd reads the users' identity from the proxy's token" -}}
{{- end -}}
{{- with .Values.networkPolicy -}}
{{- if and .enabled (not .egress.postgresCidrs) -}}
{{- fail "networkPolicy.enabled needs networkPolicy.egress.postgresCidrs: the policy lets the pods reach only what it lists, and they cannot start without PostgreSQL" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.proxy.enabled (not .Values.auth.sso.enabled) -}}
{{- fail "proxy.enabled needs auth.sso.enabled: the proxy sends a bearer token in place of the users' credentials, which basic-auth alone refuses" -}}
{{- end -}}
{{- if and .Values.auth.enabled .Values.auth.sso.enabled (eq .Values.auth.sso.mode "native") (not .Values.proxy.oidc.existingSecret.name) -}}
{{- fail "auth.sso.mode=native needs proxy.oidc.existingSecret.name: the Secret holding the OIDC client's secret (key clientSecretKey), which mlflowd and the Keycloak Job read" -}}
{{- end -}}
{{- if and .Values.auth.enabled .Values.auth.sso.enabled (not .Values.auth.sso.issuer) -}}
{{- fail "auth.sso.enabled needs auth.sso.issuer" -}}
{{- end -}}
{{- if and .Values.artifacts.s3.createBucket (not .Values.artifacts.s3.existingSecret.name) -}}
{{- fail "artifacts.s3.createBucket needs artifacts.s3.existingSecret.name (credentials that may create the bucket)" -}}
{{- end -}}
{{- with .Values.artifacts.s3.minioUser -}}
{{- if and .enabled (not $.Values.artifacts.s3.createBucket) -}}
{{- fail "artifacts.s3.minioUser.enabled needs artifacts.s3.createBucket (the init-bucket Job makes the user)" -}}
{{- end -}}
{{- if and .enabled (not .adminSecret.name) -}}
{{- fail "artifacts.s3.minioUser.enabled needs artifacts.s3.minioUser.adminSecret.name (a MinIO admin's keys, e.g. the root user's)" -}}
{{- end -}}
{{- if and .enabled (not (or .adminUrl $.Values.artifacts.s3.endpointUrl)) -}}
{{- fail "artifacts.s3.minioUser.enabled needs the MinIO server: artifacts.s3.endpointUrl or artifacts.s3.minioUser.adminUrl" -}}
{{- end -}}
{{- end -}}
{{- if and $pg.createDatabase.enabled (not $pg.createDatabase.adminSecret.name) -}}
{{- fail "backendStore.postgres.createDatabase.enabled needs createDatabase.adminSecret.name (a PostgreSQL admin's user and password)" -}}
{{- end -}}
{{- if and .Values.keycloakBootstrap.enabled (not .Values.keycloakBootstrap.adminSecret.name) -}}
{{- fail "keycloakBootstrap.enabled needs keycloakBootstrap.adminSecret.name (a service-account client with realm-management roles)" -}}
{{- end -}}
{{- if and .Values.keycloakBootstrap.enabled (not (or .Values.keycloakBootstrap.url (contains "/realms/" .Values.auth.sso.issuer))) -}}
{{- fail "keycloakBootstrap.url is required when auth.sso.issuer is not a Keycloak realm URL" -}}
{{- end -}}
{{- end -}}

{{/* Keycloak's base URL for the bootstrap Job: keycloakBootstrap.url, else the issuer up to /realms/. */}}
{{- define "mlflowd.keycloakUrl" -}}
{{- if .Values.keycloakBootstrap.url -}}
{{- .Values.keycloakBootstrap.url -}}
{{- else -}}
{{- index (splitList "/realms/" .Values.auth.sso.issuer) 0 -}}
{{- end -}}
{{- end -}}

{{/* The pod security context of every container (R-HELM-12). */}}
{{- define "mlflowd.containerSecurityContext" -}}
{{- toYaml .Values.securityContext -}}
{{- end -}}

{{/* MLFLOW_SERVER_ALLOWED_HOSTS and MLFLOW_SERVER_CORS_ALLOWED_ORIGINS, derived from the ingress
host as the community chart derives them (sso-and-deploy.md §4.1). Host headers accepted: the
ingress host, the Service's in-cluster names (bare and with its port: in-cluster clients),
localhost (kubectl port-forward; the oauth2-proxy upstream) and server.allowedHosts. Origins
allowed to write from a browser: the ingress host's (https with TLS, as the UI calls the API)
and server.corsAllowedOrigins. A "*" entry stands for all; a variable that server.extraEnv sets
is left to it. The probes use the health port, which has no Host check. */}}
{{- define "mlflowd.requestGuardEnv" -}}
{{- $s := .Values.server -}}
{{- $ing := .Values.ingress -}}
{{- $svc := include "mlflowd.fullname" . -}}
{{- $ns := .Release.Namespace -}}
{{- $hosts := list -}}
{{- if $ing.enabled -}}
{{- $hosts = append $hosts .Values.global.domain -}}
{{- end -}}
{{- range $name := list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) -}}
{{- $hosts = append $hosts $name -}}
{{- $hosts = append $hosts (printf "%s:%v" $name $.Values.service.port) -}}
{{- end -}}
{{- $hosts = concat $hosts (list "localhost" "localhost:*" "127.0.0.1" "127.0.0.1:*") ($s.allowedHosts | default list) | uniq -}}
{{- if has "*" $hosts -}}
{{- $hosts = list "*" -}}
{{- end -}}
{{- $origins := list -}}
{{- if $ing.enabled -}}
{{- $scheme := ternary "https" "http" (or $ing.tls.enabled (not (empty $ing.certManager.clusterIssuer))) -}}
{{- $origins = append $origins (printf "%s://%s" $scheme .Values.global.domain) -}}
{{- end -}}
{{- $origins = concat $origins ($s.corsAllowedOrigins | default list) | uniq -}}
{{- if has "*" $origins -}}
{{- $origins = list "*" -}}
{{- end -}}
{{- $set := list -}}
{{- range $s.extraEnv -}}
{{- $set = append $set .name -}}
{{- end -}}
{{- if not (has "MLFLOW_SERVER_ALLOWED_HOSTS" $set) }}
- name: MLFLOW_SERVER_ALLOWED_HOSTS
  value: {{ join "," $hosts | quote }}
{{- end }}
{{- if and $origins (not (has "MLFLOW_SERVER_CORS_ALLOWED_ORIGINS" $set)) }}
- name: MLFLOW_SERVER_CORS_ALLOWED_ORIGINS
  value: {{ join "," $origins | quote }}
{{- end }}
{{- end -}}
