#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "margo/base64.h"
#include "margo/timeutil.h"
#include "api_page.h"

/* Cursor text before base64url: "1.<at>.<key>" (1: the format's version). */
#define CURSOR_TEXT_MAX (STORE_CURSOR_KEY_MAX + 32)

static int cursor_decode(const char *in, struct store_cursor *c)
{
	unsigned char *raw = NULL;
	size_t len = 0;
	char *end;
	long long at;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	if (strlen(in) > 2 * CURSOR_TEXT_MAX ||
	    margo_base64_decode(in, strlen(in), &raw, &len) < 0)
		return -1;
	if (len < 4 || memchr(raw, '\0', len) != NULL || strncmp((char *)raw, "1.", 2) != 0)
		goto out;
	at = strtoll((char *)raw + 2, &end, 10);
	if (end == (char *)raw + 2 || *end != '.' || strlen(end + 1) >= sizeof(c->key))
		goto out;
	c->set = 1;
	c->at = (int64_t)at;
	strcpy(c->key, end + 1);
	rc = 0;
out:
	free(raw);
	return rc;
}

int api_page_parse(struct http_request *req, struct api_page *p)
{
	const char *limit = http_query(req, "limit"), *after = http_query(req, "after");
	char *end;

	memset(p, 0, sizeof(*p));
	p->limit = API_PAGE_LIMIT_DEFAULT;
	if (limit != NULL) {
		long v = strtol(limit, &end, 10);

		if (*limit == '\0' || *end != '\0' || v < 1 || v > API_PAGE_LIMIT_MAX)
			return http_fail(req, 400, "invalid-parameter",
					 "limit must be an integer from 1 to %d",
					 API_PAGE_LIMIT_MAX);
		p->limit = (size_t)v;
	}
	if (after != NULL && cursor_decode(after, &p->after) < 0)
		return http_fail(req, 400, "invalid-cursor",
				 "after must be the next cursor of a previous page");
	return 0;
}

int api_page_respond(struct http_request *req, struct http_response *resp, json_t *items,
		     int more, const struct store_cursor *last)
{
	char text[CURSOR_TEXT_MAX];
	char *cursor = NULL;
	json_t *o;
	int rc;

	if (items == NULL)
		return http_fail_error(req, MARGO_ENOMEM, NULL);
	if (more) {
		snprintf(text, sizeof(text), "1.%" PRId64 ".%s", last->at, last->key);
		cursor = margo_base64_encode(text, strlen(text),
					     MARGO_BASE64_URL | MARGO_BASE64_NOPAD);
		if (cursor == NULL) {
			json_decref(items);
			return http_fail_error(req, MARGO_ENOMEM, NULL);
		}
	}
	o = json_pack("{s:o,s:o}", "items", items, "next",
		      cursor != NULL ? json_string(cursor) : json_null());
	rc = http_respond_json(req, resp, 200, o);
	free(cursor);
	return rc;
}

void api_items_append(json_t **arr, json_t *item)
{
	if (*arr == NULL || item == NULL || json_array_append_new(*arr, item) < 0) {
		json_decref(item);
		json_decref(*arr);
		*arr = NULL;
	}
}

int api_query_time(struct http_request *req, const char *name, int64_t *out)
{
	const char *v = http_query(req, name);

	*out = -1;
	if (v == NULL)
		return 0;
	if (margo_time_parse(v, out) < 0 || *out < 0)
		return http_fail(req, 400, "invalid-parameter",
				 "%s must be an RFC 3339 time such as 2026-12-04T06:00:00Z", name);
	return 0;
}
