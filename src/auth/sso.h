/* sso.h — single sign-on inside the auth layer (src/auth only; auth.h is
 * the face the rest of the server sees).
 *
 *   sso_config.c  [sso] and [role_mappings] read into mfd_sso_settings
 *   roles.c       usernames and roles from claims or trusted headers, role
 *                 mapping to a level, trusted-proxy addresses
 *   jwt.c jwks.c  token verification and the key cache
 *   sso.c         bearer tokens, trusted headers and sessions to a user:
 *                 provisioning, (iss, sub) binding, the per-token cache
 *   oidc_login.c  the native login (authorization code + PKCE) and sessions
 *   tokens.c      personal access tokens
 *
 * Precedence of credentials (R-SSO-1): Bearer > Basic > trusted headers >
 * session cookie. An SSO user's level is resolved per request from the
 * roles, never written to permission rows. */
#ifndef MFD_AUTH_SSO_H
#define MFD_AUTH_SSO_H

#include <netinet/in.h>

#include "auth_internal.h"
#include "jwks.h"
#include "jwt.h"
#include "token_cache.h"

/* How the request's user was authenticated (mfd_auth_request.method). */
typedef enum mfd_auth_method {
    MFD_AUTH_METHOD_NONE,
    MFD_AUTH_METHOD_BASIC,
    MFD_AUTH_METHOD_TOKEN, /* personal access token as the Basic password */
    MFD_AUTH_METHOD_BEARER,
    MFD_AUTH_METHOD_TRUSTED_HEADER,
    MFD_AUTH_METHOD_SESSION,
} mfd_auth_method;

/* [role_mappings] keys in order of strength. */
typedef enum { MAP_ADMIN, MAP_MANAGE, MAP_EDIT, MAP_USE, MAP_READ, MAP_LEVELS } mfd_map_level;

typedef struct mfd_cidr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int prefix;
} mfd_cidr;

typedef struct mfd_sso_settings {
    bool enabled; /* authorization_function selects the [sso] modes */
    bool basic, bearer, trusted_header, native;
    const char *issuer, *discovery_url, *jwks_url, *ca_file; /* owned by the ini */
    mfd_strlist audiences, allowed_azp, algorithms, username_claims, role_claims, allowed_groups,
        token_types;
    const char *scopes, *client_id, *client_secret, *redirect_uri, *external_url;
    int leeway_seconds, jwks_cache_seconds, jwks_refetch_seconds, session_seconds;
    bool authoritative;                    /* mapping_mode */
    mfd_permission unmapped, create_level; /* unmapped_permission, create_permission */
    bool cookie_secure;
    mfd_cidr *proxies;
    size_t n_proxies;
    mfd_strlist mappings[MAP_LEVELS]; /* role names and /group/paths per level */
    char derived_redirect_uri[2048];  /* <external_url>/oidc/callback */
} mfd_sso_settings;

/* --- sso_config.c ----------------------------------------------------------- */
mfd_err mfd_sso_settings_load(const mfd_auth_ini *ini, mfd_sso_settings **out);
void mfd_sso_settings_free(mfd_sso_settings *settings);
void mfd_strlist_free(mfd_strlist *list);
/* Splits on commas and newlines, trims, drops empty items. */
void mfd_strlist_split(const char *text, mfd_strlist *out);

/* --- roles.c ---------------------------------------------------------------- */
/* True when `peer` (textual IPv4/IPv6, IPv4-mapped accepted) is in a CIDR. */
bool mfd_sso_peer_trusted(const mfd_sso_settings *s, const char *peer);
bool mfd_cidr_parse(const char *text, mfd_cidr *out);
/* Why text is no username (over 255 bytes, a line break, not UTF-8); NULL
 * when it is one. */
const char *mfd_sso_username_problem(const char *v);
/* The first non-empty username claim; false with *why when none, when one
 * has the wrong type, when the first is no username (mfd_sso_username_problem)
 * or an email with email_verified false: never the next claim instead. */
bool mfd_sso_claims_username(const mfd_sso_settings *s, const json_t *claims, const char **out,
                             const char **why);
/* The union of the role claims ("client:role" for resource_access roles),
 * '\n'-joined into the arena; false with *why on a wrong claim type. */
bool mfd_sso_claims_roles(const mfd_sso_settings *s, const json_t *claims, mfd_arena *arena,
                          mfd_strbuf *roles, const char **why);
/* X-Forwarded-Groups values (repeated lines or comma-joined; `role:x` and
 * `role:client:x` understood) appended to roles. */
void mfd_sso_header_roles(const char *value, mfd_strbuf *roles);
/* Level, admin and allowed-groups verdict for '\n'-joined roles. */
void mfd_sso_map_roles(const mfd_sso_settings *s, const char *roles, mfd_sso_identity *out);

/* --- sso.c ------------------------------------------------------------------ */
typedef struct mfd_sso mfd_sso;
mfd_err mfd_sso_open(mfd_auth *auth, mfd_sso **out);
void mfd_sso_close(mfd_sso *sso);
const mfd_sso_settings *mfd_sso_settings_of(const mfd_sso *sso);
mfd_jwks *mfd_sso_jwks(mfd_sso *sso);
mfd_token_cache *mfd_sso_cache(mfd_sso *sso);
/* Bearer token from Authorization or (trusted peer) X-Forwarded-Access-Token;
 * NULL when none applies. */
const char *mfd_sso_bearer_token(mfd_auth *auth, const mfd_request *req);
/* Each fills the request's user, or a 401/403 in res with *refused. */
mfd_err mfd_sso_authenticate_bearer(mfd_auth *auth, mfd_request *req, const char *token,
                                    mfd_response *res, bool *refused);
/* *handled false when the mode is off, the peer untrusted or no user header. */
mfd_err mfd_sso_authenticate_headers(mfd_auth *auth, mfd_request *req, mfd_response *res,
                                     bool *refused, bool *handled);
/* Verifies an ID token of the native login (audience = client_id, nonce)
 * and resolves its user; `identity` is filled on success, else *refusal is
 * a message for a 403 page (not a 401: the browser did sign in). */
mfd_err mfd_sso_resolve_id_token(mfd_auth *auth, mfd_arena *arena, const char *id_token,
                                 const char *nonce, mfd_sso_identity *identity,
                                 const char **refusal);
/* Applies a resolved identity to the request (username, admin, level). */
void mfd_sso_apply(mfd_request *req, const mfd_sso_identity *identity);
/* 401 with WWW-Authenticate: Bearer error="invalid_token" and MLflow's
 * JSON error body. */
void mfd_sso_refuse_token(mfd_request *req, mfd_response *res, const char *why);

/* --- oidc_login.c ------------------------------------------------------------ */
/* Session cookie → user; *handled false when there is no session cookie. */
mfd_err mfd_sso_authenticate_session(mfd_auth *auth, mfd_request *req, mfd_response *res,
                                     bool *refused, bool *handled);

/* --- tokens.c ----------------------------------------------------------------- */
/* True when `password` has the shape of a personal access token. */
bool mfd_auth_token_shaped(const char *password);
typedef enum { MFD_TOKEN_INVALID, MFD_TOKEN_OK, MFD_TOKEN_FORBIDDEN } mfd_token_outcome;
/* Checks a personal access token given as the Basic password; sets the
 * request's user (with the SSO snapshot for SSO users) when OK; FORBIDDEN:
 * an SSO user outside the allowed groups. */
mfd_err mfd_auth_token_authenticate(mfd_auth *auth, mfd_request *req, const char *username,
                                    const char *token, mfd_token_outcome *outcome);

#endif
