"""Writes deploy/helm/mlflowd/values.schema.json (run after changing the values' shape:
/usr/bin/python3 tests/deploy/make_schema.py). The schema is data; this script only keeps it
readable: obj() closes every object (additionalProperties: false) so a misspelt key fails."""
import json
import os

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "helm", "mlflowd",
                   "values.schema.json")


def obj(props, required=(), desc=None, open_=False):
    o = {"type": "object", "properties": props, "additionalProperties": open_}
    if required:
        o["required"] = list(required)
    if desc:
        o["description"] = desc
    return o


S = {"type": "string"}
B = {"type": "boolean"}
I = {"type": "integer"}
PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
ANY_OBJ = {"type": "object"}
STRS = {"type": "array", "items": S}
PORTS = {"type": "array", "items": PORT}
LEVEL = {"enum": ["READ", "USE", "EDIT", "MANAGE", "NO_PERMISSIONS"]}
LABELS = {"type": "object", "additionalProperties": S}


def secret_ref(**keys):
    return obj(dict({"name": S}, **{k: S for k in keys}))


schema = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "mlflowd chart values (sso-and-deploy.md §4.4)",
    **obj({
        "global": obj({"domain": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"}},
                      required=["domain"]),
        "image": obj({"repository": S, "tag": S,
                      "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]}}),
        "imagePullSecrets": {"type": "array", "items": ANY_OBJ},
        "replicaCount": {"type": "integer", "minimum": 0},
        "server": obj({
            "port": PORT, "healthPort": PORT, "workers": {"type": "integer", "minimum": 0},
            "allowedHosts": STRS, "corsAllowedOrigins": STRS,
            "extraArgs": STRS, "extraEnv": {"type": "array", "items": ANY_OBJ},
            "extraEnvFrom": {"type": "array", "items": ANY_OBJ},
            "secretKey": obj({"existingSecret": secret_ref(key=True)}),
        }),
        "backendStore": obj({
            "postgres": obj({
                "host": S, "port": PORT, "database": S,
                "sslmode": {"enum": ["disable", "allow", "prefer", "require", "verify-ca",
                                     "verify-full"]},
                "existingSecret": secret_ref(usernameKey=True, passwordKey=True),
                "createDatabase": obj({"enabled": B,
                                       "adminSecret": secret_ref(usernameKey=True, passwordKey=True),
                                       "adminDatabase": S}),
            }),
            "migration": obj({"enabled": B, "mode": {"enum": ["job", "initContainer"]}}),
        }),
        "artifacts": obj({
            "proxied": B,
            "s3": obj({
                "bucket": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"},
                "prefix": S, "endpointUrl": {"type": "string", "pattern": r"^(https?://.+)?$"},
                "region": S, "pathStyle": {"enum": [True]}, "createBucket": B, "ignoreTls": B,
                "minioUser": obj({
                    "enabled": B,
                    "adminSecret": secret_ref(accessKeyIdKey=True, secretAccessKeyKey=True),
                    "adminUrl": {"type": "string", "pattern": r"^(https?://.+)?$"},
                    "policy": {"type": "string", "pattern": r"^[A-Za-z0-9_.@+-]{0,128}$"},
                }, desc="with createBucket: the init-bucket Job also makes the server's MinIO "
                        "user (existingSecret's keys) and a policy for the bucket alone"),
                "existingSecret": secret_ref(accessKeyIdKey=True, secretAccessKeyKey=True),
            }),
        }),
        "auth": obj({
            "enabled": B, "adminUsername": S,
            "existingAdminSecret": secret_ref(usernameKey=True, passwordKey=True),
            "defaultPermission": LEVEL, "dbName": S,
            "cacheTtlSeconds": {"type": "integer", "minimum": 0},
            "sso": obj({
                "enabled": B, "mode": {"enum": ["bearer", "trustedHeader", "native"]},
                "issuer": S, "discoveryUrl": S, "jwksUrl": S, "audiences": STRS,
                "allowedAzp": STRS, "usernameClaims": STRS, "roleClaims": STRS,
                "leewaySeconds": {"type": "integer", "minimum": 0, "maximum": 300},
                "mappingMode": {"enum": ["authoritative", "floor"]},
                "unmappedPermission": LEVEL, "trustedProxies": STRS,
            }),
            "roleMappings": obj({k: STRS for k in ("admin", "manage", "edit", "read", "use")},
                                desc="Keycloak realm roles and /group/paths per MLflow level; "
                                     "rendered into [role_mappings] of the auth INI"),
        }),
        "proxy": obj({
            "enabled": B, "nativeSidecar": {"enum": ["auto", True, False, "true", "false"]},
            "port": PORT,
            "image": obj({"repository": S, "tag": S,
                          "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]}}),
            "provider": S,
            "oidc": obj({"issuerUrl": S, "clientId": S, "allowedGroups": STRS,
                         "allowedRoles": STRS,
                         "existingSecret": secret_ref(clientSecretKey=True, cookieSecretKey=True)}),
            "cookieRefresh": {"type": "string", "pattern": r"^[0-9]+(s|m|h)$"},
            "skipJwtBearerTokens": B, "extraArgs": STRS, "resources": ANY_OBJ,
        }),
        "ingress": obj({
            "enabled": B, "className": S, "certManager": obj({"clusterIssuer": S}),
            "annotations": LABELS, "tls": obj({"enabled": B, "secretName": S}),
        }),
        "service": obj({"type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
                        "port": PORT, "annotations": LABELS}),
        "networkPolicy": obj({
            "enabled": B, "ingressNSMatchLabels": LABELS, "monitoringNSMatchLabels": LABELS,
            "egress": obj({"allowDns": B, "postgresCidrs": STRS, "s3Cidrs": STRS,
                           "s3Ports": PORTS, "keycloakCidrs": STRS, "keycloakPorts": PORTS,
                           "kubeApiCidrs": STRS, "kubeApiPorts": PORTS}),
        }),
        "serviceMonitor": obj({"enabled": B, "interval": S, "scrapeTimeout": S,
                               "labels": LABELS, "path": S}),
        "kserve": obj({
            "enabled": B, "namespace": S, "serviceAccountName": S, "s3SecretName": S,
            "s3CredentialsSecret": S, "manageInferenceServices": B, "runtime": S,
            "protocolVersion": {"enum": ["v2"]},
        }),
        "keycloakBootstrap": obj({
            "enabled": B, "url": S, "adminRealm": S,
            "adminSecret": secret_ref(clientIdKey=True, clientSecretKey=True), "realm": S,
            "createClient": B, "createRoles": B, "createGroups": B,
        }),
        "portal": obj({"tile": obj({"enabled": B, "title": S, "icon": S})}),
        "autoscaling": obj({"enabled": B, "minReplicas": {"type": "integer", "minimum": 1},
                            "maxReplicas": {"type": "integer", "minimum": 1},
                            "targetCPUUtilizationPercentage": {"type": "integer", "minimum": 1,
                                                               "maximum": 100}}),
        "resources": ANY_OBJ, "livenessProbe": ANY_OBJ, "readinessProbe": ANY_OBJ,
        "startupProbe": ANY_OBJ, "podSecurityContext": ANY_OBJ, "securityContext": ANY_OBJ,
        "serviceAccount": obj({"create": B, "name": S, "automountServiceAccountToken": B,
                               "annotations": LABELS}),
        "pdb": obj({"enabled": B, "minAvailable": {"type": ["integer", "string"]}}),
        "podAnnotations": LABELS, "podLabels": LABELS,
        "nodeSelector": LABELS, "tolerations": {"type": "array", "items": ANY_OBJ},
        "affinity": ANY_OBJ,
        "extraDeploy": {"type": "array", "items": {"type": ["object", "string"]}},
    }),
}


def fix_secret_refs(node):
    """secret_ref(k=True) placeholders -> string properties."""
    if isinstance(node, dict):
        for k, v in list(node.items()):
            if v is True and k not in ("additionalProperties",):
                node[k] = S
            else:
                fix_secret_refs(v)
    elif isinstance(node, list):
        for v in node:
            fix_secret_refs(v)


fix_secret_refs(schema)
with open(OUT, "w") as f:
    json.dump(schema, f, indent=2)
    f.write("\n")
print("wrote", os.path.relpath(OUT))
