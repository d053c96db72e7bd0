#include <stdlib.h>
#include <string.h>

#include "margo/base64.h"
#include "api.h"
#include "enrollment_camac.h"
#include "wfmd.h"

#define LOOKUP_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

/* Adds caMac when ?enrollmentTokenLookup= names a usable token issued under this CA
 * (docs/api.md section 1). Absent otherwise: the answer does not tell why. */
static int add_ca_mac(struct http_request *req, json_t *o)
{
	const char *lookup = http_query(req, "enrollmentTokenLookup");
	char mac[MARGO_CA_MAC_LEN];
	struct margo_error err;
	int rc;

	if (lookup == NULL)
		return 0;
	if (strlen(lookup) != MARGO_TOKEN_LOOKUP_LEN - 1 ||
	    strspn(lookup, LOOKUP_CHARS) != MARGO_TOKEN_LOOKUP_LEN - 1)
		return http_fail(req, 400, "invalid-query", "enrollmentTokenLookup must be %d "
				 "base64url characters", MARGO_TOKEN_LOOKUP_LEN - 1);
	margo_error_clear(&err);
	rc = enrollment_ca_mac_find(req->ctx, lookup, mac, &err);
	if (rc == MARGO_ENOTFOUND || rc == MARGO_ECONFLICT)
		return 0;
	if (rc != 0)
		return http_fail_error(req, rc, &err);
	if (json_object_set_new(o, "caMac", json_pack("{s:s,s:s}", "algorithm", MARGO_CA_MAC_ALG,
						      "value", mac)) != 0)
		return http_fail_error(req, MARGO_ENOMEM, NULL);
	return 0;
}

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
	if (o == NULL)
		return http_fail_error(req, MARGO_ENOMEM, NULL);
	if (add_ca_mac(req, o) < 0) {
		json_decref(o);
		return -1;
	}
	return http_respond_json(req, resp, 200, o);
}
