/* db_pg_listen.c — PostgreSQL's LISTEN on a connection of its own
 * (mfd_db_listen): the run-search cache learns from it which runs another
 * process (a replica, MLflow, psql) changed. The connection is never pooled:
 * a pooled one would leave notifications unread while it serves requests. */
#include "db_pg.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pg_listener {
    mfd_db_listener base; /* first: db.c dispatches on it */
    pg_conn conn;         /* a stand-alone connection of the pool's database */
} pg_listener;

static const mfd_db_listener_ops pg_listener_ops;

static void listener_close(mfd_db_listener *base);

mfd_err mfd_pg_listen(mfd_db *base, const char *channel, mfd_db_listener **out) {
    *out = NULL;
    pg_listener *l = calloc(1, sizeof *l);
    if (!l)
        return mfd_err_new(MFD_INTERNAL_ERROR, "out of memory");
    l->base.ops = &pg_listener_ops;
    l->conn.base.driver = &mfd_db_pg_driver;
    l->conn.db = DB(base);
    mfd_err err = mfd_pg_conn_connect(&l->conn);
    char *ident = NULL;
    if (!err && !(ident = PQescapeIdentifier(l->conn.handle, channel, strlen(channel))))
        err = mfd_err_new(MFD_INTERNAL_ERROR, "cannot quote the channel %s", channel);
    if (!err) {
        char sql[256];
        snprintf(sql, sizeof sql, "LISTEN %s", ident);
        err = mfd_pg_run_simple(&l->conn, sql, NULL);
    }
    PQfreemem(ident);
    if (err) {
        listener_close(&l->base);
        return err;
    }
    *out = &l->base;
    return NULL;
}

static mfd_err listener_wait(mfd_db_listener *base, int timeout_ms, mfd_db_notify_fn fn,
                             void *ctx) {
    PGconn *h = ((pg_listener *)base)->conn.handle;
    struct pollfd pfd = {.fd = PQsocket(h), .events = POLLIN};
    if (pfd.fd < 0)
        return mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE, "the notification connection is closed");
    int ready = poll(&pfd, 1, timeout_ms);
    if (ready < 0 && errno != EINTR)
        return mfd_err_new(MFD_INTERNAL_ERROR, "poll: %s", strerror(errno));
    if (ready > 0 && !PQconsumeInput(h))
        return mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE, "the notification connection broke: %s",
                           PQerrorMessage(h));
    PGnotify *n;
    while ((n = PQnotifies(h))) {
        fn(ctx, n->extra ? n->extra : "");
        PQfreemem(n);
    }
    if (PQstatus(h) != CONNECTION_OK)
        return mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE, "the notification connection broke");
    return NULL;
}

static void listener_close(mfd_db_listener *base) {
    pg_listener *l = (pg_listener *)base;
    if (l->conn.handle)
        PQfinish(l->conn.handle);
    free(l);
}

static const mfd_db_listener_ops pg_listener_ops = {listener_wait, listener_close};
