/* The memory of run-search forms that came up short (store/short_forms.h). */
#include "store/short_forms.h"
#include "test.h"

static void test_remembered_for_a_while(void) {
    const int64_t t = 1700000000000;
    CHECK(!mfd_short_form_recent(42, t)); /* nothing remembered yet */
    mfd_short_form_remember(42, t);
    CHECK(mfd_short_form_recent(42, t));
    CHECK(mfd_short_form_recent(42, t + MFD_SHORT_FORM_MEMORY_MS - 1));
    CHECK(!mfd_short_form_recent(
        42, t + MFD_SHORT_FORM_MEMORY_MS)); /* forgotten: the form is tried again */
    CHECK(!mfd_short_form_recent(43, t));   /* another search */
    mfd_short_form_remember(42, t + MFD_SHORT_FORM_MEMORY_MS); /* came up short again */
    CHECK(mfd_short_form_recent(42, t + MFD_SHORT_FORM_MEMORY_MS + 1));
}

/* A form sharing a slot replaces the one before it: that one is tried again. */
static void test_a_slot_holds_one_form(void) {
    const int64_t t = 1700000000000;
    mfd_short_form_remember(7, t);
    CHECK(mfd_short_form_recent(7, t));
    mfd_short_form_remember(7 + MFD_SHORT_FORM_SLOTS, t);
    CHECK(mfd_short_form_recent(7 + MFD_SHORT_FORM_SLOTS, t));
    CHECK(!mfd_short_form_recent(7, t));
}

MFD_TEST_MAIN(MFD_TEST(test_remembered_for_a_while), MFD_TEST(test_a_slot_holds_one_form))
