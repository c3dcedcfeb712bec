/* jose_lib.h — libjose, loaded on first use instead of linked.
 *
 * libjose seeds OpenSSL's random generator from a library constructor, which
 * makes every process that links it ~2.3 MB larger from start-up whether it
 * ever checks a token or not; most servers never do (no single sign-on). The
 * functions below have libjose's signatures and load it (libjose.so.0, from
 * Debian's libjose0) at the first call. When it cannot be loaded they fail as
 * libjose's would (SIZE_MAX, false) and the reason is logged once. */
#ifndef MFD_AUTH_JOSE_LIB_H
#define MFD_AUTH_JOSE_LIB_H

#include <jose/b64.h>
#include <jose/jws.h>

size_t mfd_jose_b64_enc_buf(const void *i, size_t il, void *o, size_t ol);
size_t mfd_jose_b64_dec_buf(const void *i, size_t il, void *o, size_t ol);
size_t mfd_jose_b64_dec(const json_t *i, void *o, size_t ol);
bool mfd_jose_jws_ver(jose_cfg_t *cfg, const json_t *jws, const json_t *sig, const json_t *jwk,
                      bool all);

#endif
