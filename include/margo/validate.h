/* Validation of the Device API documents (DeviceCapabilities, DeploymentStatus) with
 * field-level errors, as API.md section 4 describes. */
#ifndef MARGO_VALIDATE_H
#define MARGO_VALIDATE_H

#include <stddef.h>
#include <jansson.h>

#define MARGO_VALIDATION_MAX 32

/* One problem: field is a JSON pointer ("/properties/resources/cpus/0/cores"). */
struct margo_field_error {
	char field[160];
	char message[160];
};

/* Up to MARGO_VALIDATION_MAX problems (further ones are counted in dropped). */
struct margo_validation {
	size_t count;
	size_t dropped;
	struct margo_field_error errors[MARGO_VALIDATION_MAX];
};

void margo_validation_init(struct margo_validation *v);
void margo_validation_add(struct margo_validation *v, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The errors as a new JSON array [{"field": ..., "message": ...}] (caller json_decref()s). */
json_t *margo_validation_to_json(const struct margo_validation *v);

/* Writes into out (capacity cap, always NUL-terminated, cut short when too long) the JSON
 * pointer of member or index token below base: base + "/" + token with '~' escaped as "~0" and
 * '/' as "~1" (RFC 6901). base "" is the document root. */
void margo_json_pointer_append(char *out, size_t cap, const char *base, const char *token);

/* Validates a DeviceCapabilities document. Returns 0 when valid, MARGO_EINVAL with v filled
 * when a required member is missing or mistyped. Unknown members are allowed. */
int margo_capabilities_validate(json_t *doc, struct margo_validation *v);

/* Validates a DeploymentStatus document; deployment_id is the route's and must equal the
 * document's deploymentId. */
int margo_deployment_status_validate(json_t *doc, const char *deployment_id,
				     struct margo_validation *v);

/* The canonical spelling ("Pending", "Installing", "Installed", "Failed", "Removing",
 * "Removed") of a case-insensitive state name, or NULL when it is not one. */
const char *margo_deployment_state_canonical(const char *state);

#endif
