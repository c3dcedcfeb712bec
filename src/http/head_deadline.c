/* head_deadline.c — see head_deadline.h. Invariant: an entry is on the list
 * only between mfd_head_deadline_add and _remove, and a socket is shut only
 * while the list's lock is held, so only a connection still open is shut. */
#include "head_deadline.h"

#include <errno.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include "core/log.h"

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    mfd_head_watch *head;
    int users;
    bool stop;
    pthread_t thread;
} watchdog = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Under watchdog.lock: shuts the connections past their deadline; how many. */
static int shut_late_connections(int64_t now) {
    int shut = 0;
    for (mfd_head_watch *w = watchdog.head; w; w = w->next) {
        int64_t deadline = atomic_load(&w->deadline_ms);
        if (deadline && now >= deadline && w->fd >= 0) {
            atomic_store(&w->deadline_ms, 0);
            if (shutdown(w->fd, SHUT_RDWR) == 0 || errno == ENOTCONN)
                shut++;
        }
    }
    return shut;
}

static void *watch_connections(void *arg) {
    (void)arg;
    pthread_mutex_lock(&watchdog.lock);
    while (!watchdog.stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&watchdog.wake, &watchdog.lock, &until);
        if (watchdog.stop)
            break;
        int shut = shut_late_connections(now_ms());
        if (shut)
            mfd_log_warn("closed %d connection%s whose request head did not come whole in time "
                         "(--keep-alive-timeout; 10 s on the probe port)",
                         shut, shut == 1 ? "" : "s");
    }
    pthread_mutex_unlock(&watchdog.lock);
    return NULL;
}

bool mfd_head_deadline_start(void) {
    pthread_mutex_lock(&watchdog.lock);
    bool ok = true;
    if (watchdog.users == 0) {
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&watchdog.wake, &attr);
        pthread_condattr_destroy(&attr);
        watchdog.stop = false;
        ok = pthread_create(&watchdog.thread, NULL, watch_connections, NULL) == 0;
        if (!ok)
            pthread_cond_destroy(&watchdog.wake);
    }
    if (ok)
        watchdog.users++;
    pthread_mutex_unlock(&watchdog.lock);
    return ok;
}

void mfd_head_deadline_stop(void) {
    pthread_mutex_lock(&watchdog.lock);
    bool last = watchdog.users > 0 && --watchdog.users == 0;
    if (last) {
        watchdog.stop = true;
        pthread_cond_signal(&watchdog.wake);
    }
    pthread_mutex_unlock(&watchdog.lock);
    if (last) {
        pthread_join(watchdog.thread, NULL);
        pthread_cond_destroy(&watchdog.wake);
    }
}

void mfd_head_deadline_add(mfd_head_watch *watch, int fd, int seconds) {
    watch->fd = fd;
    watch->seconds = seconds;
    mfd_head_deadline_arm(watch);
    pthread_mutex_lock(&watchdog.lock);
    watch->prev = NULL;
    watch->next = watchdog.head;
    if (watchdog.head)
        watchdog.head->prev = watch;
    watchdog.head = watch;
    pthread_mutex_unlock(&watchdog.lock);
}

void mfd_head_deadline_remove(mfd_head_watch *watch) {
    pthread_mutex_lock(&watchdog.lock);
    if (watch->prev)
        watch->prev->next = watch->next;
    else if (watchdog.head == watch)
        watchdog.head = watch->next;
    if (watch->next)
        watch->next->prev = watch->prev;
    watch->prev = watch->next = NULL;
    pthread_mutex_unlock(&watchdog.lock);
}

/* A second past the time itself: libmicrohttpd's idle timeout, when it is
 * as long, closes an idle connection first (quietly); the watchdog closes
 * only those that keep sending a head slowly. */
enum { GRACE_MS = 1000 };

void mfd_head_deadline_arm(mfd_head_watch *watch) {
    atomic_store(&watch->deadline_ms, now_ms() + (int64_t)watch->seconds * 1000 + GRACE_MS);
}

void mfd_head_deadline_disarm(mfd_head_watch *watch) {
    atomic_store(&watch->deadline_ms, 0);
}
