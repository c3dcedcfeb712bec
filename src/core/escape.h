/* escape.h — text made safe to place inside HTML or XML markup. */
#ifndef MFD_ESCAPE_H
#define MFD_ESCAPE_H

#include "arena.h"

/* & < > " ' as character references (valid in HTML and XML alike); NULL
 * gives "". The result lives in the arena. */
const char *mfd_markup_escape(mfd_arena *arena, const char *text);

#endif
