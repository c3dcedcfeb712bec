/* cli.c — options of the operator commands (flag > environment > default)
 * and their report lines; `mlflowd admin` dispatch. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin.h"
#include "core/log.h"

static bool parse_bool(const char *s, bool *out) {
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off", ""};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!strcasecmp(s, yes[i]))
            return (*out = true);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (!strcasecmp(s, no[i]))
            return !(*out = false);
    return false;
}

static bool list_add(mfd_cli_list *list, const char *item) {
    if (list->n == MFD_CLI_LIST_MAX)
        return false;
    list->items[list->n++] = item;
    return true;
}

/* A comma-separated environment value split into a list (kept for the
 * process's lifetime: the strings point into one strdup'd copy). */
static bool list_from_env(mfd_cli_list *list, const char *value) {
    static char *copies[32];
    static size_t n_copies;
    char *copy = strdup(value);
    if (n_copies < sizeof copies / sizeof copies[0])
        copies[n_copies++] = copy; /* owned by the process until exit */
    for (char *item = strtok(copy, ","); item; item = strtok(NULL, ",")) {
        while (*item == ' ')
            item++;
        size_t len = strlen(item);
        while (len > 0 && item[len - 1] == ' ')
            item[--len] = '\0';
        if (*item && !list_add(list, item))
            return false;
    }
    return true;
}

/* Exit statuses as README's `mlflowd admin` says: a value that cannot be used is a failure
 * (1, the message says what to fix); 2 is bad usage (an unknown option, a flag without its
 * value, a required flag missing). */
static int apply(const mfd_cli_option *o, const char *name, const char *value, bool from_env) {
    switch (o->kind) {
    case MFD_CLI_STRING:
        *(const char **)o->target = value;
        return 0;
    case MFD_CLI_FLAG: {
        bool b = true;
        if (value && !parse_bool(value, &b)) {
            fprintf(stderr, "mlflowd: %s: '%s' is not true or false\n", name, value);
            return 1;
        }
        *(bool *)o->target = b;
        return 0;
    }
    case MFD_CLI_LIST: {
        mfd_cli_list *list = o->target;
        if (from_env ? list_from_env(list, value) : list_add(list, value))
            return 0;
        fprintf(stderr, "mlflowd: %s: more than %d values\n", name, MFD_CLI_LIST_MAX);
        return 1;
    }
    }
    return 1;
}

void mfd_cli_print_usage(const mfd_cli *cli, FILE *out) {
    fprintf(out, "Usage: %s\n\n%s\n\nOptions (environment variable in brackets):\n", cli->usage,
            cli->about);
    for (size_t i = 0; i < cli->n_options; i++) {
        const mfd_cli_option *o = &cli->options[i];
        if (!o->help)
            continue;
        fprintf(out, "  %s%s\n      %s", o->flag, o->kind == MFD_CLI_FLAG ? "" : " VALUE", o->help);
        if (o->env)
            fprintf(out, " [%s]", o->env);
        fprintf(out, "\n");
    }
    fprintf(out, "  --help\n      show this help\n");
}

int mfd_cli_parse(const mfd_cli *cli, int argc, char **argv, bool *stop) {
    *stop = false;
    for (size_t i = 0; i < cli->n_options; i++) {
        const mfd_cli_option *o = &cli->options[i];
        const char *v = o->env ? getenv(o->env) : NULL; /* empty = unset, as the server's */
        int rc;
        if (v && *v && (rc = apply(o, o->env, v, true)) != 0) {
            *stop = true;
            return rc;
        }
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            mfd_cli_print_usage(cli, stdout);
            *stop = true;
            return 0;
        }
        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        const mfd_cli_option *o = NULL;
        for (size_t i = 0; i < cli->n_options && !o; i++)
            if (strlen(cli->options[i].flag) == name_len &&
                !strncmp(cli->options[i].flag, arg, name_len))
                o = &cli->options[i];
        if (!o) {
            fprintf(stderr, "mlflowd: unknown option '%s'\n\n", arg);
            mfd_cli_print_usage(cli, stderr);
            *stop = true;
            return 2;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value && o->kind != MFD_CLI_FLAG) {
            if (a + 1 >= argc) {
                fprintf(stderr, "mlflowd: option %s needs a value\n", o->flag);
                *stop = true;
                return 2;
            }
            value = argv[++a];
        }
        int rc = apply(o, o->flag, value, false);
        if (rc) {
            *stop = true;
            return rc;
        }
    }
    return 0;
}

int mfd_cli_fail(mfd_err err) {
    mfd_log_error("%s", err->message);
    mfd_err_free(err);
    return 1;
}

void mfd_admin_note(mfd_admin_report *report, mfd_change change, const char *fmt, ...) {
    static const char *const words[] = {"created", "updated", "unchanged"};
    report->counts[change]++;
    va_list ap;
    va_start(ap, fmt);
    printf("%s ", words[change]);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
}

void mfd_admin_summary(const mfd_admin_report *report) {
    printf("%s: %d created, %d updated, %d unchanged\n", report->command,
           report->counts[MFD_CREATED], report->counts[MFD_UPDATED], report->counts[MFD_UNCHANGED]);
    fflush(stdout);
}

static void admin_usage(FILE *out) {
    fprintf(out,
            "Usage: mlflowd admin COMMAND [OPTIONS]\n\n"
            "Provisioning for a deployment; each command is idempotent and safe to rerun.\n\n"
            "Commands:\n"
            "  init-db       create the PostgreSQL role and the tracking and auth databases\n"
            "  init-bucket   create the S3 bucket of the artifacts destination\n"
            "  keycloak      create the Keycloak client, its mappers, realm roles and groups\n\n"
            "See mlflowd admin COMMAND --help. The schema itself: mlflowd db upgrade URI.\n");
}

int mfd_admin_main(int argc, char **argv) {
    if (argc < 2) {
        admin_usage(stderr);
        return 2;
    }
    const char *command = argv[1];
    if (!strcmp(command, "--help") || !strcmp(command, "help")) {
        admin_usage(stdout);
        return 0;
    }
    if (!strcmp(command, "init-db"))
        return mfd_admin_init_db(argc - 1, argv + 1);
    if (!strcmp(command, "init-bucket"))
        return mfd_admin_init_bucket(argc - 1, argv + 1);
    if (!strcmp(command, "keycloak"))
        return mfd_admin_keycloak(argc - 1, argv + 1);
    fprintf(stderr, "mlflowd admin: unknown command '%s'\n\n", command);
    admin_usage(stderr);
    return 2;
}
