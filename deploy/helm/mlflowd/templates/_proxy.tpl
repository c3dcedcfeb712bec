{{/*
_proxy.tpl — the oauth2-proxy sidecar container (sso-and-deploy.md §1.6, R-HELM-3): the app's
only door when proxy.enabled. API clients with a bearer token pass through
(--skip-jwt-bearer-tokens, --api-route answers 401 instead of a login redirect), browsers log in
with Keycloak, and every request reaches mlflowd with the token in Authorization.
*/}}
{{- define "mlflowd.proxyContainer" -}}
{{- $proxy := .Values.proxy -}}
name: oauth2-proxy
image: {{ printf "%s:%s" $proxy.image.repository $proxy.image.tag | quote }}
imagePullPolicy: {{ $proxy.image.pullPolicy }}
args:
  - --http-address=0.0.0.0:{{ $proxy.port }}
  - --upstream=http://127.0.0.1:{{ .Values.server.port }}
  - --provider={{ $proxy.provider }}
  - --oidc-issuer-url={{ default .Values.auth.sso.issuer $proxy.oidc.issuerUrl }}
  - --client-id={{ $proxy.oidc.clientId }}
  - --redirect-url=https://{{ .Values.global.domain }}/oauth2/callback
  # PKCE: the client `mlflowd admin keycloak` makes requires S256 (Keycloak refuses a login
  # without it, and oauth2-proxy sends none unless told)
  - --code-challenge-method=S256
  - --email-domain=*
  - --reverse-proxy=true
  - --cookie-secure=true
  - --cookie-samesite=lax
  - --cookie-refresh={{ $proxy.cookieRefresh }}
  - --pass-authorization-header=true
  - --pass-access-token=true
  - --set-xauthrequest=true
  - --skip-provider-button=true
  - --api-route=^/api/
  {{- if $proxy.skipJwtBearerTokens }}
  - --skip-jwt-bearer-tokens=true
  {{- end }}
  {{- range include "mlflowd.proxy.allowedGroups" . | fromJsonArray }}
  - --allowed-group={{ . }}
  {{- end }}
  {{- range $proxy.oidc.allowedRoles }}
  - --allowed-role={{ . }}
  {{- end }}
  {{- range $proxy.extraArgs }}
  - {{ . }}
  {{- end }}
env:
  - name: OAUTH2_PROXY_CLIENT_SECRET
    valueFrom: {secretKeyRef: {name: {{ $proxy.oidc.existingSecret.name | quote }}, key: {{ $proxy.oidc.existingSecret.clientSecretKey | quote }}}}
  - name: OAUTH2_PROXY_COOKIE_SECRET
    valueFrom: {secretKeyRef: {name: {{ $proxy.oidc.existingSecret.name | quote }}, key: {{ $proxy.oidc.existingSecret.cookieSecretKey | quote }}}}
ports:
  - {name: proxy, containerPort: {{ $proxy.port }}, protocol: TCP}
livenessProbe: {httpGet: {path: /ping, port: proxy}, periodSeconds: 10}
readinessProbe: {httpGet: {path: /ready, port: proxy}, periodSeconds: 10}
securityContext:
  {{- include "mlflowd.containerSecurityContext" . | nindent 2 }}
{{- with $proxy.resources }}
resources:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
