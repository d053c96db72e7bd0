#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "https.h"
#include "margo/base64.h"
#include "margo/httpc.h"
#include "margo/log.h"
#include "trust.h"

#define CERT_ROUTE "/onboarding/certificate"

/* GET the certificate route with the given options; returns the parsed CA. */
static int fetch_ca(const struct margo_http_options *hopts, const char *url, X509 **ca,
		    struct margo_error *err)
{
	struct agent_https *http = NULL;
	struct margo_http_response resp = { 0 };
	json_t *doc = NULL, *field;
	char *summary = NULL;
	int rc;

	rc = agent_https_new(hopts, &http, err);
	if (rc != 0)
		goto out;
	rc = agent_https_request(http, "GET", url, NULL, 0, NULL, 0, &resp, err);
	if (rc != 0)
		goto out;
	if (resp.status != 200) {
		summary = margo_http_problem_summary(&resp);
		rc = margo_error_set(err, MARGO_EPROTO, "GET %s: %s", CERT_ROUTE,
				     summary != NULL ? summary : "unexpected status");
		goto out;
	}
	doc = json_loadb(resp.body, resp.body_len, 0, NULL);
	field = json_object_get(doc, "certificate");
	if (!json_is_string(field)) {
		rc = margo_error_set(err, MARGO_EPROTO, "GET %s: no certificate in the answer",
				     CERT_ROUTE);
		goto out;
	}
	rc = margo_cert_parse(json_string_value(field), json_string_length(field), ca, err);
out:
	free(summary);
	json_decref(doc);
	margo_http_response_free(&resp);
	agent_https_free(http);
	return rc;
}

int agent_trust_establish(const struct agent_trust_options *o, char **ca_pem,
			  char fingerprint[MARGO_FINGERPRINT_LEN], struct margo_error *err)
{
	struct margo_http_options insecure = { .insecure = 1, .proxy = o->proxy };
	struct margo_http_options pinned = { .proxy = o->proxy };
	char fp2[MARGO_FINGERPRINT_LEN], *url = NULL, *pem = NULL;
	X509 *ca = NULL, *again = NULL;
	struct margo_error e;
	int rc;

	if (o->pin == NULL && !o->tofu)
		return margo_error_set(err, MARGO_EINVAL,
				       "no CA pin: give --ca-fingerprint sha256:... (from 'wfmd fingerprint') or, to trust whatever the server presents, --trust-on-first-use");
	if (asprintf(&url, "%s%s", o->url, CERT_ROUTE) < 0)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	/* The only unverified request: its answer is checked against the pin below. */
	rc = fetch_ca(&insecure, url, &ca, err);
	if (rc != 0)
		goto out;
	rc = margo_cert_fingerprint(ca, fingerprint);
	if (rc != 0) {
		margo_error_set(err, rc, "cannot compute the CA fingerprint");
		goto out;
	}
	if (o->pin != NULL) {
		rc = margo_cert_pin_check(ca, o->pin, &e);
		if (rc == MARGO_EAUTH) {
			rc = margo_error_set(err, MARGO_EAUTH,
					     "WFM root CA fingerprint %s does not match the pin %s; refusing to trust it",
					     fingerprint, o->pin);
			goto out;
		}
		if (rc != 0) {
			margo_error_set(err, rc, "bad CA pin: %s", e.message);
			goto out;
		}
	} else {
		fprintf(stderr, "trusting WFM root CA %s (trust on first use)\n", fingerprint);
	}
	pem = margo_cert_to_pem(ca);
	if (pem == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "cannot encode the CA");
		goto out;
	}
	/* A new, verified connection: the server must chain to this CA for this host or IP. */
	pinned.ca_pem = pem;
	rc = fetch_ca(&pinned, url, &again, &e);
	if (rc == MARGO_ENET) {
		rc = margo_error_set(err, MARGO_EAUTH,
				     "the server's certificate does not verify against the pinned CA: %s",
				     e.message);
		goto out;
	}
	if (rc != 0) {
		margo_error_set(err, rc, "%s", e.message);
		goto out;
	}
	rc = margo_cert_fingerprint(again, fp2);
	if (rc != 0 || strcmp(fp2, fingerprint) != 0) {
		rc = margo_error_set(err, MARGO_EAUTH,
				     "the server presented a different CA on the verified connection");
		goto out;
	}
	margo_log_info("trusted WFM root CA", "fingerprint=%s url=%s", fingerprint, o->url);
	*ca_pem = pem;
	pem = NULL;
out:
	free(pem);
	X509_free(ca);
	X509_free(again);
	free(url);
	return rc;
}
