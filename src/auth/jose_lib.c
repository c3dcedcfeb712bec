/* jose_lib.c — libjose resolved with dlopen at the first call; see jose_lib.h. */
#include "jose_lib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>

#include "core/log.h"

#define JOSE_SONAME "libjose.so.0"

static struct {
    __typeof__(jose_b64_enc_buf) *b64_enc_buf;
    __typeof__(jose_b64_dec_buf) *b64_dec_buf;
    __typeof__(jose_b64_dec) *b64_dec;
    __typeof__(jose_jws_ver) *jws_ver;
} lib;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool loaded;

static void load(void) {
    /* RTLD_LOCAL: its symbols stay out of the global namespace; its own
     * dependencies (jansson, libcrypto) are the ones already loaded. */
    void *handle = dlopen(JOSE_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        mfd_log_error("cannot load %s (%s): single sign-on and access tokens need Debian's "
                      "libjose0 package",
                      JOSE_SONAME, dlerror());
        return;
    }
    lib.b64_enc_buf = (__typeof__(lib.b64_enc_buf))dlsym(handle, "jose_b64_enc_buf");
    lib.b64_dec_buf = (__typeof__(lib.b64_dec_buf))dlsym(handle, "jose_b64_dec_buf");
    lib.b64_dec = (__typeof__(lib.b64_dec))dlsym(handle, "jose_b64_dec");
    lib.jws_ver = (__typeof__(lib.jws_ver))dlsym(handle, "jose_jws_ver");
    loaded = lib.b64_enc_buf && lib.b64_dec_buf && lib.b64_dec && lib.jws_ver;
    if (!loaded)
        mfd_log_error("%s lacks a function mlflowd calls: single sign-on and access tokens are "
                      "unavailable",
                      JOSE_SONAME);
}

static bool ready(void) {
    pthread_once(&once, load);
    return loaded;
}

size_t mfd_jose_b64_enc_buf(const void *i, size_t il, void *o, size_t ol) {
    return ready() ? lib.b64_enc_buf(i, il, o, ol) : SIZE_MAX;
}

size_t mfd_jose_b64_dec_buf(const void *i, size_t il, void *o, size_t ol) {
    return ready() ? lib.b64_dec_buf(i, il, o, ol) : SIZE_MAX;
}

size_t mfd_jose_b64_dec(const json_t *i, void *o, size_t ol) {
    return ready() ? lib.b64_dec(i, o, ol) : SIZE_MAX;
}

bool mfd_jose_jws_ver(jose_cfg_t *cfg, const json_t *jws, const json_t *sig, const json_t *jwk,
                      bool all) {
    return ready() && lib.jws_ver(cfg, jws, sig, jwk, all);
}
