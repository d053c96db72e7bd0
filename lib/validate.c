#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "margo/error.h"
#include "margo/validate.h"

#define PTR_MAX sizeof(((struct margo_field_error *)0)->field)

#define CAPABILITIES_API_VERSION "device.margo/v1"

static const char *const device_roles[] = {
	"standalone cluster", "cluster leader", "cluster worker", "standalone device",
};

static const char *const deployment_states[] = {
	"Pending", "Installing", "Installed", "Failed", "Removing", "Removed",
};

void margo_validation_init(struct margo_validation *v)
{
	memset(v, 0, sizeof(*v));
}

void margo_validation_add(struct margo_validation *v, const char *field, const char *fmt, ...)
{
	struct margo_field_error *e;
	va_list ap;

	if (v->count >= MARGO_VALIDATION_MAX) {
		v->dropped++;
		return;
	}
	e = &v->errors[v->count++];
	snprintf(e->field, sizeof(e->field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

json_t *margo_validation_to_json(const struct margo_validation *v)
{
	json_t *arr = json_array();

	if (arr == NULL)
		return NULL;
	for (size_t i = 0; i < v->count; i++) {
		json_t *item = json_pack("{s:s, s:s}", "field", v->errors[i].field, "message",
					 v->errors[i].message);

		if (item == NULL || json_array_append_new(arr, item) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

const char *margo_deployment_state_canonical(const char *state)
{
	if (state == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(deployment_states) / sizeof(deployment_states[0]); i++) {
		if (strcasecmp(state, deployment_states[i]) == 0)
			return deployment_states[i];
	}
	return NULL;
}

void margo_json_pointer_append(char *out, size_t cap, const char *base, const char *token)
{
	int r;
	size_t n;

	if (cap == 0)
		return;
	r = snprintf(out, cap, "%s/", base);
	n = r < 0 ? 0 : (size_t)r;
	if (n >= cap)
		return;
	/* An escape is written whole or not at all. */
	for (const char *p = token; *p != '\0'; p++) {
		if (*p == '~' || *p == '/') {
			if (n + 2 >= cap)
				break;
			out[n++] = '~';
			out[n++] = *p == '~' ? '0' : '1';
		} else {
			if (n + 1 >= cap)
				break;
			out[n++] = *p;
		}
	}
	out[n] = '\0';
}

static void ptr_member(char out[PTR_MAX], const char *base, const char *name)
{
	margo_json_pointer_append(out, PTR_MAX, base, name);
}

static void ptr_index(char out[PTR_MAX], const char *base, size_t i)
{
	/* A pointer longer than the field is cut short; it still names the region. */
	if (snprintf(out, PTR_MAX, "%s/%zu", base, i) >= (int)PTR_MAX)
		out[PTR_MAX - 1] = '\0';
}

/* A member of obj that must be present; reports "missing" and returns NULL otherwise. */
static json_t *member_required(json_t *obj, const char *base, const char *name,
			       struct margo_validation *v)
{
	char ptr[PTR_MAX];
	json_t *m = json_object_get(obj, name);

	if (m == NULL || json_is_null(m)) {
		ptr_member(ptr, base, name);
		margo_validation_add(v, ptr, "missing");
		return NULL;
	}
	return m;
}

/* obj[name] with its pointer in ptr. An absent or null member is reported "missing"
 * when required; NULL is returned for it either way. */
static json_t *member_optional(json_t *obj, const char *base, const char *name, int required,
			       char ptr[PTR_MAX], struct margo_validation *v)
{
	json_t *m = json_object_get(obj, name);

	ptr_member(ptr, base, name);
	if (m == NULL || json_is_null(m)) {
		if (required)
			margo_validation_add(v, ptr, "missing");
		return NULL;
	}
	return m;
}

/* Checks that obj[name] is a string (non-empty when nonempty); optional members may be
 * absent or null. Returns the string or NULL. */
static const char *check_string(json_t *obj, const char *base, const char *name, int required,
				int nonempty, struct margo_validation *v)
{
	char ptr[PTR_MAX];
	json_t *m = member_optional(obj, base, name, required, ptr, v);

	if (m == NULL)
		return NULL;
	if (!json_is_string(m)) {
		margo_validation_add(v, ptr, "must be a string");
		return NULL;
	}
	if (nonempty && json_string_length(m) == 0) {
		margo_validation_add(v, ptr, "must not be empty");
		return NULL;
	}
	return json_string_value(m);
}

/* Parses "<decimal number> [space] <unit>" and checks the unit against units
 * (case-insensitive). Returns 1 when it matches. */
static int quantity_valid(const char *s, const char *const *units, size_t nunits)
{
	const char *p = s;
	int digits = 0;

	while (*p == ' ')
		p++;
	while (isdigit((unsigned char)*p)) {
		p++;
		digits++;
	}
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			p++;
			digits++;
		}
	}
	if (digits == 0)
		return 0;
	while (*p == ' ')
		p++;
	for (size_t i = 0; i < nunits; i++) {
		if (strcasecmp(p, units[i]) == 0)
			return 1;
	}
	return 0;
}

static const char *const size_units[] = {
	"B", "K", "KB", "Ki", "KiB", "M", "MB", "Mi", "MiB", "G", "GB", "Gi", "GiB",
	"T", "TB", "Ti", "TiB", "P", "PB", "Pi", "PiB",
};

static const char *const frequency_units[] = { "Hz", "kHz", "MHz", "GHz" };

/* A quantity: a non-negative number in default_unit, or a string with one of units. */
static void check_quantity(json_t *obj, const char *base, const char *name, int required,
			   const char *default_unit, const char *const *units, size_t nunits,
			   const char *example, struct margo_validation *v)
{
	char ptr[PTR_MAX];
	json_t *m = member_optional(obj, base, name, required, ptr, v);

	if (m == NULL)
		return;
	if (json_is_number(m)) {
		if (json_number_value(m) < 0)
			margo_validation_add(v, ptr, "must not be negative");
		return;
	}
	if (!json_is_string(m)) {
		margo_validation_add(v, ptr, "must be a number (%s) or a string with a unit",
				     default_unit);
		return;
	}
	if (!quantity_valid(json_string_value(m), units, nunits))
		margo_validation_add(v, ptr, "must be a number with a valid unit, e.g. \"%s\"",
				     example);
}

static json_t *check_object(json_t *obj, const char *base, const char *name, int required,
			    struct margo_validation *v)
{
	char ptr[PTR_MAX];
	json_t *m = member_optional(obj, base, name, required, ptr, v);

	if (m == NULL)
		return NULL;
	if (!json_is_object(m)) {
		margo_validation_add(v, ptr, "must be an object");
		return NULL;
	}
	return m;
}

static json_t *check_array(json_t *obj, const char *base, const char *name, int required,
			   int nonempty, struct margo_validation *v)
{
	char ptr[PTR_MAX];
	json_t *m = member_optional(obj, base, name, required, ptr, v);

	if (m == NULL)
		return NULL;
	if (!json_is_array(m)) {
		margo_validation_add(v, ptr, "must be an array");
		return NULL;
	}
	if (nonempty && json_array_size(m) == 0) {
		margo_validation_add(v, ptr, "must not be empty");
		return NULL;
	}
	return m;
}

static void check_roles(json_t *props, const char *base, struct margo_validation *v)
{
	char ptr[PTR_MAX], item_ptr[PTR_MAX];
	json_t *roles = check_array(props, base, "roles", 1, 1, v);
	json_t *role;
	size_t i;

	if (roles == NULL)
		return;
	ptr_member(ptr, base, "roles");
	json_array_foreach(roles, i, role) {
		int known = 0;

		ptr_index(item_ptr, ptr, i);
		if (!json_is_string(role)) {
			margo_validation_add(v, item_ptr, "must be a string");
			continue;
		}
		for (size_t k = 0; k < sizeof(device_roles) / sizeof(device_roles[0]); k++)
			known |= strcasecmp(json_string_value(role), device_roles[k]) == 0;
		if (!known)
			margo_validation_add(v, item_ptr,
					     "must be one of \"standalone cluster\", \"cluster leader\", "
					     "\"cluster worker\", \"standalone device\"");
	}
}

static void check_cpus(json_t *resources, const char *base, struct margo_validation *v)
{
	char ptr[PTR_MAX], item_ptr[PTR_MAX], field[PTR_MAX];
	json_t *cpus = check_array(resources, base, "cpus", 1, 1, v);
	json_t *cpu, *cores;
	size_t i;

	if (cpus == NULL)
		return;
	ptr_member(ptr, base, "cpus");
	json_array_foreach(cpus, i, cpu) {
		ptr_index(item_ptr, ptr, i);
		if (!json_is_object(cpu)) {
			margo_validation_add(v, item_ptr, "must be an object");
			continue;
		}
		/* Either spelling names the architecture; one of them must be there. */
		if (json_object_get(cpu, "architecture") != NULL ||
		    json_object_get(cpu, "cpuArchitecture") == NULL)
			check_string(cpu, item_ptr, "architecture", 1, 1, v);
		else
			check_string(cpu, item_ptr, "cpuArchitecture", 1, 1, v);
		cores = member_required(cpu, item_ptr, "cores", v);
		if (cores != NULL) {
			ptr_member(field, item_ptr, "cores");
			if (!json_is_integer(cores))
				margo_validation_add(v, field, "must be an integer");
			else if (json_integer_value(cores) < 1)
				margo_validation_add(v, field, "must be at least 1");
		}
		check_quantity(cpu, item_ptr, "frequency", 0, "GHz", frequency_units,
			       sizeof(frequency_units) / sizeof(frequency_units[0]), "2.4 GHz", v);
	}
}

/* peripherals and interfaces: [{name, type, modelNumber, properties}] */
static void check_components(json_t *obj, const char *base, const char *name,
			     struct margo_validation *v)
{
	char ptr[PTR_MAX], item_ptr[PTR_MAX];
	json_t *arr = check_array(obj, base, name, 0, 0, v);
	json_t *item;
	size_t i;

	if (arr == NULL)
		return;
	ptr_member(ptr, base, name);
	json_array_foreach(arr, i, item) {
		ptr_index(item_ptr, ptr, i);
		if (!json_is_object(item)) {
			margo_validation_add(v, item_ptr, "must be an object");
			continue;
		}
		check_string(item, item_ptr, "name", 1, 1, v);
		check_string(item, item_ptr, "type", 1, 1, v);
		check_string(item, item_ptr, "modelNumber", 0, 0, v);
		check_object(item, item_ptr, "properties", 0, v);
	}
}

int margo_capabilities_validate(json_t *doc, struct margo_validation *v)
{
	const char *api_version, *kind;
	json_t *props, *resources;

	if (!json_is_object(doc)) {
		margo_validation_add(v, "", "must be a JSON object");
		return MARGO_EINVAL;
	}
	api_version = check_string(doc, "", "apiVersion", 1, 1, v);
	if (api_version != NULL && strcmp(api_version, CAPABILITIES_API_VERSION) != 0)
		margo_validation_add(v, "/apiVersion", "must be \"%s\"", CAPABILITIES_API_VERSION);
	kind = check_string(doc, "", "kind", 1, 1, v);
	if (kind != NULL && strcmp(kind, "DeviceCapabilities") != 0 &&
	    strcmp(kind, "DeviceCapability") != 0)
		margo_validation_add(v, "/kind", "must be \"DeviceCapabilities\"");
	props = check_object(doc, "", "properties", 1, v);
	if (props != NULL) {
		check_string(props, "/properties", "id", 1, 1, v);
		check_string(props, "/properties", "vendor", 1, 1, v);
		check_string(props, "/properties", "modelNumber", 1, 1, v);
		check_string(props, "/properties", "serialNumber", 1, 1, v);
		check_roles(props, "/properties", v);
		resources = check_object(props, "/properties", "resources", 1, v);
		if (resources != NULL) {
			check_quantity(resources, "/properties/resources", "memory", 1, "GB",
				       size_units, sizeof(size_units) / sizeof(size_units[0]),
				       "16Gi", v);
			check_quantity(resources, "/properties/resources", "storage", 1, "GB",
				       size_units, sizeof(size_units) / sizeof(size_units[0]),
				       "512 GB", v);
			check_cpus(resources, "/properties/resources", v);
			/* Margo drafts place these under resources or next to it: accept both. */
			check_components(resources, "/properties/resources", "peripherals", v);
			check_components(resources, "/properties/resources", "interfaces", v);
		}
		check_components(props, "/properties", "peripherals", v);
		check_components(props, "/properties", "interfaces", v);
	}
	return v->count + v->dropped > 0 ? MARGO_EINVAL : MARGO_OK;
}

static void check_state(json_t *obj, const char *base, struct margo_validation *v)
{
	char ptr[PTR_MAX];
	const char *state = check_string(obj, base, "state", 1, 1, v);

	if (state != NULL && margo_deployment_state_canonical(state) == NULL) {
		ptr_member(ptr, base, "state");
		margo_validation_add(v, ptr,
				     "must be one of Pending, Installing, Installed, Failed, "
				     "Removing, Removed");
	}
}

static void check_error_object(json_t *obj, const char *base, struct margo_validation *v)
{
	char ptr[PTR_MAX];
	json_t *error = check_object(obj, base, "error", 0, v);

	if (error == NULL)
		return;
	ptr_member(ptr, base, "error");
	check_string(error, ptr, "code", 0, 0, v);
	check_string(error, ptr, "message", 0, 0, v);
}

int margo_deployment_status_validate(json_t *doc, const char *deployment_id,
				     struct margo_validation *v)
{
	char ptr[PTR_MAX];
	const char *kind, *id;
	json_t *status, *components, *item;
	size_t i;

	if (!json_is_object(doc)) {
		margo_validation_add(v, "", "must be a JSON object");
		return MARGO_EINVAL;
	}
	check_string(doc, "", "apiVersion", 1, 1, v);
	kind = check_string(doc, "", "kind", 1, 1, v);
	if (kind != NULL && strcmp(kind, "DeploymentStatus") != 0)
		margo_validation_add(v, "/kind", "must be \"DeploymentStatus\"");
	id = check_string(doc, "", "deploymentId", 1, 1, v);
	if (id != NULL && deployment_id != NULL && strcmp(id, deployment_id) != 0)
		margo_validation_add(v, "/deploymentId", "must equal the deployment id of the URL");
	status = check_object(doc, "", "status", 1, v);
	if (status != NULL) {
		check_state(status, "/status", v);
		check_error_object(status, "/status", v);
	}
	components = check_array(doc, "", "components", 0, 0, v);
	if (components != NULL) {
		json_array_foreach(components, i, item) {
			ptr_index(ptr, "/components", i);
			if (!json_is_object(item)) {
				margo_validation_add(v, ptr, "must be an object");
				continue;
			}
			check_string(item, ptr, "name", 1, 1, v);
			check_state(item, ptr, v);
			check_error_object(item, ptr, v);
		}
	}
	return v->count + v->dropped > 0 ? MARGO_EINVAL : MARGO_OK;
}
