/* number_text.h — integers and doubles as the text JSON and PostgreSQL read
 * back to the same value, written without printf (a 100,000-point history or
 * a 1,000-metric batch formats that many numbers). Each writes at `out`
 * without a NUL and returns the length. */
#ifndef MFD_NUMBER_TEXT_H
#define MFD_NUMBER_TEXT_H

#include <stddef.h>
#include <stdint.h>

size_t mfd_int_text(char out[24], int64_t v);

/* A finite double in the fewest digits that read back as the same double
 * (Grisu2: nearly always the fewest), with a ".0" on integral values: "0.1",
 * "100.0", "-0.0", "1e-7", "1.7976931348623157e+308". NaN and infinities
 * have no such form; callers write them as their format wants. */
size_t mfd_double_text(char out[32], double v);

/* repr(v) in Python, for messages that quote MLflow's: the same fewest
 * digits, fixed-point for 1e-4 <= |v| < 1e16, else "1e-05" / "1.5e+16";
 * "nan", "inf", "-inf". */
size_t mfd_double_python_repr(char out[40], double v);

#endif
