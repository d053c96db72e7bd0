#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"

int64_t agent_clock_offset(const struct margo_http_response *resp, int64_t now)
{
	if (resp == NULL || resp->date <= 0)
		return 0;
	return resp->date - now;
}

int64_t agent_clock_to_device(int64_t server_time, const struct margo_http_response *resp,
			      int64_t now)
{
	return server_time - agent_clock_offset(resp, now);
}

/* The server's time as sent, if it looks like an RFC 3339 time (it is printed as is). */
static const char *time_text(json_t *v)
{
	const char *s = json_string_value(v);

	if (s == NULL || strlen(s) > 40 || strspn(s, "0123456789-:TZ.+") != strlen(s))
		return "unknown";
	return s;
}

int agent_clock_explain(const struct margo_http_response *resp, char *out, size_t outlen)
{
	json_t *doc, *off, *win, *when;
	long long secs;
	int found = 0;

	if (resp == NULL || resp->body == NULL || resp->body_len == 0)
		return 0;
	doc = json_loadb(resp->body, resp->body_len, 0, NULL);
	off = json_object_get(doc, "clockOffsetSeconds");
	win = json_object_get(doc, "allowedSkewSeconds");
	when = json_object_get(doc, "serverTime");
	if (json_is_integer(off) && json_integer_value(off) != 0) {
		secs = json_integer_value(off);
		snprintf(out, outlen, "this device's clock is %lld s %s the WFM; fix its time (NTP)"
			 " [WFM time %s, allowed +-%lld s]", secs < 0 ? -secs : secs,
			 secs < 0 ? "behind" : "ahead of",
			 time_text(when),
			 json_is_integer(win) ? (long long)json_integer_value(win) : 0LL);
		found = 1;
	}
	json_decref(doc);
	return found;
}
