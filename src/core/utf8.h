/* utf8.h — the one definition of valid UTF-8 used for request text
 * (queries, Basic credentials, search filters, page tokens): well-formed
 * sequences only, no overlong forms, no surrogates, nothing past U+10FFFF —
 * what jansson accepts in a JSON string, checked without allocating. */
#ifndef MFD_CORE_UTF8_H
#define MFD_CORE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

bool mfd_utf8_valid(const char *s, size_t len);
/* Characters (code points) in valid UTF-8: what PostgreSQL's length() counts. */
size_t mfd_utf8_chars(const char *s);

#endif
