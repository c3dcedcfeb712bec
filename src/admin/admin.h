/* admin.h — the operator commands: `mlflowd admin init-db | init-bucket |
 * keycloak` (provisioning that the Helm chart's hook Jobs run) and
 * `mlflowd kserve manifest | apply`; plus the small pieces they share:
 * option parsing (flag > environment > default, as `mlflowd server`), the
 * report of what was created, updated or found unchanged, SigV4-signed
 * requests for S3 and MinIO (over core/http_client.h, which the Keycloak
 * calls use directly), and the encryption of MinIO's admin request bodies.
 *
 * Every admin command is idempotent: it looks before it creates, tolerates
 * "already exists", and a second run reports "0 created, 0 updated". */
#ifndef MFD_ADMIN_H
#define MFD_ADMIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/http_client.h"

/* Entry points from main.c: argv[0] is "admin" / "kserve"; exit codes
 * 0 = done, 1 = failed (message on stderr), 2 = usage. */
int mfd_admin_main(int argc, char **argv);
int mfd_admin_kserve_main(int argc, char **argv);

/* The commands (argv[0] = the command name). */
int mfd_admin_init_db(int argc, char **argv);
int mfd_admin_init_bucket(int argc, char **argv);
int mfd_admin_keycloak(int argc, char **argv);

/* --- options (cli.c) --------------------------------------------------- */

typedef enum mfd_cli_kind {
    MFD_CLI_STRING, /* const char * */
    MFD_CLI_FLAG,   /* bool; `--x` or `--x=false`; env true/false */
    MFD_CLI_LIST,   /* mfd_cli_list: the flag may repeat; env is comma-separated */
} mfd_cli_kind;

enum { MFD_CLI_LIST_MAX = 64 };
typedef struct mfd_cli_list {
    const char *items[MFD_CLI_LIST_MAX];
    int n;
} mfd_cli_list;

typedef struct mfd_cli_option {
    const char *flag; /* "--prefix" */
    const char *env;  /* NULL = none */
    mfd_cli_kind kind;
    void *target;
    const char *help; /* NULL = hidden */
} mfd_cli_option;

typedef struct mfd_cli {
    const char *usage; /* "mlflowd admin init-db [OPTIONS]" */
    const char *about; /* a paragraph */
    const mfd_cli_option *options;
    size_t n_options;
} mfd_cli;

/* Environment first, then argv[1..]. Returns 0 to go on, else the exit
 * code to return (--help: 0 after printing, through *stop; bad usage: 2). */
int mfd_cli_parse(const mfd_cli *cli, int argc, char **argv, bool *stop);
void mfd_cli_print_usage(const mfd_cli *cli, FILE *out);
/* Logs the error, frees it, returns 1. */
int mfd_cli_fail(mfd_err err);

/* --- the report ---------------------------------------------------------- */

typedef enum mfd_change { MFD_CREATED, MFD_UPDATED, MFD_UNCHANGED } mfd_change;

typedef struct mfd_admin_report {
    const char *command;
    int counts[3];
} mfd_admin_report;

/* One stdout line: "created role \"mlflow\"", "unchanged database ...". */
void mfd_admin_note(mfd_admin_report *report, mfd_change change, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The closing line: "<command>: N created, N updated, N unchanged". */
void mfd_admin_summary(const mfd_admin_report *report);

/* --- S3-signed requests (http.c): S3 itself and MinIO's admin API ------- */

typedef struct mfd_admin_s3 {
    const char *region;     /* of the SigV4 credential scope */
    const char *access_key; /* NULL = the request is not signed */
    const char *secret_key;
    const char *session_token; /* x-amz-security-token; NULL = none */
    const char *ca_file;       /* NULL = the system's */
    bool insecure;             /* skip TLS checks (MLFLOW_S3_IGNORE_TLS) */
} mfd_admin_s3;

typedef struct mfd_http_param {
    const char *name, *value;
} mfd_http_param;

/* "?a=1&b=2": the parameters %-encoded and sorted by name, the canonical
 * query SigV4 signs (libcurl 7.88 signs the query exactly as written); ""
 * when n is 0. Sorts `params` in place. */
const char *mfd_http_query(mfd_arena *arena, mfd_http_param *params, size_t n);
/* One request signed with SigV4 for the service "s3" (which MinIO's admin
 * API also uses), by libcurl; the body's SHA-256 goes in x-amz-content-sha256
 * (S3 and MinIO check it). content_type NULL = none. */
mfd_err mfd_http_perform_s3(mfd_arena *arena, const mfd_admin_s3 *s3, const char *method,
                            const char *url, const char *content_type, const void *body,
                            size_t body_len, mfd_http_answer *answer);
/* The <Code> of an S3 XML error answer; "" when none. */
const char *mfd_http_s3_code(mfd_arena *arena, const char *body);

/* --- MinIO users and policies (minio_admin.c) ---------------------------- */

typedef struct mfd_minio_grant {
    const char *admin_url;   /* the MinIO server, http(s)://host:port */
    mfd_admin_s3 admin;      /* an admin's keys (root user or an admin policy) */
    const char *bucket;      /* the bucket the user may use, and only it */
    const char *policy;      /* the canned policy granting it */
    const char *user;        /* the user's access key */
    const char *user_secret; /* and secret key */
} mfd_minio_grant;

/* Makes MinIO hold the canned policy (the bucket's list/get/put/delete
 * actions), the user (enabled, with that secret key) and the policy among
 * the user's, through MinIO's admin REST API v3; each looked at first and
 * reported as created, updated or unchanged. An existing user's secret key
 * is proved by a GetBucketLocation signed with it and set again only when
 * MinIO refuses that signature. */
mfd_err mfd_minio_grant_bucket(mfd_arena *arena, const mfd_minio_grant *grant,
                               mfd_admin_report *report);

/* --- MinIO's encrypted admin bodies (madmin_crypt.c) ---------------------- */

enum { MFD_SIO_BUF_SIZE = 16384, MFD_SIO_NONCE_LEN = 8, MFD_MADMIN_SALT_LEN = 32 };

/* The bytes sio's framing makes of `len` plaintext bytes cut in fragments of
 * buf_size: each fragment gains a 16-byte tag. */
size_t mfd_sio_sealed_len(size_t len, size_t buf_size);
/* sio-go's stream encryption with AES-GCM (key of 16 or 32 bytes) into `out`
 * (mfd_sio_sealed_len bytes). false: a bad key size, or OpenSSL failed. */
bool mfd_sio_seal(const unsigned char *key, size_t key_len,
                  const unsigned char nonce[MFD_SIO_NONCE_LEN], const unsigned char *ad,
                  size_t ad_len, size_t buf_size, const unsigned char *plain, size_t len,
                  unsigned char *out);
/* madmin-go's EncryptData (PBKDF2-SHA256 + AES-256-GCM, id 0x02) of `data`
 * with the admin's secret key as password: *out (in the arena) is the body
 * to send. salt (32 bytes) and nonce (8) NULL = random; tests fix them. */
mfd_err mfd_madmin_encrypt(mfd_arena *arena, const char *password, const void *data, size_t len,
                           const unsigned char *salt, const unsigned char *nonce,
                           const unsigned char **out, size_t *out_len);

#endif
