/* admin.h — the operator commands: `mlflowd admin init-db | init-bucket |
 * keycloak` (provisioning that the Helm chart's hook Jobs run) and
 * `mlflowd kserve manifest | apply`; plus the small pieces they share:
 * option parsing (flag > environment > default, as `mlflowd server`), the
 * report of what was created, updated or found unchanged, and a JSON-over-
 * HTTP client (libcurl) for the Keycloak and MinIO admin APIs.
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

/* --- JSON over HTTP (http.c) -------------------------------------------- */

typedef struct mfd_http_answer {
    long status;
    const char *body;     /* NUL-terminated, in the arena; "" when none */
    const char *location; /* the Location header, NULL when absent */
} mfd_http_answer;

typedef struct mfd_http_call {
    const char *method;
    const char *url;
    const char *bearer;       /* Authorization: Bearer ...; NULL = none */
    const char *content_type; /* of body; NULL = none */
    const char *body;         /* NULL = no body */
    size_t body_len;
    const char *aws_sigv4;      /* "aws:amz:<region>:<service>" to sign with; NULL = no */
    const char *aws_user;       /* access key:secret for the signature */
    const char *payload_sha256; /* x-amz-content-sha256 (signed requests) */
    const char *extra_header;   /* one more "Name: value" line; NULL = none */
    const char *ca_file;        /* NULL = the system's */
    bool insecure;              /* skip TLS checks (test setups) */
} mfd_http_call;

/* One request; an answer of any status is success. No answer at all
 * (refused, timeout, TLS): TEMPORARILY_UNAVAILABLE naming the URL. */
mfd_err mfd_http_perform(mfd_arena *arena, const mfd_http_call *call, mfd_http_answer *answer);
/* The answer's body as JSON (new reference), NULL when it is not JSON. */
json_t *mfd_http_json(const mfd_http_answer *answer);
/* %-encodes everything but A-Z a-z 0-9 - _ . ~ (and '/' when keep_slash). */
const char *mfd_http_escape(mfd_arena *arena, const char *s, bool keep_slash);

#endif
