/* sso_http.h — the few outgoing HTTP calls of single sign-on (discovery,
 * JWKS, the token endpoint), hardened per sso-and-deploy.md §7: redirects
 * are never followed, connect + total time is capped at 5 s, bodies are
 * capped, TLS peers are verified (optionally against a given CA bundle). */
#ifndef MFD_AUTH_SSO_HTTP_H
#define MFD_AUTH_SSO_HTTP_H

#include <stddef.h>

#include "core/arena.h"
#include "core/err.h"

typedef struct mfd_sso_http_call {
    const char *url;
    const char *form; /* POST this application/x-www-form-urlencoded body; NULL = GET */
    const char *user; /* HTTP Basic credentials (client authentication); NULL = none */
    const char *password;
    const char *ca_file; /* NULL = the system's CAs */
    size_t max_bytes;    /* larger answers fail */
} mfd_sso_http_call;

typedef struct mfd_sso_http_answer {
    long status;
    char *body; /* malloc'd, NUL-terminated */
    size_t len;
    long max_age; /* Cache-Control max-age in seconds; -1 when absent */
} mfd_sso_http_answer;

/* Errors: TEMPORARILY_UNAVAILABLE naming the URL and the cause. Any status
 * is an answer (the caller checks it). */
mfd_err mfd_sso_http(const mfd_sso_http_call *call, mfd_sso_http_answer *out);
void mfd_sso_http_answer_free(mfd_sso_http_answer *answer);

/* x-www-form-urlencoded escaping into a malloc'd string / the arena. */
char *mfd_sso_form_escape(const char *s);
char *mfd_sso_form_escape_arena(mfd_arena *arena, const char *s);

/* libcurl's global state, around the life of the auth layer. */
void mfd_sso_http_init(void);
void mfd_sso_http_cleanup(void);

#endif
