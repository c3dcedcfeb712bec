/* db_pg_copy.c — mfd_conn_insert_rows on PostgreSQL: one COPY ... FROM
 * STDIN in text format. For log-batch's 1,000 points the server spends about
 * 40 % less than on ten 100-row INSERTs (no per-statement executor, no
 * conflict check); each row's foreign-key check and index entries remain.
 *
 * COPY has no ON CONFLICT: it runs under a savepoint (a subtransaction), and
 * when a row's key is there already (a point stored before, as when a client
 * repeats a batch; a row repeated in the batch) the savepoint is rolled back
 * and the rows go through mfd_conn_upsert_rows (ON CONFLICT DO NOTHING),
 * which skips them. Any other failure (a run deleted under it, a lock wait
 * past lock_timeout, a deadlock) fails the transaction as a failed INSERT
 * would, without trying again: a wait is not paid twice. Text format: the
 * server reads each value by its column's type, as with the driver's text
 * parameters, so a database whose columns differ in width or type (an older
 * MLflow's) still takes the rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/number_text.h"
#include "db_pg.h"

/* COPY's text escapes: backslash, and the tab, newline and carriage return
 * that would end a value or a row. */
static void append_copy_text(mfd_strbuf *buf, const char *text) {
    for (;;) {
        size_t plain = strcspn(text, "\\\t\n\r");
        mfd_strbuf_appendn(buf, text, plain);
        text += plain;
        if (!*text)
            return;
        const char *escape = *text == '\\'   ? "\\\\"
                             : *text == '\t' ? "\\t"
                             : *text == '\n' ? "\\n"
                                             : "\\r";
        mfd_strbuf_appendn(buf, escape, 2);
        text++;
    }
}

static void append_copy_value(mfd_strbuf *buf, const mfd_sql_value *v) {
    char number[40];
    switch (v->kind) {
    case MFD_SQL_NULL:
        mfd_strbuf_appendn(buf, "\\N", 2);
        break;
    case MFD_SQL_TEXT:
        append_copy_text(buf, v->text);
        break;
    case MFD_SQL_INT64:
        mfd_strbuf_appendn(buf, number, mfd_int_text(number, v->i64));
        break;
    case MFD_SQL_DOUBLE:
        mfd_pg_sql_format_double(v->f64, number, sizeof number);
        mfd_strbuf_append(buf, number);
        break;
    }
}

static const char *copy_data(mfd_arena *arena, size_t n_columns, const mfd_sql_params *values,
                             size_t *len) {
    mfd_strbuf buf;
    mfd_strbuf_init(&buf, arena);
    size_t n = values->count - values->count % n_columns;
    for (size_t i = 0; i < n; i++) {
        append_copy_value(&buf, &values->values[i]);
        mfd_strbuf_appendn(&buf, (i + 1) % n_columns ? "\t" : "\n", 1);
    }
    *len = buf.len;
    return buf.data;
}

static mfd_err insert_rows_as_inserts(mfd_conn *conn, const char *table, const char *columns,
                                      size_t n_columns, const mfd_sql_params *values) {
    return mfd_conn_upsert_rows(conn, table, columns, n_columns, values, "ON CONFLICT DO NOTHING");
}

/* Runs the COPY: true when the server took every row; else *failed is the
 * server's answer, or NULL when libpq could not send (its error on the
 * connection). Nothing is drained after a failed end of data: libpq may
 * still be in COPY state, and the connection is then of no further use. */
static bool run_copy(pg_conn *conn, const char *sql, const char *data, size_t len,
                     PGresult **failed) {
    *failed = PQexec(conn->handle, sql);
    if (PQresultStatus(*failed) != PGRES_COPY_IN) /* NULL too: PGRES_FATAL_ERROR */
        return false;
    PQclear(*failed);
    *failed = NULL;
    /* The data in pieces well under libpq's int length. */
    enum { PIECE = 1 << 20 };
    bool sent = true;
    for (size_t at = 0; at < len && sent; at += PIECE)
        sent =
            PQputCopyData(conn->handle, data + at, (int)(len - at < PIECE ? len - at : PIECE)) == 1;
    if (PQputCopyEnd(conn->handle, sent ? NULL : "mlflowd could not send the rows") != 1)
        return false;
    PGresult *res = PQgetResult(conn->handle);
    for (PGresult *more; (more = PQgetResult(conn->handle));)
        PQclear(more);
    if (sent && PQresultStatus(res) == PGRES_COMMAND_OK) {
        mfd_pg_count_changes(conn, res);
        PQclear(res);
        return true;
    }
    *failed = res;
    return false;
}

static bool unique_violation(const PGresult *res) {
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return state && strcmp(state, "23505") == 0;
}

mfd_err mfd_pg_insert_rows(mfd_conn *base, const char *table, const char *columns, size_t n_columns,
                           const mfd_sql_params *values) {
    pg_conn *conn = CONN(base);
    /* What one INSERT takes costs no more that way than by COPY's four round
     * trips (SAVEPOINT, COPY, its data, RELEASE): ≈ 1.4 ms for 100 rows either way. */
    if (values->count <= MFD_INSERT_ROWS_PARAMS || conn->txn_failure || !conn->in_txn ||
        PQtransactionStatus(conn->handle) != PQTRANS_INTRANS)
        return insert_rows_as_inserts(base, table, columns, n_columns, values);
    mfd_err err = mfd_pg_run_simple(conn, "SAVEPOINT mfd_insert_rows", NULL);
    if (err)
        return err;
    mfd_arena *arena = mfd_arena_new();
    size_t len;
    const char *data = copy_data(arena, n_columns, values, &len);
    mfd_strbuf sql;
    mfd_strbuf_init(&sql, arena);
    mfd_strbuf_appendf(&sql, "COPY %s (%s) FROM STDIN", table, columns);
    PGresult *failed;
    bool copied = run_copy(conn, sql.data, data, len, &failed);
    mfd_arena_free(arena);
    if (copied)
        return mfd_pg_run_simple(conn, "RELEASE SAVEPOINT mfd_insert_rows", NULL);
    if (!unique_violation(failed) || PQstatus(conn->handle) != CONNECTION_OK) {
        err = mfd_pg_statement_failed(conn, failed);
        PQclear(failed);
        return err;
    }
    PQclear(failed);
    if ((err = mfd_pg_run_simple(conn, "ROLLBACK TO SAVEPOINT mfd_insert_rows", NULL)) ||
        (err = mfd_pg_run_simple(conn, "RELEASE SAVEPOINT mfd_insert_rows", NULL)))
        return err;
    return insert_rows_as_inserts(base, table, columns, n_columns, values);
}
