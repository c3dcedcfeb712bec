/* key_value.h — the one key/value pair of the store's messages: experiment,
 * run, registry, logged-model and dataset-input tags, params. */
#ifndef MFD_KEY_VALUE_H
#define MFD_KEY_VALUE_H

typedef struct mfd_key_value {
    const char *key, *value; /* value NULL when the column is NULL */
} mfd_key_value;

#endif
