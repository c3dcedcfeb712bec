/* json_cost.h — how much memory jansson will take to read a JSON text, told
 * from the text alone, before it is read. A request body's bytes are counted
 * in the server's body budget as they arrive, but the tree jansson builds is
 * up to ~80 times larger ("[{},{},...]": ~230 bytes a "{}"), so a 64 MiB body
 * could take 5 GB once read. The server charges this estimate to the budget
 * instead, and refuses a body whose estimate does not fit. */
#ifndef MFD_CORE_JSON_COST_H
#define MFD_CORE_JSON_COST_H

#include <stddef.h>

/* An upper bound, within about 2x, of the bytes json_loadb(text, len) will
 * allocate: per object, array, member, value and string, what jansson 2.14
 * takes for each with glibc's malloc overhead, plus the text's length (the
 * strings' copies). A body that is one JSON string (legacy clients encode
 * their message twice; api/message.c reads it again) is counted as the
 * message inside it too. */
size_t mfd_json_parse_cost(const char *text, size_t len);

#endif
