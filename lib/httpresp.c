/* The parts of the HTTP client API that need no transport: freeing a response and the
 * one-line summary of an error response. Kept apart from httpc.c so that a program with its
 * own transport (margo-agent) links them without libcurl. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "margo/httpc.h"

#define SUMMARY_DETAIL_MAX 300
#define SUMMARY_FIELDS_MAX 3

void margo_http_response_free(struct margo_http_response *resp)
{
	if (resp == NULL)
		return;
	free(resp->body);
	free(resp->content_type);
	free(resp->location);
	free(resp->www_authenticate);
	free(resp->etag);
	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
}

static const char *reason_phrase(long status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "HTTP error";
	}
}

/* Appends s to buf (capacity cap) with control characters turned into spaces, so a peer
 * cannot break our one-line messages. */
static void append_clean(char *buf, size_t cap, const char *s, size_t max)
{
	size_t n = strlen(buf), i;

	for (i = 0; s[i] != '\0' && i < max && n + 1 < cap; i++)
		buf[n++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
	if (s[i] != '\0' && i == max && n + 4 < cap) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
}

static void append_fields(char *buf, size_t cap, json_t *errors)
{
	json_t *item;
	size_t i;
	int shown = 0;

	if (!json_is_array(errors) || json_array_size(errors) == 0)
		return;
	append_clean(buf, cap, " (", 2);
	json_array_foreach(errors, i, item) {
		const char *field = json_string_value(json_object_get(item, "field"));
		const char *message = json_string_value(json_object_get(item, "message"));

		if (shown == SUMMARY_FIELDS_MAX) {
			append_clean(buf, cap, "; ...", 5);
			break;
		}
		if (shown > 0)
			append_clean(buf, cap, "; ", 2);
		append_clean(buf, cap, field != NULL && *field ? field : "/", 160);
		append_clean(buf, cap, ": ", 2);
		append_clean(buf, cap, message != NULL ? message : "invalid", 160);
		shown++;
	}
	append_clean(buf, cap, ")", 1);
}

char *margo_http_problem_summary(const struct margo_http_response *resp)
{
	char buf[1024];
	json_t *doc = NULL;
	const char *title = NULL, *detail = NULL;
	char *out;

	if (resp == NULL)
		return strdup("no response");
	snprintf(buf, sizeof(buf), "%ld ", resp->status);
	if (resp->body != NULL && resp->body_len > 0)
		doc = json_loadb(resp->body, resp->body_len, 0, NULL);
	if (json_is_object(doc)) {
		if (json_is_string(json_object_get(doc, "error"))) {
			/* RFC 6749 section 5.2 */
			title = json_string_value(json_object_get(doc, "error"));
			detail = json_string_value(json_object_get(doc, "error_description"));
		} else {
			/* RFC 9457 problem details */
			title = json_string_value(json_object_get(doc, "title"));
			detail = json_string_value(json_object_get(doc, "detail"));
		}
	}
	append_clean(buf, sizeof(buf), title != NULL && *title ? title : reason_phrase(resp->status),
		     120);
	if (detail != NULL && *detail) {
		append_clean(buf, sizeof(buf), ": ", 2);
		append_clean(buf, sizeof(buf), detail, SUMMARY_DETAIL_MAX);
	} else if (!json_is_object(doc) && resp->body != NULL && resp->body_len > 0 &&
		   (resp->content_type == NULL ||
		    strncasecmp(resp->content_type, "text/plain", 10) == 0)) {
		/* A short plain-text body is the best explanation we have. */
		append_clean(buf, sizeof(buf), ": ", 2);
		append_clean(buf, sizeof(buf), resp->body, 160);
	}
	if (json_is_object(doc))
		append_fields(buf, sizeof(buf), json_object_get(doc, "errors"));
	/* Trailing spaces from a body's final newline are noise. */
	for (size_t n = strlen(buf); n > 0 && buf[n - 1] == ' '; n--)
		buf[n - 1] = '\0';
	json_decref(doc);
	out = strdup(buf);
	return out;
}
