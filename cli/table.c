#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "margo/error.h"
#include "wfmctl.h"

struct wfmctl_table {
	size_t ncols;
	size_t nrows;
	size_t cap;
	char **cells;           /* (nrows + 1) * ncols, row 0 the headers */
};

/* A copy of s that cannot break the layout: control characters become spaces. */
static char *cell_dup(const char *s)
{
	char *c = strdup(s != NULL && *s != '\0' ? s : "-");

	if (c == NULL)
		return NULL;
	for (char *p = c; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	}
	return c;
}

/* Display width: UTF-8 continuation bytes do not count. */
static size_t width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

struct wfmctl_table *wfmctl_table_new(size_t ncols, const char *const *headers)
{
	struct wfmctl_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->ncols = ncols;
	if (wfmctl_table_add(t, headers) != 0) {
		wfmctl_table_free(t);
		return NULL;
	}
	/* The header row is not a data row. */
	t->nrows = 0;
	return t;
}

int wfmctl_table_add(struct wfmctl_table *t, const char *const *cells)
{
	size_t row = t->cells == NULL ? 0 : t->nrows + 1;
	size_t need = (row + 1) * t->ncols;

	if (need > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : t->ncols * 16;
		char **nc;

		while (cap < need)
			cap *= 2;
		nc = realloc(t->cells, cap * sizeof(*nc));
		if (nc == NULL)
			return MARGO_ENOMEM;
		t->cells = nc;
		t->cap = cap;
	}
	for (size_t i = 0; i < t->ncols; i++) {
		t->cells[row * t->ncols + i] = cell_dup(cells[i]);
		if (t->cells[row * t->ncols + i] == NULL) {
			for (size_t k = 0; k < i; k++)
				free(t->cells[row * t->ncols + k]);
			return MARGO_ENOMEM;
		}
	}
	if (row > 0)
		t->nrows++;
	return MARGO_OK;
}

size_t wfmctl_table_rows(const struct wfmctl_table *t)
{
	return t->nrows;
}

void wfmctl_table_print(const struct wfmctl_table *t)
{
	wfmctl_table_print_indented(t, 0);
}

void wfmctl_table_print_indented(const struct wfmctl_table *t, int indent)
{
	size_t *w = calloc(t->ncols, sizeof(*w));

	if (w == NULL)
		return;
	for (size_t r = 0; r <= t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			size_t cw = width(t->cells[r * t->ncols + c]);

			if (cw > w[c])
				w[c] = cw;
		}
	}
	for (size_t r = 0; r <= t->nrows; r++) {
		printf("%*s", indent, "");
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];

			fputs(s, stdout);
			if (c + 1 < t->ncols)
				printf("%*s", (int)(w[c] - width(s) + 2), "");
		}
		putchar('\n');
	}
	free(w);
}

void wfmctl_table_free(struct wfmctl_table *t)
{
	if (t == NULL)
		return;
	if (t->cells != NULL) {
		for (size_t i = 0; i < (t->nrows + 1) * t->ncols; i++)
			free(t->cells[i]);
	}
	free(t->cells);
	free(t);
}

void wfmctl_kv(int w, const char *label, const char *value)
{
	printf("  %s:%*s %s\n", label, w - (int)strlen(label), "",
	       value != NULL && *value != '\0' ? value : "-");
}

const char *wfmctl_json_str(json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

const char *wfmctl_json_text(json_t *obj, const char *key, char *buf, size_t cap)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v))
		snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, cap, "%g", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, cap, "%s", json_is_true(v) ? "yes" : "no");
	else
		return NULL;
	return buf;
}

json_t *wfmctl_json_items(json_t *doc)
{
	json_t *items;

	if (json_is_array(doc))
		return doc;
	items = json_object_get(doc, "items");
	return json_is_array(items) ? items : NULL;
}
