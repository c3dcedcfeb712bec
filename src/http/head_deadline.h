/* head_deadline.h — the request head's deadline on both listeners: a
 * connection must send a whole request head within so many seconds of
 * opening, or of its previous answer. libmicrohttpd's timeouts count idle
 * time only, so a client sending a byte of its head now and then kept its
 * thread and its connection slot for ever (a few such clients lock everyone
 * out, or fail every Kubernetes probe). Once a second a watchdog thread
 * shuts the socket of each connection past its deadline; libmicrohttpd then
 * closes it as it closes any peer's. */
#ifndef MFD_HEAD_DEADLINE_H
#define MFD_HEAD_DEADLINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* One connection's entry, from its start to its close notification. */
typedef struct mfd_head_watch {
    struct mfd_head_watch *prev, *next;
    int fd;
    int seconds;
    _Atomic int64_t deadline_ms; /* monotonic; 0: nothing awaited */
} mfd_head_watch;

/* The watchdog thread, shared by the listeners (counted: the last stop ends
 * it, once every connection it watched is closed). false if it cannot start. */
bool mfd_head_deadline_start(void);
void mfd_head_deadline_stop(void);

/* At the connection's start notification (armed: its first head is due) and
 * at its close notification, which libmicrohttpd sends before it closes the
 * socket: the watchdog never shuts a descriptor given to a newer connection. */
void mfd_head_deadline_add(mfd_head_watch *watch, int fd, int seconds);
void mfd_head_deadline_remove(mfd_head_watch *watch);
/* A head (or a refused request's body) is due within `seconds` from now (a
 * second more, so an idle timeout as long closes idle connections first) /
 * has come whole. */
void mfd_head_deadline_arm(mfd_head_watch *watch);
void mfd_head_deadline_disarm(mfd_head_watch *watch);

#endif
