/* db.c — the db.h dispatcher: picks the driver by URI scheme and forwards
 * every call through the handle's vtable (db_driver.h).
 *
 * Kept here, the same for every engine: the URI shown in logs never carries
 * a password (mfd_db_uri returns the masked copy made at open), text bound
 * as NULL binds SQL NULL, mfd_stmt_bind_params, and the multi-row INSERTs
 * of mfd_conn_upsert_rows (also mfd_conn_insert_rows' unless the driver has
 * a faster way). */
#include "db_driver.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *prefix;
    const mfd_db_driver *driver;
} schemes[] = {
    {"sqlite:", &mfd_db_sqlite_driver},
    {"postgresql:", &mfd_db_pg_driver},
    {"postgresql+", &mfd_db_pg_driver}, /* SQLAlchemy's postgresql+psycopg2:// and friends */
    {"postgres:", &mfd_db_pg_driver},
};

/* scheme://user:secret@host/... -> scheme://user:***@host/...; also masks a
 * password=... query parameter, and the password of a libpq key=value
 * string ("host=h password=secret" -> "host=h password=***"). Anything
 * unparsable is returned as is. */
/* The password of a URI's userinfo ("scheme://user:PASSWORD@host"): its
 * start, and its length in *len; NULL when there is none. */
static const char *userinfo_password(const char *uri, size_t *len) {
    const char *authority = strstr(uri, "://");
    if (!authority)
        return NULL;
    authority += 3;
    const char *end = authority + strcspn(authority, "/?#"), *at = NULL;
    for (const char *q = authority; q < end; q++)
        if (*q == '@')
            at = q; /* the last '@' ends the userinfo */
    const char *colon = at ? memchr(authority, ':', (size_t)(at - authority)) : NULL;
    if (!colon)
        return NULL;
    *len = (size_t)(at - colon - 1);
    return colon + 1;
}

char *mfd_db_redact_uri(const char *uri) {
    if (!uri)
        return NULL;
    size_t len = strlen(uri);
    char *out = malloc(2 * len + 16); /* each masked field grows by at most 3 */
    if (!out)
        return NULL;
    const char *authority = strstr(uri, "://");
    const char *p = uri;
    char *o = out;
    size_t secret_len;
    const char *secret = userinfo_password(uri, &secret_len);
    if (secret) {
        size_t head = (size_t)(secret - uri);
        memcpy(o, uri, head);
        o += head;
        memcpy(o, "***", 3);
        o += 3;
        p = secret + secret_len;
    }
    /* Copy the rest, masking the value of any password= parameter, and of a
     * libpq key=value string's `password = value` (quoted or not). */
    while (*p) {
        bool at_param = p > uri && (p[-1] == '?' || p[-1] == '&') &&
                        strncmp(p, "password=", strlen("password=")) == 0;
        if (at_param) {
            memcpy(o, "password=***", strlen("password=***"));
            o += strlen("password=***");
            p += strcspn(p, "&#");
            continue;
        }
        if (!authority && (p == uri || isspace((unsigned char)p[-1])) &&
            strncmp(p, "password", strlen("password")) == 0) {
            const char *q = p + strlen("password");
            while (isspace((unsigned char)*q))
                q++;
            if (*q == '=') {
                for (q++; isspace((unsigned char)*q);)
                    q++;
                if (*q == '\'') { /* 'quoted, with \' and \\ escapes' */
                    for (q++; *q && *q != '\'';)
                        q += q[0] == '\\' && q[1] ? 2 : 1;
                    q += *q ? 1 : 0;
                } else {
                    while (*q && !isspace((unsigned char)*q))
                        q++;
                }
                memcpy(o, "password=***", strlen("password=***"));
                o += strlen("password=***");
                p = q;
                continue;
            }
        }
        *o++ = *p++;
    }
    *o = '\0';
    return out;
}

/* The password fields of a URI: the userinfo's after ':' and every
 * password= parameter's value, as written; up to `max`. */
static size_t password_spans(const char *uri, const char **starts, size_t *lens, size_t max) {
    size_t n = 0;
    if (max > 0 && (starts[0] = userinfo_password(uri, &lens[0])))
        n++;
    for (const char *p = strstr(uri, "password="); p && n < max; p = strstr(p + 1, "password=")) {
        starts[n] = p + strlen("password=");
        lens[n] = strcspn(starts[n], "&# \t");
        n++;
    }
    return n;
}

static int hex_value(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Replaces every occurrence of secret[0..len) in *text by "***" (a new
 * malloc'd string; the old one freed). Secrets under 4 bytes are left: they
 * would mask ordinary words. */
static void mask_in(char **text, const char *secret, size_t len) {
    if (len < 4 || !*text)
        return;
    size_t count = 0;
    for (const char *p = *text; (p = memmem(p, strlen(p), secret, len)); p += len)
        count++;
    if (!count)
        return;
    char *out = malloc(strlen(*text) + count * 3 + 1), *o = out;
    if (!out)
        return;
    const char *p = *text;
    for (const char *hit; (hit = memmem(p, strlen(p), secret, len)); p = hit + len) {
        memcpy(o, p, (size_t)(hit - p));
        o += hit - p;
        memcpy(o, "***", 3);
        o += 3;
    }
    strcpy(o, p);
    free(*text);
    *text = out;
}

char *mfd_db_redact_message(const char *uri, const char *message) {
    char *text = strdup(message ? message : "");
    const char *starts[8];
    size_t lens[8];
    size_t n = uri ? password_spans(uri, starts, lens, 8) : 0;
    for (size_t i = 0; i < n; i++) {
        mask_in(&text, starts[i], lens[i]);
        char *decoded = malloc(lens[i] + 1); /* valid %XX decoded, the rest kept */
        if (!decoded)
            continue;
        size_t d = 0;
        for (size_t k = 0; k < lens[i]; k++) {
            const char *c = starts[i] + k;
            bool escape = c[0] == '%' && k + 2 < lens[i];
            int hi = escape ? hex_value(c[1]) : -1, lo = escape ? hex_value(c[2]) : -1;
            if (hi >= 0 && lo >= 0) {
                decoded[d++] = (char)(hi * 16 + lo);
                k += 2;
            } else {
                decoded[d++] = *c;
            }
        }
        mask_in(&text, decoded, d);
        free(decoded);
    }
    return text;
}

mfd_err mfd_db_open(const char *uri, int max_connections, mfd_db **out) {
    const mfd_db_driver *driver = NULL;
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (strncmp(uri, schemes[i].prefix, strlen(schemes[i].prefix)) == 0)
            driver = schemes[i].driver;
    if (!driver) {
        char *shown = mfd_db_redact_uri(uri);
        mfd_err err = mfd_err_new(MFD_INVALID_PARAMETER_VALUE,
                                  "Unsupported database URI '%s': expected sqlite:///<path> or "
                                  "postgresql://<user>:<password>@<host>:<port>/<database>",
                                  shown ? shown : "");
        free(shown);
        return err;
    }
    mfd_db *db;
    mfd_err err = driver->open(uri, max_connections, &db);
    if (err)
        return err;
    db->driver = driver;
    db->display_uri = mfd_db_redact_uri(uri);
    *out = db;
    return NULL;
}

void mfd_db_close(mfd_db *db) {
    if (!db)
        return;
    free(db->display_uri);
    db->display_uri = NULL;
    db->driver->close(db);
}

mfd_dialect mfd_db_dialect(const mfd_db *db) {
    return db->driver->dialect;
}

const char *mfd_db_uri(const mfd_db *db) {
    return db->display_uri ? db->display_uri : "";
}

uint64_t mfd_db_data_version(mfd_db *db) {
    return db->driver->data_version ? db->driver->data_version(db)
                                    : atomic_load_explicit(&db->local_writes, memory_order_acquire);
}

bool mfd_db_sees_other_writers(mfd_db *db) {
    mfd_db_data_version(db); /* a driver may look for what to watch on first use */
    return db->sees_other_writers;
}

mfd_err mfd_db_acquire(mfd_db *db, mfd_conn **out) {
    return db->driver->acquire(db, out);
}

mfd_err mfd_db_acquire_spare(mfd_db *db, int wait_ms, mfd_conn **out) {
    return db->driver->acquire_spare(db, wait_ms, out);
}

void mfd_db_release(mfd_db *db, mfd_conn *conn) {
    if (conn)
        db->driver->release(db, conn);
}

mfd_dialect mfd_conn_dialect(const mfd_conn *conn) {
    return conn->driver->dialect;
}

mfd_err mfd_conn_begin(mfd_conn *conn, bool write) {
    return conn->driver->begin(conn, write);
}

mfd_err mfd_conn_commit(mfd_conn *conn) {
    return conn->driver->commit(conn);
}

void mfd_conn_rollback(mfd_conn *conn) {
    conn->driver->rollback(conn);
}

mfd_err mfd_conn_finish(mfd_conn *conn, mfd_err err) {
    if (err) {
        mfd_conn_rollback(conn);
        return err;
    }
    return mfd_conn_commit(conn);
}

mfd_err mfd_conn_exec(mfd_conn *conn, const char *sql) {
    return conn->driver->exec(conn, sql);
}

mfd_err mfd_conn_prepare(mfd_conn *conn, const char *sql, bool cache, mfd_stmt **out) {
    return conn->driver->prepare(conn, sql, cache, out);
}

void mfd_stmt_done(mfd_stmt *stmt) {
    if (stmt)
        stmt->driver->done(stmt);
}

void mfd_stmt_bind_text(mfd_stmt *stmt, int index, const char *text) {
    if (text)
        stmt->driver->bind_textn(stmt, index, text, strlen(text));
    else
        stmt->driver->bind_null(stmt, index);
}

void mfd_stmt_bind_text_array(mfd_stmt *stmt, int index, const char *const *values, size_t n) {
    size_t size = 3;
    for (size_t i = 0; i < n; i++)
        size += 2 * strlen(values[i]) + 3; /* quotes, a comma, every byte escaped at worst */
    char *literal = malloc(size), *w = literal;
    if (!literal) {
        stmt->driver->bind_null(stmt, index);
        return;
    }
    *w++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *w++ = ',';
        *w++ = '"';
        for (const char *p = values[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                *w++ = '\\';
            *w++ = *p;
        }
        *w++ = '"';
    }
    *w++ = '}';
    stmt->driver->bind_textn(stmt, index, literal, (size_t)(w - literal));
    free(literal);
}

void mfd_stmt_bind_textn(mfd_stmt *stmt, int index, const char *text, size_t len) {
    if (text)
        stmt->driver->bind_textn(stmt, index, text, len);
    else
        stmt->driver->bind_null(stmt, index);
}

void mfd_stmt_bind_int64(mfd_stmt *stmt, int index, int64_t value) {
    stmt->driver->bind_int64(stmt, index, value);
}

void mfd_stmt_bind_double(mfd_stmt *stmt, int index, double value) {
    stmt->driver->bind_double(stmt, index, value);
}

void mfd_stmt_bind_null(mfd_stmt *stmt, int index) {
    stmt->driver->bind_null(stmt, index);
}

void mfd_stmt_bind_params(mfd_stmt *stmt, int first_index, const mfd_sql_params *params) {
    for (size_t i = 0; i < params->count; i++) {
        const mfd_sql_value *v = &params->values[i];
        int index = first_index + (int)i;
        switch (v->kind) {
        case MFD_SQL_NULL:
            mfd_stmt_bind_null(stmt, index);
            break;
        case MFD_SQL_TEXT:
            mfd_stmt_bind_text(stmt, index, v->text);
            break;
        case MFD_SQL_INT64:
            mfd_stmt_bind_int64(stmt, index, v->i64);
            break;
        case MFD_SQL_DOUBLE:
            mfd_stmt_bind_double(stmt, index, v->f64);
            break;
        }
    }
}

mfd_step mfd_stmt_step(mfd_stmt *stmt, mfd_err *err) {
    return stmt->driver->step(stmt, err);
}

mfd_err mfd_stmt_exec(mfd_stmt *stmt) {
    return stmt->driver->exec_stmt(stmt);
}

mfd_err mfd_stmt_exec_done(mfd_stmt *stmt) {
    mfd_err err = mfd_stmt_exec(stmt);
    mfd_stmt_done(stmt);
    return err;
}

void mfd_stmt_reset(mfd_stmt *stmt) {
    stmt->driver->reset(stmt);
}

bool mfd_stmt_is_null(mfd_stmt *stmt, int col) {
    return stmt->driver->is_null(stmt, col);
}

const char *mfd_stmt_text(mfd_stmt *stmt, int col) {
    return stmt->driver->text(stmt, col);
}

size_t mfd_stmt_bytes(mfd_stmt *stmt, int col) {
    return stmt->driver->bytes(stmt, col);
}

int64_t mfd_stmt_int64(mfd_stmt *stmt, int col) {
    return stmt->driver->int64(stmt, col);
}

double mfd_stmt_double(mfd_stmt *stmt, int col) {
    return stmt->driver->float64(stmt, col);
}

int64_t mfd_conn_changes(mfd_conn *conn) {
    return conn->driver->changes(conn);
}

mfd_err mfd_conn_table_exists(mfd_conn *conn, const char *table, bool *exists) {
    return conn->driver->table_exists(conn, table, exists);
}

static char *rows_insert_sql(const char *table, const char *columns, size_t n_columns, size_t rows,
                             const char *on_conflict) {
    mfd_arena *arena = mfd_arena_new();
    mfd_strbuf sql;
    mfd_strbuf_init(&sql, arena);
    mfd_strbuf_appendf(&sql, "INSERT INTO %s (%s) VALUES ", table, columns);
    for (size_t r = 0; r < rows; r++) {
        mfd_strbuf_append(&sql, r ? ", (" : "(");
        for (size_t c = 0; c < n_columns; c++)
            mfd_strbuf_append(&sql, c ? ", ?" : "?");
        mfd_strbuf_append(&sql, ")");
    }
    mfd_strbuf_appendf(&sql, " %s", on_conflict);
    char *copy = strdup(sql.data);
    mfd_arena_free(arena);
    return copy;
}

/* Rows in statements of a few sizes, each cached: full chunks, then what is
 * left in powers of two (37 rows: 32, 4, 1). A client logs the same keys
 * batch after batch, so its statements are prepared once per connection;
 * a statement per possible length instead cost PostgreSQL ≈ 20 MB of plans
 * per connection for one table's 100 lengths, and crowded the cache. */
mfd_err mfd_conn_upsert_rows(mfd_conn *conn, const char *table, const char *columns,
                             size_t n_columns, const mfd_sql_params *values,
                             const char *on_conflict) {
    if (!n_columns)
        return NULL;
    size_t n_rows = values->count / n_columns;
    size_t chunk = MFD_INSERT_ROWS_PARAMS / n_columns ? MFD_INSERT_ROWS_PARAMS / n_columns : 1;
    mfd_err err = NULL;
    for (size_t done = 0; done < n_rows && !err;) {
        size_t rows = n_rows - done;
        if (rows > chunk)
            rows = chunk;
        else if (rows < chunk)
            while (rows & (rows - 1))
                rows &= rows - 1; /* the highest power of two in it */
        char *sql = rows_insert_sql(table, columns, n_columns, rows, on_conflict);
        if (!sql)
            return mfd_err_new(MFD_INTERNAL_ERROR, "out of memory");
        mfd_stmt *stmt;
        if (!(err = mfd_conn_prepare(conn, sql, true, &stmt))) {
            mfd_sql_params part = {values->values + done * n_columns, rows * n_columns,
                                   rows * n_columns};
            mfd_stmt_bind_params(stmt, 1, &part);
            err = mfd_stmt_exec_done(stmt);
        }
        free(sql);
        done += rows;
    }
    return err;
}

mfd_err mfd_conn_insert_rows(mfd_conn *conn, const char *table, const char *columns,
                             size_t n_columns, const mfd_sql_params *values) {
    if (!n_columns || values->count < n_columns)
        return NULL;
    if (conn->driver->insert_rows)
        return conn->driver->insert_rows(conn, table, columns, n_columns, values);
    return mfd_conn_upsert_rows(conn, table, columns, n_columns, values, "ON CONFLICT DO NOTHING");
}
