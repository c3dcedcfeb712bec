/* login_flight.h — one password derivation per pair of credentials at a
 * time. Requests that bring credentials already being verified (a job's
 * workers starting together, a client retrying) wait for that verification
 * and take its outcome instead of each running the 32 MiB KDF again.
 *
 * Keyed by the credentials' keyed hash (credential_cache.h), so nothing here
 * holds a password either. */
#ifndef MFD_AUTH_LOGIN_FLIGHT_H
#define MFD_AUTH_LOGIN_FLIGHT_H

#include <stdbool.h>

#include "credential_cache.h"

typedef struct mfd_login_flights mfd_login_flights;

typedef enum mfd_login_outcome {
    MFD_LOGIN_UNKNOWN = -1, /* the leader could not tell (a DB error): verify yourself */
    MFD_LOGIN_REFUSED = 0,
    MFD_LOGIN_VERIFIED = 1,
} mfd_login_outcome;

mfd_login_flights *mfd_login_flights_new(void);
void mfd_login_flights_free(mfd_login_flights *flights);

/* True: no verification of these credentials is running, the caller now
 * leads one and must end it with mfd_login_flight_land. False: one was
 * running; the caller waited for it, and *outcome is what it found. */
bool mfd_login_flight_board(mfd_login_flights *flights,
                            const unsigned char digest[MFD_CREDENTIAL_DIGEST_LEN],
                            mfd_login_outcome *outcome);
void mfd_login_flight_land(mfd_login_flights *flights,
                           const unsigned char digest[MFD_CREDENTIAL_DIGEST_LEN],
                           mfd_login_outcome outcome);

#endif
