/* login_flight.c — see login_flight.h. A short list: it holds only the
 * verifications running at this moment, at most one per connection. */
#include "login_flight.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct flight {
    unsigned char digest[MFD_CREDENTIAL_DIGEST_LEN];
    bool landed;
    mfd_login_outcome outcome;
    int refs; /* the leader and its waiters */
    struct flight *next;
} flight;

struct mfd_login_flights {
    pthread_mutex_t lock;
    pthread_cond_t landed;
    flight *running;
};

mfd_login_flights *mfd_login_flights_new(void) {
    mfd_login_flights *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->landed, NULL);
    return f;
}

void mfd_login_flights_free(mfd_login_flights *f) {
    if (!f)
        return;
    pthread_cond_destroy(&f->landed);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

bool mfd_login_flight_board(mfd_login_flights *f,
                            const unsigned char digest[MFD_CREDENTIAL_DIGEST_LEN],
                            mfd_login_outcome *outcome) {
    pthread_mutex_lock(&f->lock);
    flight *fl = f->running;
    while (fl && memcmp(fl->digest, digest, MFD_CREDENTIAL_DIGEST_LEN) != 0)
        fl = fl->next;
    if (!fl) {
        fl = calloc(1, sizeof *fl);
        if (fl) { /* out of memory: lead anyway, unlisted */
            memcpy(fl->digest, digest, MFD_CREDENTIAL_DIGEST_LEN);
            fl->refs = 1;
            fl->next = f->running;
            f->running = fl;
        }
        pthread_mutex_unlock(&f->lock);
        return true;
    }
    fl->refs++;
    while (!fl->landed)
        pthread_cond_wait(&f->landed, &f->lock);
    *outcome = fl->outcome;
    if (--fl->refs == 0)
        free(fl);
    pthread_mutex_unlock(&f->lock);
    return false;
}

void mfd_login_flight_land(mfd_login_flights *f,
                           const unsigned char digest[MFD_CREDENTIAL_DIGEST_LEN],
                           mfd_login_outcome outcome) {
    pthread_mutex_lock(&f->lock);
    flight **link = &f->running;
    while (*link && memcmp((*link)->digest, digest, MFD_CREDENTIAL_DIGEST_LEN) != 0)
        link = &(*link)->next;
    flight *fl = *link;
    if (fl) {
        *link = fl->next; /* later requests lead a new flight */
        fl->landed = true;
        fl->outcome = outcome;
        if (--fl->refs == 0)
            free(fl);
        pthread_cond_broadcast(&f->landed);
    }
    pthread_mutex_unlock(&f->lock);
}
