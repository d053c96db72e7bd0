/* Capability probe: builds the DeviceCapabilities document (API.md section 4) from the
 * machine itself (/proc, /sys, uname, statvfs) plus configuration overrides. */
#ifndef AGENT_PROBE_H
#define AGENT_PROBE_H

#include <jansson.h>

#include "config.h"
#include "margo/error.h"
#include "margo/token.h"

struct agent_probe_options {
	const char *root;          /* prefix for /proc and /sys; NULL or "" means "/" */
	const char *storage_path;  /* filesystem measured with statvfs; NULL: "/" */
	const char *device_id;     /* properties.id; NULL: the serial number */
	const char *vendor;        /* overrides of the DMI values (NULL: probe) */
	const char *model_number;
	const char *serial_number;
	const char *const *roles;  /* canonical names; none: "standalone device" */
	size_t nroles;
};

/* Fills opts from a configuration (borrowed pointers; env MARGO_AGENT_PROBE_ROOT is used when
 * the configuration names no probe_root). */
void agent_probe_options_from_config(struct agent_probe_options *opts,
				     const struct agent_config *c);

/* Applies the identity stored by `onboard` (--vendor/--model/--serial; NULL: none). */
void agent_probe_options_from_state(struct agent_probe_options *opts, const char *vendor,
				    const char *model_number, const char *serial_number);

/* Probes the machine. *out is a new document (caller json_decref()s) that passes
 * margo_capabilities_validate(). */
int agent_probe_capabilities(const struct agent_probe_options *opts, json_t **out,
			     struct margo_error *err);

/* The probed identity only (for the OnboardingRequest's device member). Each out string is
 * newly allocated (caller frees). */
int agent_probe_identity(const struct agent_probe_options *opts, char **vendor,
			 char **model_number, char **serial_number, struct margo_error *err);

/* Lowercase hex SHA-256 of the canonical (sorted, compact) JSON of doc. */
int agent_probe_hash(json_t *doc, char out[MARGO_TOKEN_HASH_LEN]);

#endif
