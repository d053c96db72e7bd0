/* libFuzzer target for the Device API validators (lib/validate.c): the body is parsed as wfmd
 * parses it (json_loadb, duplicates rejected), then checked as DeviceCapabilities and as
 * DeploymentStatus. The first line of the input is the route's deploymentId. A document is
 * valid or gets at least one field error, never neither. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "margo/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int rc, const struct margo_validation *v)
{
	json_t *errors;

	if ((rc == 0) != (v->count == 0))
		abort();
	errors = margo_validation_to_json(v);
	if (errors == NULL || json_array_size(errors) != v->count)
		abort();
	json_decref(errors);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *nl = memchr(data, '\n', size);
	char id[160] = "";
	struct margo_validation v;
	json_t *doc;
	size_t idlen;

	if (nl != NULL) {
		idlen = (size_t)(nl - text) < sizeof(id) ? (size_t)(nl - text) : sizeof(id) - 1;
		memcpy(id, text, idlen);
		id[idlen] = '\0';
		size -= (size_t)(nl - text) + 1;
		text = nl + 1;
	}
	doc = json_loadb(text, size, JSON_REJECT_DUPLICATES, NULL);
	if (doc == NULL)
		return 0;
	margo_validation_init(&v);
	check(margo_capabilities_validate(doc, &v), &v);
	margo_validation_init(&v);
	check(margo_deployment_status_validate(doc, id, &v), &v);
	(void)margo_deployment_state_canonical(
		json_string_value(json_object_get(json_object_get(doc, "status"), "state")) != NULL
			? json_string_value(json_object_get(json_object_get(doc, "status"), "state"))
			: id);
	json_decref(doc);
	return 0;
}
