/* db_wal_index.h — notices commits by any process to an SQLite database in
 * WAL mode, without a system call.
 *
 * Every connection to a WAL database, in any process, shares the WAL-index
 * (the -shm file, mapped into memory), and every commit rewrites its header:
 * the frame count, the salts and the header checksum change (SQLite's
 * documented WAL-index format, https://sqlite.org/walformat.html §2.1).
 * Mapping that header read-only and looking at it is enough to know whether
 * anything was committed since the last look. The header is written as the
 * commit completes, so a changed header is never seen before the commit is
 * visible to readers. */
#ifndef MFD_DB_WAL_INDEX_H
#define MFD_DB_WAL_INDEX_H

#include <stdint.h>

typedef struct mfd_wal_index mfd_wal_index;

/* Maps the header of `path`-shm. NULL when there is none to map (no WAL
 * mode yet, an unknown WAL-index version, no such file). The caller keeps a
 * connection to the database open for as long as the mapping lives: SQLite
 * only truncates the -shm when no connection has it open. */
mfd_wal_index *mfd_wal_index_open(const char *path);
void mfd_wal_index_close(mfd_wal_index *index);

/* A number that changes with every commit to the database. */
uint64_t mfd_wal_index_version(const mfd_wal_index *index);

#endif
