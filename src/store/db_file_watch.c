/* db_file_watch.c — see db_file_watch.h. */
#include "db_file_watch.h"

#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

/* How long after a write reads are not trusted: a writer's commit becomes
 * visible shortly after its last write (the WAL index update, the journal's
 * deletion), or after an fsync for writers with synchronous=FULL. */
enum { SETTLE_NS = 50 * 1000 * 1000 };

struct mfd_file_watch {
    int fd;
    char *name; /* the database file's name in its directory */
    size_t name_len;
    pthread_mutex_t lock; /* one reader of the queue at a time, so no caller
                             sees an empty queue while another still acts on
                             the event it took */
    uint64_t version;
    int64_t unsettled_until; /* CLOCK_MONOTONIC ns; 0 = settled */
};

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

mfd_file_watch *mfd_file_watch_open(const char *path) {
    char *dir_copy = strdup(path), *name_copy = strdup(path);
    mfd_file_watch *w = calloc(1, sizeof *w);
    if (!dir_copy || !name_copy || !w)
        goto fail;
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0)
        goto fail;
    const uint32_t events = IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM;
    if (inotify_add_watch(w->fd, dirname(dir_copy), events) < 0) {
        close(w->fd);
        goto fail;
    }
    w->name = strdup(basename(name_copy));
    if (!w->name) {
        close(w->fd);
        goto fail;
    }
    w->name_len = strlen(w->name);
    pthread_mutex_init(&w->lock, NULL);
    free(dir_copy);
    free(name_copy);
    return w;
fail:
    free(dir_copy);
    free(name_copy);
    free(w);
    return NULL;
}

void mfd_file_watch_close(mfd_file_watch *w) {
    if (!w)
        return;
    close(w->fd);
    pthread_mutex_destroy(&w->lock);
    free(w->name);
    free(w);
}

/* The database, its -wal or its -journal (not other files of the directory). */
static bool is_ours(const mfd_file_watch *w, const struct inotify_event *ev) {
    if (ev->mask & IN_Q_OVERFLOW)
        return true;
    if (ev->len == 0 || strncmp(ev->name, w->name, w->name_len) != 0)
        return false;
    const char *rest = ev->name + w->name_len;
    return !*rest || !strcmp(rest, "-wal") || !strcmp(rest, "-journal");
}

/* Empties the event queue; true when one of the events was ours. */
static bool drain(mfd_file_watch *w) {
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool written = false;
    for (;;) {
        ssize_t n = read(w->fd, buf, sizeof buf);
        if (n <= 0)
            return written || (n < 0 && errno != EAGAIN && errno != EINTR);
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            written = written || is_ours(w, ev);
            p += sizeof *ev + ev->len;
        }
    }
}

uint64_t mfd_file_watch_version(mfd_file_watch *w) {
    pthread_mutex_lock(&w->lock);
    if (drain(w))
        w->unsettled_until = now_ns() + SETTLE_NS;
    if (w->unsettled_until) {
        w->version++; /* also once after the window: nothing read in it stays */
        if (now_ns() >= w->unsettled_until)
            w->unsettled_until = 0;
    }
    uint64_t version = w->version;
    pthread_mutex_unlock(&w->lock);
    return version;
}
