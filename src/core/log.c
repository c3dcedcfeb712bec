/* log.c — stderr log lines, written with one fputs so threads never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

static void emit(const char *level, const char *fmt, va_list ap) {
    char line[2048];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n, ".%03ldZ %s ", (long)(tv.tv_usec / 1000),
                  level);
    vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    size_t len = 0;
    while (line[len])
        len++;
    line[len] = '\n';
    line[len + 1] = '\0';
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
