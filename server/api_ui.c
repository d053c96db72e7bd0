/* The web console's static files at /ui/ (docs/console.md): served from the binary with their
 * Content-Type, a strong ETag (304 on If-None-Match) and the headers that keep the console's
 * pages to their own scripts and out of other sites' frames. */
#include <string.h>

#include "api.h"
#include "ui_assets.h"

#define UI_CSP "default-src 'self'; base-uri 'none'; form-action 'self'; " \
	"frame-ancestors 'none'; object-src 'none'"

const struct ui_asset *ui_asset_find(const char *name)
{
	for (size_t i = 0; i < ui_nassets; i++)
		if (strcmp(ui_assets[i].name, name) == 0)
			return &ui_assets[i];
	return NULL;
}

int api_ui_security_headers(struct http_response *resp)
{
	if (http_response_header(resp, "Content-Security-Policy", "%s", UI_CSP) < 0 ||
	    http_response_header(resp, "X-Content-Type-Options", "nosniff") < 0 ||
	    http_response_header(resp, "X-Frame-Options", "DENY") < 0 ||
	    http_response_header(resp, "Referrer-Policy", "no-referrer") < 0)
		return MARGO_ENOMEM;
	return 0;
}

int ui_etag_matches(const char *inm, const char *etag)
{
	size_t n = strlen(etag);
	const char *p = inm;

	while (p != NULL && *p != '\0') {
		p += strspn(p, " \t,");
		if (*p == '*')
			return 1;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (strncmp(p, etag, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' ' ||
						  p[n] == '\t'))
			return 1;
		p = strchr(p, ',');
	}
	return 0;
}

static int serve(struct http_request *req, struct http_response *resp, const char *name)
{
	const struct ui_asset *a = ui_asset_find(name);
	int rc;

	if (a == NULL)
		return http_fail(req, 404, "not-found", "no such console file");
	if (api_ui_security_headers(resp) < 0 ||
	    http_response_header(resp, "ETag", "%s", a->etag) < 0 ||
	    http_response_header(resp, "Cache-Control", "no-cache") < 0)
		return http_fail_error(req, MARGO_ENOMEM, NULL);
	if (ui_etag_matches(http_header(req, "If-None-Match"), a->etag)) {
		resp->status = 304;
		return 0;
	}
	rc = http_respond_body(req, resp, 200, a->content_type, (const char *)a->data, a->len);
	return rc;
}

int api_ui_index(struct http_request *req, struct http_response *resp)
{
	return serve(req, resp, "index.html");
}

int api_ui_asset(struct http_request *req, struct http_response *resp)
{
	return serve(req, resp, req->params[0]);
}

int api_ui_redirect(struct http_request *req, struct http_response *resp)
{
	(void)req;
	resp->status = 308;
	if (http_response_header(resp, "Location", "/ui/") < 0)
		return http_fail_error(req, MARGO_ENOMEM, NULL);
	return 0;
}
