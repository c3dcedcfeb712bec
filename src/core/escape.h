/* escape.h — text made safe to place inside HTML or XML markup, or JSON;
 * text as Python's repr() shows it; bytes as hex. */
#ifndef MFD_ESCAPE_H
#define MFD_ESCAPE_H

#include "arena.h"

#include <stdbool.h>

/* & < > " ' as character references (valid in HTML and XML alike); NULL
 * gives "". The result lives in the arena. */
const char *mfd_markup_escape(mfd_arena *arena, const char *text);

/* `s` (NULL as "") as a JSON string literal (also a YAML double-quoted
 * scalar), escaped as jansson escapes; a string that is not UTF-8 as "". */
void mfd_json_append_string(mfd_strbuf *sb, const char *s);

/* Python's repr() of a str, as MLflow's messages quote values: in single
 * quotes, or double quotes when the text holds a single quote and no double
 * quote; backslash, the quote, \n \r \t and the code points Python does not
 * print (controls, separators but the space, format characters, private use,
 * noncharacters; not yet unassigned code points) escaped as \xhh, \uhhhh or
 * \Uhhhhhhhh. */
void mfd_python_repr_append(mfd_strbuf *sb, const char *s);

/* The value of a hex digit (either case), or -1. */
int mfd_hex_digit_value(char c);

/* `len` bytes with every %XX escape of two hex digits decoded and anything
 * else kept (libmicrohttpd's rule for URL paths, urllib.parse.unquote's);
 * with `plus`, '+' also becomes a space (query strings, unquote_plus). The
 * result, in the arena, may hold NUL bytes: its length is *out_len. */
char *mfd_percent_decode(mfd_arena *arena, const char *s, size_t len, bool plus, size_t *out_len);

/* `n` bytes as 2n lowercase hex digits and a NUL in `out` (2n + 1 bytes). */
void mfd_hex_encode(const unsigned char *bytes, size_t n, char *out);

#endif
