/* err.c — construction of mfd_err and the one code -> (name, HTTP status) table. */
#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int http_status;
} code_table[MFD_CODE_COUNT] = {
    [MFD_OK] = {"OK", 200},
    [MFD_INTERNAL_ERROR] = {"INTERNAL_ERROR", 500},
    [MFD_TEMPORARILY_UNAVAILABLE] = {"TEMPORARILY_UNAVAILABLE", 503},
    [MFD_BAD_REQUEST] = {"BAD_REQUEST", 400},
    [MFD_DEADLINE_EXCEEDED] = {"DEADLINE_EXCEEDED", 504},
    [MFD_RESOURCE_EXHAUSTED] = {"RESOURCE_EXHAUSTED", 429},
    [MFD_ABORTED] = {"ABORTED", 409},
    [MFD_NOT_FOUND] = {"NOT_FOUND", 404},
    [MFD_ALREADY_EXISTS] = {"ALREADY_EXISTS", 409},
    [MFD_UNAUTHENTICATED] = {"UNAUTHENTICATED", 401},
    [MFD_INVALID_PARAMETER_VALUE] = {"INVALID_PARAMETER_VALUE", 400},
    [MFD_ENDPOINT_NOT_FOUND] = {"ENDPOINT_NOT_FOUND", 404},
    [MFD_MALFORMED_REQUEST] = {"MALFORMED_REQUEST", 500},
    [MFD_INVALID_STATE] = {"INVALID_STATE", 500},
    [MFD_PERMISSION_DENIED] = {"PERMISSION_DENIED", 403},
    [MFD_FEATURE_DISABLED] = {"FEATURE_DISABLED", 500},
    [MFD_CUSTOMER_UNAUTHORIZED] = {"CUSTOMER_UNAUTHORIZED", 401},
    [MFD_REQUEST_LIMIT_EXCEEDED] = {"REQUEST_LIMIT_EXCEEDED", 429},
    [MFD_RESOURCE_CONFLICT] = {"RESOURCE_CONFLICT", 409},
    [MFD_NOT_IMPLEMENTED] = {"NOT_IMPLEMENTED", 501},
    [MFD_DATA_LOSS] = {"DATA_LOSS", 500},
    [MFD_RESOURCE_ALREADY_EXISTS] = {"RESOURCE_ALREADY_EXISTS", 400},
    [MFD_RESOURCE_DOES_NOT_EXIST] = {"RESOURCE_DOES_NOT_EXIST", 404},
};

static mfd_error out_of_memory = {MFD_INTERNAL_ERROR, "out of memory"};

mfd_err mfd_err_newv(mfd_code code, const char *fmt, va_list ap) {
    mfd_err err = malloc(sizeof *err);
    if (!err)
        return &out_of_memory;
    err->code = code;
    if (vasprintf(&err->message, fmt, ap) < 0) {
        free(err);
        return &out_of_memory;
    }
    return err;
}

mfd_err mfd_err_new(mfd_code code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    mfd_err err = mfd_err_newv(code, fmt, ap);
    va_end(ap);
    return err;
}

void mfd_err_free(mfd_err err) {
    if (!err || err == &out_of_memory)
        return;
    free(err->message);
    free(err);
}

const char *mfd_code_name(mfd_code code) {
    if (code < 0 || code >= MFD_CODE_COUNT)
        return "INTERNAL_ERROR";
    return code_table[code].name;
}

int mfd_code_http_status(mfd_code code) {
    if (code < 0 || code >= MFD_CODE_COUNT)
        return 500;
    return code_table[code].http_status;
}
