/* err.h — the one error type threaded through every layer.
 *
 * An mfd_err is NULL on success, or an owned heap object carrying an MLflow
 * error code (databricks.ErrorCode name) and a message. Whoever receives a
 * non-NULL mfd_err owns it and must either return it upward or free it with
 * mfd_err_free(). The HTTP layer turns it into the JSON answer exactly once. */
#ifndef MFD_ERR_H
#define MFD_ERR_H

#include <stdarg.h>

typedef enum mfd_code {
    MFD_OK = 0,
    MFD_INTERNAL_ERROR,
    MFD_TEMPORARILY_UNAVAILABLE,
    MFD_BAD_REQUEST,
    MFD_DEADLINE_EXCEEDED,
    MFD_RESOURCE_EXHAUSTED,
    MFD_ABORTED,
    MFD_NOT_FOUND,
    MFD_ALREADY_EXISTS,
    MFD_UNAUTHENTICATED,
    MFD_INVALID_PARAMETER_VALUE,
    MFD_ENDPOINT_NOT_FOUND,
    MFD_MALFORMED_REQUEST,
    MFD_INVALID_STATE,
    MFD_PERMISSION_DENIED,
    MFD_FEATURE_DISABLED,
    MFD_CUSTOMER_UNAUTHORIZED,
    MFD_REQUEST_LIMIT_EXCEEDED,
    MFD_RESOURCE_CONFLICT,
    MFD_NOT_IMPLEMENTED,
    MFD_DATA_LOSS,
    MFD_RESOURCE_ALREADY_EXISTS,
    MFD_RESOURCE_DOES_NOT_EXIST,
    MFD_CODE_COUNT
} mfd_code;

typedef struct mfd_error {
    mfd_code code;
    char *message;
} mfd_error;

typedef mfd_error *mfd_err;

/* Creates an error; never returns NULL (falls back to a static OOM error). */
mfd_err mfd_err_new(mfd_code code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
mfd_err mfd_err_newv(mfd_code code, const char *fmt, va_list ap);
void mfd_err_free(mfd_err err);

/* Name on the wire ("INVALID_PARAMETER_VALUE") and the HTTP status MLflow uses. */
const char *mfd_code_name(mfd_code code);
int mfd_code_http_status(mfd_code code);

#endif
