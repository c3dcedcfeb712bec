/* log.h — one-line log records on stderr: time, level, message. */
#ifndef MFD_LOG_H
#define MFD_LOG_H

void mfd_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mfd_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mfd_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
