#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "margo/appdeploy.h"
#include "margo/error.h"
#include "margo/validate.h"

#define PTR_MAX sizeof(((struct margo_field_error *)0)->field)

/* Bounds on untrusted documents: nesting depth, and list/map sizes the validator walks (the
 * parameter targets refer to components, so their product bounds the work). */
#define DEPTH_MAX 64
#define COMPONENTS_MAX 256
#define PARAMETERS_MAX 1024
#define TARGETS_MAX 32
#define TARGET_COMPONENTS_MAX 64

#define ID_MAX 128

#define ID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"

/* The summary while validating: strings borrowed from the loaded document. */
struct view {
	const char *name;
	const char *namespace_;
	const char *id;
	const char *application_id;
	const char *profile_type;
};

/* What a scalar means under the YAML 1.2 core schema. */
enum scalar_kind {
	SCALAR_NULL,
	SCALAR_BOOL,
	SCALAR_NUMBER,
	SCALAR_STRING,
};

int margo_appdeploy_id_valid(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n == 0 || n > ID_MAX || s[0] == '.')
		return 0;
	return strspn(s, ID_CHARS) == n;
}

void margo_appdeploy_free(struct margo_appdeploy *d)
{
	if (d == NULL)
		return;
	free(d->name);
	free(d->namespace_);
	free(d->id);
	free(d->application_id);
	free(d->profile_type);
	for (size_t i = 0; i < d->ncomponents; i++)
		free(d->components[i]);
	free(d->components);
	free(d);
}

static void ptr_member(char out[PTR_MAX], const char *base, const char *name)
{
	margo_json_pointer_append(out, PTR_MAX, base, name);
}

static void ptr_index(char out[PTR_MAX], const char *base, size_t i)
{
	if (snprintf(out, PTR_MAX, "%s/%zu", base, i) >= (int)PTR_MAX)
		out[PTR_MAX - 1] = '\0';
}

/* ---- syntax: a first pass over the events ---- */

static void syntax_error(const yaml_parser_t *p, struct margo_validation *v)
{
	const char *problem = p->problem != NULL ? p->problem : "invalid YAML";

	if (p->context != NULL)
		margo_validation_add(v, "", "YAML syntax error at line %zu column %zu: %s (%s)",
				     p->problem_mark.line + 1, p->problem_mark.column + 1,
				     problem, p->context);
	else
		margo_validation_add(v, "", "YAML syntax error at line %zu column %zu: %s",
				     p->problem_mark.line + 1, p->problem_mark.column + 1,
				     problem);
}

/* Checks that the text is one well-formed YAML document nested at most DEPTH_MAX deep, before
 * any tree is built. Returns 0, MARGO_EINVAL (v filled) or MARGO_ENOMEM. */
static int syntax_check(const char *yaml, size_t len, struct margo_validation *v)
{
	yaml_parser_t parser;
	yaml_event_t event;
	int depth = 0, documents = 0, done = 0, rc = 0;

	if (!yaml_parser_initialize(&parser))
		return MARGO_ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &event)) {
			if (parser.error == YAML_MEMORY_ERROR) {
				rc = MARGO_ENOMEM;
			} else {
				syntax_error(&parser, v);
				rc = MARGO_EINVAL;
			}
			goto out;
		}
		switch (event.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++documents > 1) {
				margo_validation_add(v, "",
						     "more than one YAML document (line %zu); "
						     "one ApplicationDeployment per file",
						     event.start_mark.line + 1);
				rc = MARGO_EINVAL;
			}
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++depth > DEPTH_MAX) {
				margo_validation_add(v, "",
						     "nested deeper than %d levels (line %zu)",
						     DEPTH_MAX, event.start_mark.line + 1);
				rc = MARGO_EINVAL;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&event);
		if (rc < 0)
			goto out;
	}
	if (documents == 0) {
		margo_validation_add(v, "", "empty document");
		rc = MARGO_EINVAL;
	}
out:
	yaml_parser_delete(&parser);
	return rc;
}

/* Loads the (already checked) single document. Returns 0, MARGO_EINVAL or MARGO_ENOMEM. */
static int load_document(const char *yaml, size_t len, yaml_document_t *doc,
			 struct margo_validation *v)
{
	yaml_parser_t parser;
	int rc = 0;

	if (!yaml_parser_initialize(&parser))
		return MARGO_ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
	if (!yaml_parser_load(&parser, doc)) {
		if (parser.error == YAML_MEMORY_ERROR) {
			rc = MARGO_ENOMEM;
		} else {
			syntax_error(&parser, v);
			rc = MARGO_EINVAL;
		}
		goto out;
	}
	if (yaml_document_get_root_node(doc) == NULL) {
		yaml_document_delete(doc);
		margo_validation_add(v, "", "empty document");
		rc = MARGO_EINVAL;
	}
out:
	yaml_parser_delete(&parser);
	return rc;
}

/* ---- node helpers ---- */

static const char *scalar_text(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static int is_one_of(const char *s, const char *const *list)
{
	for (; *list != NULL; list++) {
		if (strcmp(s, *list) == 0)
			return 1;
	}
	return 0;
}

/* Core-schema number: [-+]?digits, 0o/0x forms, floats with optional exponent, .inf, .nan. */
static int looks_numeric(const char *s)
{
	static const char *const special[] = {
		".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF",
		".nan", ".NaN", ".NAN", NULL,
	};
	const char *p = s;
	int digits = 0;

	if (is_one_of(s, special))
		return 1;
	if ((s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) && s[2] != '\0')
		return strspn(s + 2, s[1] == 'x' ? "0123456789abcdefABCDEF" : "01234567") ==
		       strlen(s + 2);
	if (*p == '-' || *p == '+')
		p++;
	while (*p >= '0' && *p <= '9') {
		p++;
		digits++;
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			p++;
			digits++;
		}
	}
	if (digits == 0)
		return 0;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return 0;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

static enum scalar_kind scalar_kind(const yaml_node_t *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
	static const char *const bools[] = {
		"true", "True", "TRUE", "false", "False", "FALSE", NULL,
	};
	const char *tag = (const char *)n->tag;
	const char *s = scalar_text(n);

	if (tag != NULL && strcmp(tag, YAML_NULL_TAG) == 0)
		return SCALAR_NULL;
	if (tag != NULL && strcmp(tag, YAML_BOOL_TAG) == 0)
		return SCALAR_BOOL;
	if (tag != NULL && (strcmp(tag, YAML_INT_TAG) == 0 || strcmp(tag, YAML_FLOAT_TAG) == 0))
		return SCALAR_NUMBER;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return SCALAR_STRING;
	/* A plain scalar with the default tag resolves by its text. */
	if (tag != NULL && strcmp(tag, YAML_STR_TAG) != 0)
		return SCALAR_STRING;
	if (is_one_of(s, nulls))
		return SCALAR_NULL;
	if (is_one_of(s, bools))
		return SCALAR_BOOL;
	if (looks_numeric(s))
		return SCALAR_NUMBER;
	return SCALAR_STRING;
}

static int is_null(const yaml_node_t *n)
{
	return n == NULL || (n->type == YAML_SCALAR_NODE && scalar_kind(n) == SCALAR_NULL);
}

/* The value of key in a mapping node (the first one when repeated), or NULL. */
static yaml_node_t *map_get(yaml_document_t *doc, const yaml_node_t *map, const char *key)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);

		if (k != NULL && k->type == YAML_SCALAR_NODE && strcmp(scalar_text(k), key) == 0)
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Reports keys that appear more than once in a mapping (YAML requires unique keys; the server
 * and the agent must not read different values of one field). */
static int check_duplicate_keys(yaml_document_t *doc, const yaml_node_t *map, const char *base,
				struct margo_validation *v)
{
	size_t n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
	const char **keys;
	size_t nk = 0;
	char ptr[PTR_MAX];

	if (n < 2)
		return 0;
	keys = calloc(n, sizeof(*keys));
	if (keys == NULL)
		return MARGO_ENOMEM;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);

		if (k != NULL && k->type == YAML_SCALAR_NODE)
			keys[nk++] = scalar_text(k);
	}
	qsort(keys, nk, sizeof(*keys), cmp_str);
	for (size_t i = 1; i < nk; i++) {
		if (strcmp(keys[i - 1], keys[i]) == 0 &&
		    (i < 2 || strcmp(keys[i - 2], keys[i]) != 0)) {
			ptr_member(ptr, base, keys[i]);
			margo_validation_add(v, ptr, "duplicate key");
		}
	}
	free(keys);
	return 0;
}

/* A member that must be a mapping (and is checked for duplicate keys). NULL after reporting
 * when missing (only when required) or not a mapping. */
static yaml_node_t *get_map(yaml_document_t *doc, const yaml_node_t *parent, const char *base,
			    const char *name, int required, char ptr[PTR_MAX],
			    struct margo_validation *v, int *rc)
{
	yaml_node_t *m = map_get(doc, parent, name);

	ptr_member(ptr, base, name);
	if (is_null(m)) {
		if (required)
			margo_validation_add(v, ptr, "missing");
		return NULL;
	}
	if (m->type != YAML_MAPPING_NODE) {
		margo_validation_add(v, ptr, "must be a mapping");
		return NULL;
	}
	if (*rc == 0)
		*rc = check_duplicate_keys(doc, m, ptr, v);
	return m;
}

static int has_control(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	}
	return 0;
}

/* A member that must be a string (non-empty when nonempty). NULL after reporting when missing
 * (only when required), not a string or empty. */
static const char *get_string(yaml_document_t *doc, const yaml_node_t *parent, const char *base,
			      const char *name, int required, int nonempty,
			      struct margo_validation *v)
{
	char ptr[PTR_MAX];
	yaml_node_t *m = map_get(doc, parent, name);

	ptr_member(ptr, base, name);
	if (is_null(m)) {
		if (required)
			margo_validation_add(v, ptr, "missing");
		return NULL;
	}
	if (m->type != YAML_SCALAR_NODE || scalar_kind(m) != SCALAR_STRING) {
		margo_validation_add(v, ptr, "must be a string");
		return NULL;
	}
	if (nonempty && scalar_text(m)[0] == '\0') {
		margo_validation_add(v, ptr, "must not be empty");
		return NULL;
	}
	/* These strings end up in commit messages, logs and tables: one line each. */
	if (has_control(scalar_text(m))) {
		margo_validation_add(v, ptr, "must not contain control characters");
		return NULL;
	}
	return scalar_text(m);
}

static size_t seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static size_t map_len(const yaml_node_t *n)
{
	return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

/* A member that must be a non-empty list of at most max items. */
static yaml_node_t *get_list(yaml_document_t *doc, const yaml_node_t *parent, const char *base,
			     const char *name, size_t max, char ptr[PTR_MAX],
			     struct margo_validation *v)
{
	yaml_node_t *m = map_get(doc, parent, name);

	ptr_member(ptr, base, name);
	if (is_null(m)) {
		margo_validation_add(v, ptr, "missing");
		return NULL;
	}
	if (m->type != YAML_SEQUENCE_NODE) {
		margo_validation_add(v, ptr, "must be a list");
		return NULL;
	}
	if (seq_len(m) == 0) {
		margo_validation_add(v, ptr, "must not be empty");
		return NULL;
	}
	if (seq_len(m) > max) {
		margo_validation_add(v, ptr, "too many items (at most %zu)", max);
		return NULL;
	}
	return m;
}

/* ---- validation ---- */

/* Component names borrowed from the document: in document order, and sorted for lookups. */
struct component_names {
	size_t n;
	const char *names[COMPONENTS_MAX];
	const char *sorted[COMPONENTS_MAX];
};

static int component_known(const struct component_names *c, const char *name)
{
	return bsearch(&name, c->sorted, c->n, sizeof(c->sorted[0]), cmp_str) != NULL;
}

static void check_exact(yaml_document_t *doc, const yaml_node_t *root, const char *name,
			const char *want, struct margo_validation *v)
{
	const char *s = get_string(doc, root, "", name, 1, 0, v);
	char ptr[PTR_MAX];

	if (s != NULL && strcmp(s, want) != 0) {
		ptr_member(ptr, "", name);
		margo_validation_add(v, ptr, "must be \"%s\"", want);
	}
}

static int check_metadata(yaml_document_t *doc, const yaml_node_t *root, struct view *d,
			  struct margo_validation *v)
{
	char base[PTR_MAX], abase[PTR_MAX], ptr[PTR_MAX];
	yaml_node_t *meta, *ann;
	const char *s;
	int rc = 0;

	meta = get_map(doc, root, "", "metadata", 1, base, v, &rc);
	if (meta == NULL)
		return rc;
	d->name = get_string(doc, meta, base, "name", 1, 1, v);
	d->namespace_ = get_string(doc, meta, base, "namespace", 1, 1, v);
	ann = get_map(doc, meta, base, "annotations", 1, abase, v, &rc);
	if (ann == NULL)
		return rc;
	d->application_id = get_string(doc, ann, abase, "applicationId", 1, 1, v);
	s = get_string(doc, ann, abase, "id", 0, 0, v);
	if (s != NULL && !margo_appdeploy_id_valid(s)) {
		ptr_member(ptr, abase, "id");
		margo_validation_add(v, ptr,
				     "must be 1-128 characters of A-Z a-z 0-9 . _ - "
				     "not starting with '.'");
		s = NULL;
	}
	d->id = s;
	return rc;
}

static int check_components(yaml_document_t *doc, const yaml_node_t *profile, const char *base,
			    const char *type, struct component_names *names,
			    struct margo_validation *v)
{
	const char *location = NULL;
	char lbase[PTR_MAX], cbase[PTR_MAX], pbase[PTR_MAX], ptr[PTR_MAX];
	yaml_node_t *list;
	int rc = 0;

	if (type != NULL)
		location = strcmp(type, "helm.v3") == 0 ? "repository" : "packageLocation";
	list = get_list(doc, profile, base, "components", COMPONENTS_MAX, lbase, v);
	if (list == NULL)
		return 0;
	for (size_t i = 0; i < seq_len(list); i++) {
		yaml_node_t *c = yaml_document_get_node(doc, list->data.sequence.items.start[i]);
		const char *name;

		ptr_index(cbase, lbase, i);
		if (c == NULL || c->type != YAML_MAPPING_NODE) {
			margo_validation_add(v, cbase, "must be a mapping");
			continue;
		}
		if (rc == 0)
			rc = check_duplicate_keys(doc, c, cbase, v);
		name = get_string(doc, c, cbase, "name", 1, 1, v);
		if (name != NULL) {
			int dup = 0;

			for (size_t j = 0; j < names->n; j++)
				dup |= strcmp(names->names[j], name) == 0;
			if (dup) {
				ptr_member(ptr, cbase, "name");
				margo_validation_add(v, ptr, "duplicate component name \"%s\"",
						     name);
			} else {
				names->names[names->n++] = name;
			}
		}
		if (get_map(doc, c, cbase, "properties", 1, pbase, v, &rc) != NULL &&
		    location != NULL)
			get_string(doc, map_get(doc, c, "properties"), pbase, location, 1, 1, v);
	}
	return rc;
}

static int check_parameters(yaml_document_t *doc, const yaml_node_t *spec, const char *base,
			    const struct component_names *names, int check_names,
			    struct margo_validation *v)
{
	char pbase[PTR_MAX], ebase[PTR_MAX], tlbase[PTR_MAX], tbase[PTR_MAX], clbase[PTR_MAX],
		ptr[PTR_MAX];
	yaml_node_t *params;
	int rc = 0;

	params = get_map(doc, spec, base, "parameters", 0, pbase, v, &rc);
	if (params == NULL)
		return rc;
	if (map_len(params) > PARAMETERS_MAX) {
		margo_validation_add(v, pbase, "too many parameters (at most %d)", PARAMETERS_MAX);
		return rc;
	}
	for (yaml_node_pair_t *p = params->data.mapping.pairs.start;
	     p < params->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		yaml_node_t *e = yaml_document_get_node(doc, p->value);
		yaml_node_t *value, *targets;

		if (k == NULL || k->type != YAML_SCALAR_NODE || scalar_text(k)[0] == '\0') {
			margo_validation_add(v, pbase, "parameter names must be non-empty strings");
			continue;
		}
		ptr_member(ebase, pbase, scalar_text(k));
		if (e == NULL || e->type != YAML_MAPPING_NODE) {
			margo_validation_add(v, ebase, "must be a mapping");
			continue;
		}
		if (rc == 0)
			rc = check_duplicate_keys(doc, e, ebase, v);
		value = map_get(doc, e, "value");
		ptr_member(ptr, ebase, "value");
		if (is_null(value))
			margo_validation_add(v, ptr, "missing");
		else if (value->type != YAML_SCALAR_NODE)
			margo_validation_add(v, ptr, "must be a scalar (string, number or boolean)");
		targets = get_list(doc, e, ebase, "targets", TARGETS_MAX, tlbase, v);
		if (targets == NULL)
			continue;
		for (size_t i = 0; i < seq_len(targets); i++) {
			yaml_node_t *t = yaml_document_get_node(doc,
								targets->data.sequence.items.start[i]);
			yaml_node_t *comps;

			ptr_index(tbase, tlbase, i);
			if (t == NULL || t->type != YAML_MAPPING_NODE) {
				margo_validation_add(v, tbase, "must be a mapping");
				continue;
			}
			if (rc == 0)
				rc = check_duplicate_keys(doc, t, tbase, v);
			get_string(doc, t, tbase, "pointer", 1, 1, v);
			comps = get_list(doc, t, tbase, "components", TARGET_COMPONENTS_MAX, clbase,
					 v);
			if (comps == NULL)
				continue;
			for (size_t j = 0; j < seq_len(comps); j++) {
				yaml_node_t *c = yaml_document_get_node(
					doc, comps->data.sequence.items.start[j]);

				ptr_index(ptr, clbase, j);
				if (c == NULL || c->type != YAML_SCALAR_NODE ||
				    scalar_kind(c) != SCALAR_STRING || scalar_text(c)[0] == '\0')
					margo_validation_add(v, ptr,
							     "must be a component name (string)");
				else if (check_names && !component_known(names, scalar_text(c)))
					margo_validation_add(v, ptr, "unknown component \"%s\"",
							     scalar_text(c));
			}
		}
	}
	return rc;
}

static int check_spec(yaml_document_t *doc, const yaml_node_t *root, struct view *d,
		      struct component_names *names, struct margo_validation *v)
{
	char sbase[PTR_MAX], dbase[PTR_MAX], ptr[PTR_MAX];
	yaml_node_t *spec, *profile;
	const char *type;
	size_t errors_before;
	int rc = 0;

	spec = get_map(doc, root, "", "spec", 1, sbase, v, &rc);
	if (spec == NULL)
		return rc;
	profile = get_map(doc, spec, sbase, "deploymentProfile", 1, dbase, v, &rc);
	if (profile != NULL) {
		type = get_string(doc, profile, dbase, "type", 1, 1, v);
		if (type != NULL && strcmp(type, "helm.v3") != 0 && strcmp(type, "compose") != 0) {
			ptr_member(ptr, dbase, "type");
			margo_validation_add(v, ptr, "must be \"helm.v3\" or \"compose\"");
			type = NULL;
		}
		d->profile_type = type;
		errors_before = v->count + v->dropped;
		if (rc == 0)
			rc = check_components(doc, profile, dbase, type, names, v);
		/* Only a fully valid component list can tell which names are unknown. */
		if (v->count + v->dropped != errors_before) {
			names->n = 0;
		} else {
			memcpy(names->sorted, names->names, names->n * sizeof(names->names[0]));
			qsort(names->sorted, names->n, sizeof(names->sorted[0]), cmp_str);
		}
	}
	if (rc == 0)
		rc = check_parameters(doc, spec, sbase, names,
				      profile != NULL && names->n > 0, v);
	return rc;
}

/* A copy of s (NULL stays NULL) into *dst. */
static int copy_str(char **dst, const char *s)
{
	if (s == NULL)
		return 0;
	*dst = strdup(s);
	return *dst == NULL ? MARGO_ENOMEM : 0;
}

/* A summary owning its strings, from b whose strings are borrowed from the document. */
static int summary_new(const struct view *b, const struct component_names *names,
		       struct margo_appdeploy **out)
{
	struct margo_appdeploy *d = calloc(1, sizeof(*d));
	int rc = MARGO_ENOMEM;

	if (d == NULL)
		return MARGO_ENOMEM;
	if (copy_str(&d->name, b->name) < 0 || copy_str(&d->namespace_, b->namespace_) < 0 ||
	    copy_str(&d->id, b->id) < 0 || copy_str(&d->application_id, b->application_id) < 0 ||
	    copy_str(&d->profile_type, b->profile_type) < 0)
		goto out;
	d->components = calloc(names->n, sizeof(*d->components));
	if (d->components == NULL)
		goto out;
	for (size_t i = 0; i < names->n; i++) {
		d->components[i] = strdup(names->names[i]);
		if (d->components[i] == NULL)
			goto out;
		d->ncomponents++;
	}
	*out = d;
	d = NULL;
	rc = 0;
out:
	margo_appdeploy_free(d);
	return rc;
}

/* Validates a loaded document; on success, *out (when out is not NULL) gets the summary. */
static int validate_document(yaml_document_t *doc, struct margo_appdeploy **out,
			     struct margo_validation *v)
{
	struct view b = { 0 };
	struct component_names *names = NULL;
	yaml_node_t *root = yaml_document_get_root_node(doc);
	int rc = 0;

	if (root->type != YAML_MAPPING_NODE) {
		margo_validation_add(v, "", "must be a mapping (an ApplicationDeployment)");
		return MARGO_EINVAL;
	}
	names = calloc(1, sizeof(*names));
	if (names == NULL)
		return MARGO_ENOMEM;
	if ((rc = check_duplicate_keys(doc, root, "", v)) < 0)
		goto out;
	check_exact(doc, root, "apiVersion", MARGO_APPDEPLOY_API_VERSION, v);
	check_exact(doc, root, "kind", MARGO_APPDEPLOY_KIND, v);
	if ((rc = check_metadata(doc, root, &b, v)) < 0)
		goto out;
	if ((rc = check_spec(doc, root, &b, names, v)) < 0)
		goto out;
	if (v->count > 0 || v->dropped > 0) {
		rc = MARGO_EINVAL;
		goto out;
	}
	if (out != NULL)
		rc = summary_new(&b, names, out);
out:
	free(names);
	return rc;
}

int margo_appdeploy_parse(const char *yaml, size_t len, struct margo_appdeploy **out,
			  struct margo_validation *v)
{
	yaml_document_t doc;
	int rc;

	if (out != NULL)
		*out = NULL;
	margo_validation_init(v);
	if (len > MARGO_APPDEPLOY_MAX)
		return MARGO_ETOOBIG;
	if (yaml == NULL) {
		margo_validation_add(v, "", "empty document");
		return MARGO_EINVAL;
	}
	if ((rc = syntax_check(yaml, len, v)) < 0)
		return rc;
	if ((rc = load_document(yaml, len, &doc, v)) < 0)
		return rc;
	rc = validate_document(&doc, out, v);
	yaml_document_delete(&doc);
	return rc;
}

/* ---- set_id: edit the node tree, emit it again ---- */

struct out_buf {
	char *data;
	size_t len;
	size_t cap;
	int failed;
};

static int write_handler(void *data, unsigned char *buffer, size_t size)
{
	struct out_buf *b = data;

	if (b->len + size + 1 > b->cap) {
		size_t cap = b->cap == 0 ? 4096 : b->cap;
		char *p;

		while (b->len + size + 1 > cap)
			cap *= 2;
		p = realloc(b->data, cap);
		if (p == NULL) {
			b->failed = 1;
			return 0;
		}
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, buffer, size);
	b->len += size;
	b->data[b->len] = '\0';
	return 1;
}

/* Index (as libyaml counts them, from 1) of the value of key in the mapping at index map, or 0;
 * *pair gets the pair's position. */
static int map_find(yaml_document_t *doc, int map, const char *key, size_t *pair)
{
	yaml_node_t *m = yaml_document_get_node(doc, map);

	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);

		if (k != NULL && k->type == YAML_SCALAR_NODE && strcmp(scalar_text(k), key) == 0) {
			*pair = (size_t)(p - m->data.mapping.pairs.start);
			return p->value;
		}
	}
	return 0;
}

/* The style to write the new id value with: the old value's when it was quoted. */
static yaml_scalar_style_t id_style(yaml_document_t *doc, int old)
{
	yaml_node_t *n = old != 0 ? yaml_document_get_node(doc, old) : NULL;

	if (n != NULL && n->type == YAML_SCALAR_NODE &&
	    (n->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
	     n->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE))
		return n->data.scalar.style;
	return YAML_ANY_SCALAR_STYLE;
}

static int set_annotation_id(yaml_document_t *doc, const char *id, struct margo_error *err)
{
	int meta, ann, old, value, key;
	size_t pair;

	/* The document is valid: metadata and metadata.annotations are mappings. */
	meta = map_find(doc, 1, "metadata", &pair);
	ann = meta != 0 ? map_find(doc, meta, "annotations", &pair) : 0;
	if (ann == 0)
		return margo_error_set(err, MARGO_EINVAL, "no metadata.annotations mapping");
	old = map_find(doc, ann, "id", &pair);
	/* A new node rather than an edit in place: the old value may be shared by aliases. */
	value = yaml_document_add_scalar(doc, (yaml_char_t *)YAML_STR_TAG,
					 (yaml_char_t *)id, (int)strlen(id), id_style(doc, old));
	if (value == 0)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	if (old != 0) {
		yaml_node_t *a = yaml_document_get_node(doc, ann);

		a->data.mapping.pairs.start[pair].value = value;
		return 0;
	}
	key = yaml_document_add_scalar(doc, (yaml_char_t *)YAML_STR_TAG, (yaml_char_t *)"id", 2,
				       YAML_ANY_SCALAR_STYLE);
	if (key == 0 || !yaml_document_append_mapping_pair(doc, ann, key, value))
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	return 0;
}

int margo_appdeploy_set_id(const char *yaml, size_t len, const char *id, char **out,
			   size_t *out_len, struct margo_error *err)
{
	struct margo_validation v;
	struct out_buf buf = { 0 };
	yaml_document_t doc;
	yaml_emitter_t emitter;
	int rc, loaded = 0, emitter_ready = 0;

	*out = NULL;
	*out_len = 0;
	margo_error_clear(err);
	if (!margo_appdeploy_id_valid(id))
		return margo_error_set(err, MARGO_EINVAL, "invalid deployment id");
	rc = margo_appdeploy_parse(yaml, len, NULL, &v);
	if (rc == MARGO_EINVAL)
		return margo_error_set(err, rc, "not a valid ApplicationDeployment: %s%s%s",
				       v.errors[0].field, v.errors[0].field[0] != '\0' ? ": " : "",
				       v.errors[0].message);
	if (rc < 0)
		return margo_error_set(err, rc, "%s", margo_strerror(rc));
	margo_validation_init(&v);
	if ((rc = load_document(yaml, len, &doc, &v)) < 0) {
		margo_error_set(err, rc, "%s", margo_strerror(rc));
		goto out;
	}
	loaded = 1;
	if ((rc = set_annotation_id(&doc, id, err)) < 0)
		goto out;
	if (!yaml_emitter_initialize(&emitter)) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	emitter_ready = 1;
	yaml_emitter_set_output(&emitter, write_handler, &buf);
	yaml_emitter_set_unicode(&emitter, 1);
	yaml_emitter_set_width(&emitter, -1);
	yaml_emitter_set_indent(&emitter, 2);
	if (yaml_emitter_open(&emitter)) {
		/* yaml_emitter_dump deletes the document, whether it succeeds or not. */
		loaded = 0;
		if (yaml_emitter_dump(&emitter, &doc) && yaml_emitter_close(&emitter) &&
		    yaml_emitter_flush(&emitter))
			rc = 1;
	}
	if (rc != 1) {
		rc = buf.failed || emitter.error == YAML_MEMORY_ERROR ?
			     margo_error_set(err, MARGO_ENOMEM, "out of memory") :
			     margo_error_set(err, MARGO_EINVAL, "cannot write YAML: %s",
					     emitter.problem != NULL ? emitter.problem : "?");
		goto out;
	}
	if (buf.data == NULL) {
		rc = margo_error_set(err, MARGO_EINVAL, "cannot write YAML: empty output");
		goto out;
	}
	*out = buf.data;
	*out_len = buf.len;
	buf.data = NULL;
	rc = 0;
out:
	if (emitter_ready)
		yaml_emitter_delete(&emitter);
	if (loaded)
		yaml_document_delete(&doc);
	free(buf.data);
	return rc;
}
