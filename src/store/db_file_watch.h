/* db_file_watch.h — notices writes by any process to an SQLite database.
 *
 * SQLite replicas sharing one file cannot tell each other what they changed,
 * but the kernel can: inotify watches on the database file and its -wal
 * report each write as the writer makes it, before the writer's commit
 * returns. Checking for such reports costs one poll() that reads nothing —
 * cheap enough to do before trusting any cached read. */
#ifndef MFD_DB_FILE_WATCH_H
#define MFD_DB_FILE_WATCH_H

#include <stdint.h>

typedef struct mfd_file_watch mfd_file_watch;

/* Watches `path` and path-wal (which must exist: a WAL-mode database with a
 * connection open). NULL when the kernel offers no watch. */
mfd_file_watch *mfd_file_watch_open(const char *path);
void mfd_file_watch_close(mfd_file_watch *watch);

/* A number that changes when the files were written since the last call.
 * A write is seen before it is committed, so for a short while after one
 * (a commit still being finished) every call returns a new number. */
uint64_t mfd_file_watch_version(mfd_file_watch *watch);

#endif
