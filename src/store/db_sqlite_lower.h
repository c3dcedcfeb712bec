/* db_sqlite_lower.h — SQLite's lower() replaced by one that folds every
 * letter the C library knows (towlower_l in the C.UTF-8 locale), as
 * PostgreSQL's lower() does in a UTF-8 database with that ctype. SQLite's
 * own folds ASCII only, so `ILIKE 'ü'` (lower(col) LIKE lower(?)) missed
 * 'Ü' on SQLite and found it on PostgreSQL. */
#ifndef MFD_STORE_DB_SQLITE_LOWER_H
#define MFD_STORE_DB_SQLITE_LOWER_H

#include <sqlite3.h>

/* 0 on success, else SQLite's error code. */
int mfd_sqlite_register_lower(sqlite3 *db);

#endif
