/* wfmctl's side of the admin API's cursor pagination: every list command reads all pages
 * (or the first --limit items) through wfmctl_get_items. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wfmctl.h"

#define CURSOR_MAX 512

struct walk {
	long want;              /* items still wanted; -1: all */
	char next[CURSOR_MAX];  /* "" at the end */
	size_t printed;         /* --json: items written so far */
};

/* path with ?limit= and ?after= for the next page, newly allocated. */
static char *page_path(const char *path, const struct walk *w)
{
	long page = w->want < 0 || w->want > WFMCTL_PAGE_MAX ? WFMCTL_PAGE_MAX : w->want;
	char *enc = w->next[0] ? wfmctl_path_join("", w->next) : NULL, *out = NULL;

	if (w->next[0] && enc == NULL)
		return NULL;
	if (asprintf(&out, "%s%climit=%ld%s%s", path, strchr(path, '?') ? '&' : '?', page,
		     enc ? "&after=" : "", enc ? enc + 1 : "") < 0)
		out = NULL;
	free(enc);
	return out;
}

/* --json: one item of the document being printed. */
static int print_item(struct wfmctl *ctx, struct walk *w, json_t *it)
{
	char *text = json_dumps(it, JSON_COMPACT);

	if (text == NULL)
		return wfmctl_fail(ctx, "out of memory");
	printf("%s\n  %s", w->printed++ ? "," : "", text);
	free(text);
	return 0;
}

/* One page: its items printed (--json) or kept in *resp (the first page's document, which
 * later pages' items are appended to); w->next from the answer. */
static int walk_page(struct wfmctl *ctx, const char *path, struct walk *w, json_t **resp)
{
	json_t *doc = NULL, *items, *it;
	const char *next;
	char *p = page_path(path, w);
	size_t i, kept = 0;
	int ret;

	if (p == NULL)
		return wfmctl_fail(ctx, "out of memory");
	ret = wfmctl_call(ctx, "GET", p, NULL, &doc, NULL);
	free(p);
	if (ret != 0)
		return ret;
	items = wfmctl_json_items(doc);
	if (items == NULL) {
		json_decref(doc);
		return wfmctl_fail(ctx, "the server's answer holds no list");
	}
	next = json_is_object(doc) ? wfmctl_json_str(doc, "next") : NULL;
	snprintf(w->next, sizeof(w->next), "%s", next != NULL ? next : "");
	if (!ctx->json && *resp == NULL)
		*resp = json_incref(doc);
	json_array_foreach(items, i, it) {
		if (w->want == 0)
			break;
		if (w->want > 0)
			w->want--;
		kept++;
		if (ctx->json)
			ret = print_item(ctx, w, it);
		else if (*resp != doc && json_array_append(wfmctl_json_items(*resp), it) < 0)
			ret = wfmctl_fail(ctx, "out of memory");
		if (ret != 0)
			break;
	}
	/* A server that ignored limit: drop what --limit did not ask for. */
	while (*resp == doc && json_array_size(items) > kept)
		json_array_remove(items, json_array_size(items) - 1);
	json_decref(doc);
	return ret;
}

int wfmctl_get_items(struct wfmctl *ctx, const char *path, json_t **resp, json_t **items)
{
	struct walk w;
	long limit = -1;
	int ret = 0;

	*items = NULL;
	*resp = NULL;
	memset(&w, 0, sizeof(w));
	if (ctx->limit != NULL && wfmctl_long_parse(ctx->limit, 1, 1000000000L, &limit) < 0)
		return wfmctl_usage_error(ctx, "--limit must be a positive integer");
	if (ctx->after != NULL && (strlen(ctx->after) == 0 || strlen(ctx->after) >= CURSOR_MAX))
		return wfmctl_usage_error(ctx, "--after must be the cursor a --limit listing "
					  "printed");
	w.want = limit;
	if (ctx->after != NULL)
		snprintf(w.next, sizeof(w.next), "%s", ctx->after);
	if (ctx->json)
		printf("{\"items\": [");
	do {
		ret = walk_page(ctx, path, &w, resp);
	} while (ret == 0 && w.next[0] && w.want != 0);
	if (ctx->json) {
		/* Closed even after a failure, so what was printed still parses; the exit code
		 * and the message on stderr tell it is incomplete. */
		json_t *n = w.next[0] && ret == 0 ? json_string(w.next) : json_null();
		char *text = json_dumps(n, JSON_ENCODE_ANY);

		printf("%s],\n \"next\": %s}\n", w.printed ? "\n" : "",
		       text != NULL ? text : "null");
		free(text);
		json_decref(n);
		return ret;
	}
	if (ret != 0) {
		json_decref(*resp);
		*resp = NULL;
		return ret;
	}
	if (json_is_object(*resp) &&
	    json_object_set_new(*resp, "next", w.next[0] ? json_string(w.next) : json_null()) < 0)
		return wfmctl_fail(ctx, "out of memory");
	*items = wfmctl_json_items(*resp);
	return 0;
}

void wfmctl_list_more(struct wfmctl *ctx, json_t *resp)
{
	const char *next = json_is_object(resp) ? wfmctl_json_str(resp, "next") : NULL;

	if (next != NULL)
		printf("More: add --after %s (with the same --limit and filters).\n", next);
	(void)ctx;
}

int wfmctl_list_table(struct wfmctl *ctx, const char *path, const struct wfmctl_list *l)
{
	struct wfmctl_table *table = NULL;
	json_t *resp = NULL, *items, *it;
	const char *cells[16];
	char buf[WFMCTL_ROW_BUF];
	size_t i;
	int ret;

	if (l->ncols > sizeof(cells) / sizeof(cells[0]))
		return wfmctl_fail(ctx, "internal error: too many columns");
	ret = wfmctl_get_items(ctx, path, &resp, &items);
	if (ret != 0 || items == NULL)
		goto out;
	if (json_array_size(items) == 0) {
		printf("%s\n", l->empty);
		goto out;
	}
	if ((table = wfmctl_table_new(l->ncols, l->headers)) == NULL) {
		ret = wfmctl_fail(ctx, "out of memory");
		goto out;
	}
	json_array_foreach(items, i, it) {
		memset(cells, 0, sizeof(cells));
		l->row(it, cells, buf);
		if (wfmctl_table_add(table, cells) != 0) {
			ret = wfmctl_fail(ctx, "out of memory");
			goto out;
		}
	}
	wfmctl_table_print(table);
	wfmctl_list_more(ctx, resp);
out:
	wfmctl_table_free(table);
	json_decref(resp);
	return ret;
}
