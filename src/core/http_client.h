/* http_client.h — one outgoing HTTP request with libcurl, answered into the
 * arena: the client the operator commands (Keycloak, S3, MinIO), the KServe
 * hand-off (the Kubernetes API) and single sign-on (discovery, JWKS, the
 * token endpoint) share. Redirects are never followed; answers are bounded
 * (4 MiB unless the call says less); TLS peers are verified unless a test
 * setup says otherwise; secrets in headers are never logged. SigV4 signing is
 * libcurl's (CURLOPT_AWS_SIGV4): the caller names the scope and the keys. */
#ifndef MFD_HTTP_CLIENT_H
#define MFD_HTTP_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "err.h"

typedef struct mfd_http_answer {
    long status;          /* 0 when no answer came */
    const char *body;     /* NUL-terminated, in the arena; "" when none */
    size_t len;           /* of body */
    const char *location; /* the Location header, NULL when absent */
    long max_age;         /* Cache-Control max-age in seconds; -1 when absent */
    const char *failure;  /* libcurl's reason when no answer came, else NULL */
} mfd_http_answer;

typedef struct mfd_http_call {
    const char *method;
    const char *url;
    const char *bearer; /* Authorization: Bearer ...; NULL = none */
    const char *user;   /* HTTP Basic credentials; NULL = none */
    const char *password;
    const char *content_type; /* of body; NULL = none */
    const char *body;         /* NULL = no body */
    size_t body_len;
    const char *aws_sigv4;      /* "aws:amz:<region>:<service>" to sign with; NULL = no */
    const char *aws_user;       /* access key:secret for the signature */
    const char *payload_sha256; /* x-amz-content-sha256 (signed requests) */
    const char *extra_header;   /* one more "Name: value" line; NULL = none */
    const char *ca_file;        /* NULL = the system's */
    bool insecure;              /* skip TLS checks (test setups) */
    long connect_timeout;       /* seconds; 0 = 10 */
    long timeout;               /* seconds for the whole request; 0 = 60 */
    size_t max_bytes;           /* a larger answer fails; 0 = 4 MiB */
} mfd_http_call;

/* One request; an answer of any status is success. No answer at all
 * (refused, timeout, TLS): TEMPORARILY_UNAVAILABLE naming the URL, and
 * answer->failure says why. */
mfd_err mfd_http_perform(mfd_arena *arena, const mfd_http_call *call, mfd_http_answer *answer);
/* The answer's body as JSON (new reference), NULL when it is not JSON. */
json_t *mfd_http_json(const mfd_http_answer *answer);
/* libcurl's global state, around the life of a long-lived user (the SSO
 * layer); reference counted by libcurl. */
void mfd_http_client_init(void);
void mfd_http_client_cleanup(void);
/* %-encodes everything but A-Z a-z 0-9 - _ . ~ (and '/' when keep_slash). */
const char *mfd_http_escape(mfd_arena *arena, const char *s, bool keep_slash);

#endif
