/* json_text.h — a jansson tree as compact JSON text: what
 * json_dumps(JSON_COMPACT | JSON_ENCODE_ANY) writes, keys in insertion order,
 * strings escaped the same way, except for reals. jansson writes those with
 * 17 significant digits (0.1 as 0.10000000000000001); rest-api.md §1.2 wants
 * the shortest form that reads back as the same double, as MLflow's Python
 * writes them, and the runs and histories already write (number_text.h). */
#ifndef MFD_CORE_JSON_TEXT_H
#define MFD_CORE_JSON_TEXT_H

#include <jansson.h>

#include "arena.h"

void mfd_json_append_tree(mfd_strbuf *sb, const json_t *value);

/* json_dumps(value, flags) with the \uXXXX escapes in lower case, as
 * Python's json.dumps writes them (jansson writes "\u00E9", Python
 * "\u00e9"): for text MLflow would have written itself (tag values, quoted
 * values in messages). malloc'd; NULL as json_dumps. */
char *mfd_json_dumps_python(const json_t *value, size_t flags);

#endif
