/* log.c — stderr log lines, written with one fputs so threads never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

/* Control characters in a message (a request path with "%0a", a user name)
 * are written as \xNN: one record stays one line, and none can be forged. */
static void emit(const char *level, const char *fmt, va_list ap) {
    char message[2048], line[4 * 2048 + 64]; /* each byte may become \xNN */
    vsnprintf(message, sizeof message, fmt, ap);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, ".%03ldZ %s ", (long)(tv.tv_usec / 1000),
                          level);
    static const char hex[] = "0123456789abcdef";
    for (const unsigned char *p = (const unsigned char *)message; *p && n + 6 < sizeof line; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            line[n++] = '\\';
            line[n++] = 'x';
            line[n++] = hex[*p >> 4];
            line[n++] = hex[*p & 15];
        } else {
            line[n++] = (char)*p;
        }
    }
    line[n++] = '\n';
    line[n] = '\0';
    fputs(line, stderr);
}

#define DEFINE_LOG(name, level)                                                                    \
    void name(const char *fmt, ...) {                                                              \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        emit(level, fmt, ap);                                                                      \
        va_end(ap);                                                                                \
    }

DEFINE_LOG(mfd_log_info, "INFO")
DEFINE_LOG(mfd_log_warn, "WARN")
DEFINE_LOG(mfd_log_error, "ERROR")
