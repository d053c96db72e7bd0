/* Cursor pagination of the admin API's lists: ?limit=N&after=CURSOR in, {"items": [...],
 * "next": CURSOR or null} out. A cursor is opaque to clients (base64url of the sort key of
 * the page's last item) and only means something to the list and filters that made it. */
#ifndef WFMD_API_PAGE_H
#define WFMD_API_PAGE_H

#include <stddef.h>
#include <jansson.h>

#include "http.h"
#include "store_page.h"

#define API_PAGE_LIMIT_DEFAULT 100
#define API_PAGE_LIMIT_MAX 1000

struct api_page {
	size_t limit;
	struct store_cursor after;      /* .set 0 without ?after= */
};

/* Reads ?limit= (1..API_PAGE_LIMIT_MAX, default API_PAGE_LIMIT_DEFAULT) and ?after= into p.
 * -1 with a 400 problem ("invalid-parameter" or "invalid-cursor") when either is bad. */
int api_page_parse(struct http_request *req, struct api_page *p);

/* 200 with {"items": items, "next": cursor of last, or null when !more}. Takes the reference
 * to items (NULL: 500 out of memory). */
int api_page_respond(struct http_request *req, struct http_response *resp, json_t *items,
		     int more, const struct store_cursor *last);

/* Appends item to *arr; on failure drops the whole array and leaves *arr NULL. */
void api_items_append(json_t **arr, json_t *item);

/* An optional RFC 3339 time query parameter: 0 with *out (-1 when absent), or -1 with a 400
 * problem. */
int api_query_time(struct http_request *req, const char *name, int64_t *out);

#endif
