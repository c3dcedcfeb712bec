/* init_db.c — `mlflowd admin init-db`: with PostgreSQL admin credentials,
 * make sure the server's login role and its two databases (tracking, auth)
 * exist, owned by that role and closed to PUBLIC (what the legacy `initpg`
 * chart did; sso-and-deploy.md §4.4).
 *
 * Invariants: identifiers and literals reach SQL only through
 * PQescapeIdentifier / PQescapeLiteral (or as bound parameters); the
 * password is sent as a SCRAM verifier made on this side
 * (PQencryptPasswordConn), so it never appears in the server's statement
 * log; every step looks first and changes only what differs, under an
 * advisory lock so two Jobs running at once queue. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "store/db.h"

#define INIT_DB_LOCK "8734517801" /* pg_advisory_lock key of init-db */

typedef struct init_db {
    PGconn *conn;
    mfd_arena *arena;
    mfd_admin_report report;
} init_db;

static const char *ident(init_db *d, const char *name);

static mfd_err pg_error(init_db *d, const char *what, PGresult *res) {
    const char *message = res ? PQresultErrorMessage(res) : PQerrorMessage(d->conn);
    size_t len = strlen(message); /* libpq ends it with a line break */
    while (len > 0 && (message[len - 1] == '\n' || message[len - 1] == ' '))
        len--;
    mfd_err err = mfd_err_new(MFD_INTERNAL_ERROR, "%s: %.*s", what, (int)len, message);
    PQclear(res);
    return err;
}

/* Runs one statement; `params` are text values. *out (if given) keeps the
 * result. An error names `shown`, or the statement when it is NULL. */
static mfd_err run_shown(init_db *d, const char *sql, const char *shown, int n,
                         const char *const *params, PGresult **out) {
    PGresult *res = PQexecParams(d->conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        return pg_error(d, shown ? shown : sql, res);
    if (out)
        *out = res;
    else
        PQclear(res);
    return NULL;
}

static mfd_err run(init_db *d, const char *sql, int n, const char *const *params, PGresult **out) {
    return run_shown(d, sql, NULL, n, params, out);
}

/* PostgreSQL 15 makes a role a database's owner only for a member of that
 * role: a CREATEROLE admin that is no superuser (managed services) must
 * join it first. */
static mfd_err ensure_member_of(init_db *d, const char *role) {
    PGresult *res = NULL;
    const char *params[] = {role};
    mfd_err err = run(d, "SELECT pg_has_role(current_user, $1, 'MEMBER')", 1, params, &res);
    if (err)
        return err;
    bool member = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return member ? NULL
                  : run(d, mfd_arena_sprintf(d->arena, "GRANT %s TO CURRENT_USER", ident(d, role)),
                        0, NULL, NULL);
}

static const char *ident(init_db *d, const char *name) {
    char *q = PQescapeIdentifier(d->conn, name, strlen(name));
    const char *copy = mfd_arena_strdup(d->arena, q ? q : "\"\"");
    PQfreemem(q);
    return copy;
}

static const char *literal(init_db *d, const char *value) {
    char *q = PQescapeLiteral(d->conn, value, strlen(value));
    const char *copy = mfd_arena_strdup(d->arena, q ? q : "''");
    PQfreemem(q);
    return copy;
}

/* Lower-case SQL names only: they mean the same quoted or not. */
static mfd_err check_name(const char *what, const char *name) {
    size_t len = strlen(name);
    bool ok = len > 0 && len <= 63 && ((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_');
    for (size_t i = 0; ok && i < len; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
             name[i] == '_';
    if (!ok)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "%s '%s' must be 1-63 of a-z, 0-9 and _, starting with a letter or _",
                           what, name);
    return NULL;
}

/* Does `password` open a session as `role`, where the admin connection goes? */
typedef enum { LOGIN_OK, LOGIN_REFUSED, LOGIN_UNKNOWN } login_probe;

/* Tries to log in as the role. LOGIN_UNKNOWN: it failed for another reason
 * than its password (a pg_hba rule, its connection limit, the server's),
 * *why says which: no reason to set the password again. */
static login_probe try_login(init_db *d, const char *role, const char *password,
                             const char *database, const char **why) {
    const char *keys[] = {"host", "port", "user", "password", "dbname", "connect_timeout", NULL};
    const char *host = PQhost(d->conn);
    const char *values[] = {host, PQport(d->conn), role, password, database, "10", NULL};
    PGconn *probe = PQconnectdbParams(keys, values, 0);
    login_probe result = LOGIN_OK;
    if (PQstatus(probe) != CONNECTION_OK) {
        const char *message = PQerrorMessage(probe);
        result = strstr(message, "password authentication failed") ? LOGIN_REFUSED : LOGIN_UNKNOWN;
        size_t len = strcspn(message, "\n");
        *why = mfd_arena_strndup(d->arena, message, len);
    }
    PQfinish(probe);
    return result;
}

static mfd_err encrypted_password(init_db *d, const char *role, const char *password,
                                  const char **secret) {
    *secret = NULL;
    if (!password)
        return NULL;
    char *verifier = PQencryptPasswordConn(d->conn, password, role, NULL);
    if (!verifier)
        return pg_error(d, "cannot encrypt the password", NULL);
    *secret = mfd_arena_strdup(d->arena, verifier);
    PQfreemem(verifier);
    return NULL;
}

/* Creates the role when it is missing; *existed says whether it was there,
 * so that ensure_role_login() checks it once its database exists. */
static mfd_err ensure_role_exists(init_db *d, const char *role, const char *password,
                                  bool *existed) {
    PGresult *res = NULL;
    const char *params[] = {role};
    mfd_err err = run(d, "SELECT 1 FROM pg_roles WHERE rolname = $1", 1, params, &res);
    if (err)
        return err;
    *existed = PQntuples(res) == 1;
    PQclear(res);
    if (*existed)
        return NULL;
    const char *secret;
    if ((err = encrypted_password(d, role, password, &secret)))
        return err;
    if (!secret)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           "role \"%s\" does not exist and no password was given: set "
                           "MLFLOWD_DB_PASSWORD or --password-file",
                           role);
    /* the password's verifier stays out of messages (an offline attack's input) */
    const char *sql = mfd_arena_sprintf(d->arena, "CREATE ROLE %s LOGIN PASSWORD %s",
                                        ident(d, role), literal(d, secret));
    const char *shown =
        mfd_arena_sprintf(d->arena, "CREATE ROLE %s LOGIN PASSWORD '***'", ident(d, role));
    if ((err = run_shown(d, sql, shown, 0, NULL, NULL)))
        return err;
    mfd_admin_note(&d->report, MFD_CREATED, "role \"%s\"", role);
    return NULL;
}

/* An existing role may log in, with `password` (when given) — tried on
 * `probe_db`, which exists by now: a database still to be created would fail
 * the login for that reason alone and reset a right password. */
static mfd_err ensure_role_login(init_db *d, const char *role, const char *password,
                                 const char *probe_db) {
    PGresult *res = NULL;
    const char *params[] = {role};
    mfd_err err = run(d,
                      "SELECT rolcanlogin, rolvaliduntil IS NOT NULL AND rolvaliduntil < now() "
                      "FROM pg_roles WHERE rolname = $1",
                      1, params, &res);
    if (err)
        return err;
    bool can_login = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    bool expired = PQntuples(res) == 1 && PQgetvalue(res, 0, 1)[0] == 't';
    PQclear(res);
    const char *secret;
    if ((err = encrypted_password(d, role, password, &secret)))
        return err;
    const char *why = NULL;
    login_probe probe = secret && can_login && !expired
                            ? try_login(d, role, password, probe_db, &why)
                            : LOGIN_REFUSED;
    bool fix_password = secret && probe == LOGIN_REFUSED;
    if (probe == LOGIN_UNKNOWN) /* said, and left as it is */
        printf("could not check the password of role \"%s\": %s\n", role, why);
    if (!can_login || fix_password || (expired && secret)) {
        const char *sql = mfd_arena_sprintf(
            d->arena, "ALTER ROLE %s LOGIN%s%s%s", ident(d, role), fix_password ? " PASSWORD " : "",
            fix_password ? literal(d, secret) : "", expired ? " VALID UNTIL 'infinity'" : "");
        const char *shown = mfd_arena_sprintf(d->arena, "ALTER ROLE %s LOGIN%s%s", ident(d, role),
                                              fix_password ? " PASSWORD '***'" : "",
                                              expired ? " VALID UNTIL 'infinity'" : "");
        if ((err = run_shown(d, sql, shown, 0, NULL, NULL)))
            return err;
        mfd_admin_note(&d->report, MFD_UPDATED, "role \"%s\" (%s%s)", role,
                       fix_password ? "password set" : "LOGIN granted",
                       expired ? ", validity renewed" : "");
        return NULL;
    }
    mfd_admin_note(&d->report, MFD_UNCHANGED, "role \"%s\"", role);
    return NULL;
}

/* The admin's connection to another database: the same server, user and
 * settings (PQconninfo of the admin's own), another dbname. */
static PGconn *admin_connection_to(init_db *d, const char *database) {
    PQconninfoOption *options = PQconninfo(d->conn);
    size_t n = 0;
    for (PQconninfoOption *o = options; o && o->keyword; o++)
        n++;
    const char **keys = mfd_arena_calloc(d->arena, n + 2, sizeof *keys);
    const char **values = mfd_arena_calloc(d->arena, n + 2, sizeof *values);
    size_t k = 0;
    for (PQconninfoOption *o = options; o && o->keyword; o++)
        if (o->val && *o->val && strcmp(o->keyword, "dbname") != 0) {
            keys[k] = mfd_arena_strdup(d->arena, o->keyword);
            values[k++] = mfd_arena_strdup(d->arena, o->val);
        }
    keys[k] = "dbname";
    values[k] = database;
    PQconninfoFree(options);
    return PQconnectdbParams(keys, values, 0);
}

/* ALTER DATABASE ... OWNER moves the database, not what is in it: what the
 * previous owner made there (MLflow's tables, their sequences, views,
 * functions, statistics, its schemas) moves to the new owner too, or the new
 * role could not migrate or serve it. Object by object, in that database:
 * REASSIGN OWNED would also hand over the previous owner's other databases. */
static mfd_err move_contents(init_db *d, const char *database, const char *from, const char *to) {
    mfd_err err = ensure_member_of(d, from);
    if (err)
        return err;
    PGconn *conn = admin_connection_to(d, database);
    if (PQstatus(conn) != CONNECTION_OK) {
        err = mfd_err_new(MFD_INTERNAL_ERROR, "cannot connect to database \"%s\": %s", database,
                          PQerrorMessage(conn));
        PQfinish(conn);
        return err;
    }
    const char *old_owner = literal(d, from), *new_owner = literal(d, to);
    const char *sql = mfd_arena_sprintf(
        d->arena,
        "DO $mlflowd$ DECLARE s text; BEGIN FOR s IN SELECT q FROM ("
        /* schemas first: a role that is not a superuser may move a table only
         * once it owns (or may create in) the table's schema */
        "SELECT 0 AS k, format('ALTER SCHEMA %%I OWNER TO %%I', n.nspname, %s) AS q FROM "
        "pg_namespace n WHERE n.nspowner = (SELECT oid FROM pg_roles WHERE rolname = %s) AND "
        "n.nspname NOT LIKE 'pg\\_%%' AND "
        "n.nspname <> 'information_schema' "
        "UNION ALL SELECT 1, format('ALTER %%s %%s OWNER TO %%I', CASE c.relkind WHEN 'S' THEN "
        "'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, "
        "c.oid::regclass, %s) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relowner = (SELECT oid FROM pg_roles WHERE rolname = %s) AND c.relkind IN ('r', "
        "'p', 'S', 'v', 'm') "
        "AND n.nspname NOT LIKE 'pg\\_%%' AND n.nspname <> 'information_schema' "
        /* a column's sequence moves with its table (and may not be moved alone) */
        "AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend x WHERE x.objid = c.oid "
        "AND x.classid = 'pg_class'::regclass AND x.deptype IN ('a', 'i'))) "
        "UNION ALL SELECT 1, format('ALTER ROUTINE %%s OWNER TO %%I', p.oid::regprocedure, %s) "
        "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proowner = "
        "(SELECT oid FROM pg_roles WHERE rolname = %s) AND n.nspname NOT LIKE 'pg\\_%%' AND "
        "n.nspname <> 'information_schema' "
        "UNION ALL SELECT 1, format('ALTER STATISTICS %%I.%%I OWNER TO %%I', n.nspname, "
        "x.stxname, %s) "
        "FROM pg_statistic_ext x JOIN pg_namespace n ON n.oid = x.stxnamespace WHERE x.stxowner "
        "= (SELECT oid FROM pg_roles WHERE rolname = %s)) moves ORDER BY k "
        "LOOP EXECUTE s; END LOOP; END $mlflowd$",
        new_owner, old_owner, new_owner, old_owner, new_owner, old_owner, new_owner, old_owner);
    PGresult *res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        const char *what = mfd_arena_sprintf(
            d->arena, "moving what \"%s\" owns in database \"%s\" to \"%s\"", from, database, to);
        PGconn *admin = d->conn;
        d->conn = conn; /* pg_error reads the message of this connection's result */
        err = pg_error(d, what, res);
        d->conn = admin;
    } else {
        PQclear(res);
    }
    PQfinish(conn);
    return err;
}

static mfd_err ensure_database(init_db *d, const char *database, const char *owner) {
    PGresult *res = NULL;
    const char *params[] = {database};
    mfd_err err = run(d,
                      "SELECT pg_get_userbyid(datdba), has_database_privilege('public', oid, "
                      "'CONNECT') OR has_database_privilege('public', oid, 'TEMPORARY') FROM "
                      "pg_database WHERE datname = $1",
                      1, params, &res);
    if (err)
        return err;
    bool exists = PQntuples(res) == 1;
    const char *current_owner = exists ? mfd_arena_strdup(d->arena, PQgetvalue(res, 0, 0)) : NULL;
    bool public_access = exists && PQgetvalue(res, 0, 1)[0] == 't';
    PQclear(res);
    const char *db = ident(d, database), *role = ident(d, owner);
    if (!exists) {
        /* CREATE DATABASE cannot run in a transaction block: one statement. */
        if ((err = ensure_member_of(d, owner)) ||
            (err = run(d,
                       mfd_arena_sprintf(d->arena,
                                         "CREATE DATABASE %s OWNER %s ENCODING 'UTF8' TEMPLATE "
                                         "template0",
                                         db, role),
                       0, NULL, NULL)) ||
            (err = run(d,
                       mfd_arena_sprintf(
                           d->arena, "REVOKE CONNECT, TEMPORARY ON DATABASE %s FROM PUBLIC", db),
                       0, NULL, NULL)))
            return err;
        mfd_admin_note(&d->report, MFD_CREATED, "database \"%s\" owned by \"%s\"", database, owner);
        return NULL;
    }
    bool changed = false;
    if (strcmp(current_owner, owner) != 0) {
        /* A role without superuser may hand over only between roles it
         * belongs to. The database first (its public schema belongs to its
         * owner, and tables move only into a schema the new owner may create
         * in), then what is in it; a move that fails gives the database back,
         * so the next run tries again instead of finding it done. */
        if ((err = ensure_member_of(d, owner)) || (err = ensure_member_of(d, current_owner)) ||
            (err = run(d, mfd_arena_sprintf(d->arena, "ALTER DATABASE %s OWNER TO %s", db, role), 0,
                       NULL, NULL)))
            return err;
        if ((err = move_contents(d, database, current_owner, owner))) {
            mfd_err_free(run(d,
                             mfd_arena_sprintf(d->arena, "ALTER DATABASE %s OWNER TO %s", db,
                                               ident(d, current_owner)),
                             0, NULL, NULL));
            return err;
        }
        changed = true;
    }
    if (public_access) {
        if ((err = run(d,
                       mfd_arena_sprintf(
                           d->arena, "REVOKE CONNECT, TEMPORARY ON DATABASE %s FROM PUBLIC", db),
                       0, NULL, NULL)))
            return err;
        changed = true;
    }
    mfd_admin_note(&d->report, changed ? MFD_UPDATED : MFD_UNCHANGED,
                   "database \"%s\" owned by \"%s\"", database, owner);
    return NULL;
}

static mfd_err read_password_file(mfd_arena *arena, const char *path, const char **out) {
    FILE *f = fopen(path, "r");
    if (!f)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE, "cannot read --password-file '%s'", path);
    char *buf = mfd_arena_alloc(arena, 4098);
    size_t n = fread(buf, 1, 4097, f);
    bool failed = ferror(f) != 0; /* a directory reads as an error, not as no password */
    fclose(f);
    if (failed || n > 4096)
        return mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                           failed ? "cannot read --password-file '%s'"
                                  : "--password-file '%s' is longer than 4096 bytes",
                           path);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    *out = buf;
    return NULL;
}

/* postgres://, postgresql+driver:// -> postgresql:// (libpq's spellings). */
static const char *libpq_uri(mfd_arena *arena, const char *uri) {
    const char *rest = strstr(uri, "://");
    if (!rest || strncmp(uri, "postgres", 8) != 0)
        return uri;
    return mfd_arena_sprintf(arena, "postgresql%s", rest);
}

static mfd_err provision(init_db *d, const char *role, const char *password, const char *tracking,
                         const char *auth) {
    mfd_err err;
    if ((err = run(d, "SELECT pg_advisory_lock(" INIT_DB_LOCK ")", 0, NULL, NULL)))
        return err;
    bool existed = false;
    if (!(err = ensure_role_exists(d, role, password, &existed)) &&
        !(err = ensure_database(d, tracking, role)) &&
        !(err = auth ? ensure_database(d, auth, role) : NULL) && existed)
        err = ensure_role_login(d, role, password, tracking);
    mfd_err unlock = run(d, "SELECT pg_advisory_unlock(" INIT_DB_LOCK ")", 0, NULL, NULL);
    if (err) {
        mfd_err_free(unlock);
        return err;
    }
    return unlock;
}

int mfd_admin_init_db(int argc, char **argv) {
    const char *admin_uri = NULL, *prefix = "mlflow", *user = NULL, *database = NULL,
               *auth_database = NULL, *password = NULL, *password_file = NULL;
    bool no_auth_db = false;
    const mfd_cli_option options[] = {
        {"--admin-uri", "MLFLOWD_ADMIN_DB_URI", MFD_CLI_STRING, &admin_uri,
         "PostgreSQL URI of a role that may create roles and databases, e.g. "
         "postgresql://postgres@db:5432/postgres (default: libpq's PGHOST, PGUSER, PGPASSWORD, "
         "... with database postgres)"},
        {"--prefix", "MLFLOWD_DB_PREFIX", MFD_CLI_STRING, &prefix,
         "names the role <prefix> and the databases <prefix> and <prefix>_auth (mlflow)"},
        {"--user", "MLFLOWD_DB_USER", MFD_CLI_STRING, &user, "the login role (<prefix>)"},
        {"--database", "MLFLOWD_DB_NAME", MFD_CLI_STRING, &database,
         "the tracking database (<prefix>)"},
        {"--auth-database", "MLFLOWD_AUTH_DB_NAME", MFD_CLI_STRING, &auth_database,
         "the auth database (<prefix>_auth)"},
        {"--no-auth-database", NULL, MFD_CLI_FLAG, &no_auth_db, "create no auth database"},
        {"--password-file", "MLFLOWD_DB_PASSWORD_FILE", MFD_CLI_STRING, &password_file,
         "file holding the role's password (or MLFLOWD_DB_PASSWORD); set when the role is "
         "created, and again whenever it no longer logs in"},
        {"--password", "MLFLOWD_DB_PASSWORD", MFD_CLI_STRING, &password, NULL},
    };
    const mfd_cli cli = {"mlflowd admin init-db [OPTIONS]",
                         "Creates the PostgreSQL login role and the tracking and auth databases "
                         "(owned by it, closed to PUBLIC) if missing. Idempotent.",
                         options, sizeof options / sizeof options[0]};
    bool stop;
    int rc = mfd_cli_parse(&cli, argc, argv, &stop);
    if (stop)
        return rc;
    init_db d = {.arena = mfd_arena_new(), .report = {.command = "init-db"}};
    mfd_err err = NULL;
    user = user ? user : prefix;
    database = database ? database : prefix;
    const char *auth = no_auth_db      ? NULL
                       : auth_database ? auth_database
                                       : mfd_arena_sprintf(d.arena, "%s_auth", prefix);
    if (password_file)
        err = read_password_file(d.arena, password_file, &password);
    if (!err && password && !*password)
        password = NULL;
    if (!err && !(err = check_name("--user", user)) && !(err = check_name("--database", database)))
        err = auth ? check_name("--auth-database", auth) : NULL;
    if (!err) {
        /* Without a URI, libpq's PG* variables; the database postgres unless PGDATABASE says. */
        const char *pgdatabase = getenv("PGDATABASE");
        d.conn = PQconnectdb(admin_uri                   ? libpq_uri(d.arena, admin_uri)
                             : pgdatabase && *pgdatabase ? ""
                                                         : "dbname=postgres");
        if (PQstatus(d.conn) != CONNECTION_OK) {
            char *shown = admin_uri ? mfd_db_redact_uri(admin_uri) : strdup("(PG* environment)");
            char *why = mfd_db_redact_message(admin_uri, PQerrorMessage(d.conn));
            err = mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE, "cannot connect to %s: %s", shown, why);
            free(why);
            free(shown);
        }
    }
    if (!err)
        err = provision(&d, user, password, database, auth);
    if (!err) {
        printf("tracking database: postgresql://%s@%s:%s/%s\n", user, PQhost(d.conn),
               PQport(d.conn), database);
        if (auth)
            printf("auth database: postgresql://%s@%s:%s/%s\n", user, PQhost(d.conn),
                   PQport(d.conn), auth);
        mfd_admin_summary(&d.report);
    }
    PQfinish(d.conn);
    mfd_arena_free(d.arena);
    return err ? mfd_cli_fail(err) : 0;
}
