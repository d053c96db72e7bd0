#include <string.h>

#include "margo/timeutil.h"
#include "api.h"

int api_json_body(struct http_request *req, json_t **out)
{
	return api_json_body_as(req, "application/json", NULL, out);
}

int api_json_body_as(struct http_request *req, const char *mime, const char *alt_mime,
		     json_t **out)
{
	json_error_t jerr;
	json_t *doc;

	*out = NULL;
	if (!http_content_type_is(req, mime) &&
	    (alt_mime == NULL || !http_content_type_is(req, alt_mime)))
		return http_fail(req, 415, "unsupported-media-type", "Content-Type must be %s%s%s",
				 mime, alt_mime != NULL ? " or " : "",
				 alt_mime != NULL ? alt_mime : "");
	if (req->body == NULL || req->body_len == 0)
		return http_fail(req, 400, "malformed-json", "the request body is empty");
	doc = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL)
		return http_fail(req, 400, "malformed-json", "malformed JSON at line %d column "
				 "%d: %s", jerr.line, jerr.column, jerr.text);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return http_fail(req, 400, "malformed-json", "the body must be a JSON object");
	}
	*out = doc;
	return 0;
}

json_t *api_time_json(int64_t t)
{
	char buf[MARGO_TIME_LEN];

	if (t < 0)
		return json_null();
	margo_time_format(t, buf);
	return json_string(buf);
}

int api_set(struct http_request *req, json_t *obj, const char *key, json_t *value)
{
	if (value == NULL || json_object_set_new(obj, key, value) < 0)
		return http_fail_error(req, MARGO_ENOMEM, NULL);
	return 0;
}
