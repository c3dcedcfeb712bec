/* escape.h — text made safe to place inside HTML or XML markup, or JSON. */
#ifndef MFD_ESCAPE_H
#define MFD_ESCAPE_H

#include "arena.h"

/* & < > " ' as character references (valid in HTML and XML alike); NULL
 * gives "". The result lives in the arena. */
const char *mfd_markup_escape(mfd_arena *arena, const char *text);

/* `s` (NULL as "") as a JSON string literal (also a YAML double-quoted
 * scalar), escaped as jansson escapes; a string that is not UTF-8 as "". */
void mfd_json_append_string(mfd_strbuf *sb, const char *s);

#endif
