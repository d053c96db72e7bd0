/* Derived labels and selection over the fleet (fleet.h). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "fleet.h"

static void lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* Adds LABEL_DERIVED_PREFIX key = text (made a valid value); nothing for NULL or "". */
static void derive(struct fleet_labels *out, const char *key, const char *text)
{
	struct store_label *l;

	if (text == NULL || text[0] == '\0' || out->nderived == FLEET_DERIVED_MAX)
		return;
	l = &out->derived[out->nderived];
	snprintf(l->key, sizeof(l->key), "%s%s", LABEL_DERIVED_PREFIX, key);
	label_value_from_text(text, l->value);
	if (label_key_check(l->key, NULL) == 0)
		out->nderived++;
}

static const char *member(json_t *o, const char *a, const char *b)
{
	json_t *x = json_object_get(o, a);

	if (!json_is_string(x) && b != NULL)
		x = json_object_get(o, b);
	return json_is_string(x) ? json_string_value(x) : NULL;
}

/* device.margo/arch and device.margo/role.* from the capabilities' properties. */
static void derive_from_capabilities(struct fleet_labels *out, json_t *props)
{
	json_t *cpus, *x;
	char arch[LABEL_VALUE_MAX + 1], role[LABEL_NAME_MAX + 1], key[LABEL_NAME_MAX + 8];
	const char *a;
	size_t i;

	cpus = json_object_get(json_object_get(props, "resources"), "cpus");
	a = member(json_array_get(cpus, 0), "architecture", "cpuArchitecture");
	if (a != NULL) {
		snprintf(arch, sizeof(arch), "%s", a);
		lower(arch);
		derive(out, "arch", arch);
	}
	json_array_foreach(json_object_get(props, "roles"), i, x) {
		if (!json_is_string(x))
			continue;
		label_value_from_text(json_string_value(x), role);
		lower(role);
		if (role[0] == '\0')
			continue;
		snprintf(key, sizeof(key), "role.%s", role);
		derive(out, key, "true");
	}
}

void fleet_labels_of(const struct store_fleet_device *d, struct fleet_labels *out)
{
	json_t *caps = NULL, *props;
	const char *vendor, *model;
	size_t i;

	out->nderived = 0;
	out->nall = 0;
	if (d->capabilities != NULL)
		caps = json_loads(d->capabilities, 0, NULL);
	props = json_object_get(caps, "properties");
	vendor = member(props, "vendor", NULL);
	model = member(props, "modelNumber", NULL);
	derive(out, "vendor", vendor != NULL ? vendor : d->vendor);
	derive(out, "model", model != NULL ? model : d->model_number);
	derive_from_capabilities(out, props);
	derive(out, "state", d->state);
	json_decref(caps);
	for (i = 0; i < d->nlabels; i++)
		out->all[out->nall++] = (struct label){ d->labels[i].key, d->labels[i].value };
	for (i = 0; i < out->nderived; i++)
		out->all[out->nall++] = (struct label){ out->derived[i].key, out->derived[i].value };
}

struct select_ctx {
	const struct selector *sel;
	int (*fn)(void *ctx, const struct store_fleet_device *d, const struct fleet_labels *l);
	void *ctx;
	struct fleet_labels labels;
};

static int select_one(void *ctx, const struct store_fleet_device *d)
{
	struct select_ctx *s = ctx;

	fleet_labels_of(d, &s->labels);
	if (!selector_matches(s->sel, s->labels.all, s->labels.nall))
		return 0;
	return s->fn(s->ctx, d, &s->labels);
}

int fleet_select(store *st, const struct selector *sel, const char *state, const char *after,
		 int (*fn)(void *ctx, const struct store_fleet_device *d,
			   const struct fleet_labels *labels),
		 void *ctx, struct margo_error *err)
{
	struct select_ctx s = { sel, fn, ctx, { .nderived = 0 } };

	return store_fleet_scan(st, state, after, select_one, &s, err);
}
