/* utf8.h — the one definition of valid UTF-8 used for request text
 * (queries, Basic credentials, search filters, page tokens): well-formed
 * sequences only, no overlong forms, no surrogates, nothing past U+10FFFF —
 * what jansson accepts in a JSON string, checked without allocating. */
#ifndef MFD_CORE_UTF8_H
#define MFD_CORE_UTF8_H

#include <stdbool.h>
#include <locale.h>
#include <stddef.h>

bool mfd_utf8_valid(const char *s, size_t len);
/* Characters (code points) in valid UTF-8: what PostgreSQL's length() counts. */
size_t mfd_utf8_chars(const char *s);

/* The C library's C.UTF-8 locale, opened once; (locale_t)0 when the system
 * lacks it. What wide-character classes and case mean everywhere here. */
locale_t mfd_utf8_locale(void);

/* Does valid UTF-8 `s` hold only word characters — Python's Unicode \w:
 * letters and digits of any script (iswalnum in C.UTF-8) and '_' — or ASCII
 * characters of `also`? MLflow's name rules are regexes such as
 * ^[/\w.\- :]*$. The C library's classes differ from Python's for a few
 * characters only: combining marks that are part of a script's letters (glibc
 * counts them, Python does not: such keys are taken where MLflow refuses
 * them) and numbers such as '²' or '½' (Python counts them, and so do we,
 * from a table). Without the locale every non-ASCII character counts. */
bool mfd_utf8_word_chars_only(const char *s, const char *also);

#endif
