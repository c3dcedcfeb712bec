/* escape.h — text made safe to place inside HTML or XML markup, or JSON;
 * bytes as hex. */
#ifndef MFD_ESCAPE_H
#define MFD_ESCAPE_H

#include "arena.h"

/* & < > " ' as character references (valid in HTML and XML alike); NULL
 * gives "". The result lives in the arena. */
const char *mfd_markup_escape(mfd_arena *arena, const char *text);

/* `s` (NULL as "") as a JSON string literal (also a YAML double-quoted
 * scalar), escaped as jansson escapes; a string that is not UTF-8 as "". */
void mfd_json_append_string(mfd_strbuf *sb, const char *s);

/* `n` bytes as 2n lowercase hex digits and a NUL in `out` (2n + 1 bytes). */
void mfd_hex_encode(const unsigned char *bytes, size_t n, char *out);

#endif
