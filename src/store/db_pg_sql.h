/* db_pg_sql.h — the text work of the PostgreSQL driver, kept free of libpq
 * so it can be unit-tested: `?` placeholders to `$n`, and the text form in
 * which a bound number is sent. Private to src/store/db_pg*.c. */
#ifndef MFD_DB_PG_SQL_H
#define MFD_DB_PG_SQL_H

#include <stddef.h>
#include <stdint.h>

/* Rewrites each `?` placeholder outside string literals, quoted identifiers
 * and comments to `$1`, `$2`, ... in order. Returns a malloc'd string and the
 * number of placeholders in *n_params. */
char *mfd_pg_sql_rewrite(const char *sql, int *n_params);

/* The text PostgreSQL parses back to the same value: "NaN", "Infinity",
 * "-Infinity", or the shortest decimal that round-trips. */
void mfd_pg_sql_format_double(double value, char *out, size_t out_len);

#endif
