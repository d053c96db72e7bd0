#include <stdlib.h>
#include <string.h>

#include "margo/base64.h"
#include "api.h"
#include "wfmd.h"

int api_certificate_get(struct http_request *req, struct http_response *resp)
{
	struct wfmd *w = req->ctx;
	json_t *o;
	char *b64;

	b64 = margo_base64_encode(w->ca_pem, strlen(w->ca_pem), MARGO_BASE64_STD);
	if (b64 == NULL)
		return http_fail_error(req, MARGO_ENOMEM, NULL);
	o = json_pack("{s:s}", "certificate", b64);
	free(b64);
	return http_respond_json(req, resp, 200, o);
}
