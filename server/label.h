/* Device labels and label selectors (the grammar Kubernetes users know):
 *
 *   selector    := requirement ( "," requirement )*
 *   requirement := key | "!" key | key ("=" | "==" | "!=") value
 *                | key ("in" | "notin") "(" value ( "," value )* ")"
 *
 * Keys are `[prefix/]name`: name 1-63 characters of [A-Za-z0-9._-] starting and ending with
 * an alphanumeric, prefix a DNS subdomain of at most 253 characters. Values are empty or as
 * a name (a value set holds no empty value). Blanks around tokens are ignored. Every requirement must hold (AND); `!=` and
 * `notin` also match a device without the key, as in Kubernetes.
 *
 * Labels under the prefix LABEL_DERIVED_PREFIX are derived from what the device reported
 * (vendor, model, architecture, roles) and cannot be set by operators. */
#ifndef WFMD_LABEL_H
#define WFMD_LABEL_H

#include <stddef.h>

#include "margo/error.h"

#define LABEL_NAME_MAX 63
#define LABEL_PREFIX_MAX 253
#define LABEL_KEY_MAX (LABEL_PREFIX_MAX + 1 + LABEL_NAME_MAX)
#define LABEL_VALUE_MAX 63
/* Operator labels one device may carry. */
#define LABEL_PER_DEVICE_MAX 64
#define SELECTOR_TEXT_MAX 4096
#define SELECTOR_REQUIREMENTS_MAX 32
#define SELECTOR_VALUES_MAX 64
#define LABEL_DERIVED_PREFIX "device.margo/"

struct label {
	const char *key;
	const char *value;
};

/* 0 when key is a valid label key, else MARGO_EINVAL with the reason in err. */
int label_key_check(const char *key, struct margo_error *err);
/* 0 when value is a valid label value, else MARGO_EINVAL with the reason in err. */
int label_value_check(const char *value, struct margo_error *err);
/* 1 when key is under LABEL_DERIVED_PREFIX. */
int label_key_derived(const char *key);

/* Turns text ("A/B" style value or a free-form string such as a vendor name) into a valid
 * label value in out (LABEL_VALUE_MAX + 1 bytes): characters outside [A-Za-z0-9._-] become
 * '-', leading and trailing non-alphanumerics are dropped, the rest cut to 63. */
void label_value_from_text(const char *text, char out[LABEL_VALUE_MAX + 1]);

struct selector;

/* Parses text. MARGO_EINVAL with "at character N: ..." in err for bad syntax, bad keys or
 * values, and past the limits above. An empty selector is refused too (it would match the
 * whole fleet by accident); *out is newly allocated (selector_free). */
int selector_parse(const char *text, struct selector **out, struct margo_error *err);
void selector_free(struct selector *s);
/* 1 when the labels (n pairs, keys unique) satisfy every requirement. */
int selector_matches(const struct selector *s, const struct label *labels, size_t n);

#endif
