#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "https.h"
#include "margo/base64.h"
#include "margo/camac.h"
#include "margo/httpc.h"
#include "margo/log.h"
#include "trust.h"

#define CERT_ROUTE "/onboarding/certificate"

/* GET the certificate route with the given options; returns the parsed CA. */
static int fetch_ca(const struct margo_http_options *hopts, const char *url, X509 **ca,
		    char mac[MARGO_CA_MAC_LEN], struct margo_error *err)
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
	field = json_object_get(json_object_get(doc, "caMac"), "value");
	if (rc == 0 && mac != NULL && json_is_string(field) &&
	    json_string_length(field) < MARGO_CA_MAC_LEN)
		memcpy(mac, json_string_value(field), json_string_length(field) + 1);
out:
	free(summary);
	json_decref(doc);
	margo_http_response_free(&resp);
	agent_https_free(http);
	return rc;
}

/* The CA authenticated by the enrollment token's CA MAC (one-secret onboarding). */
static int check_ca_mac(const struct agent_trust_options *o, X509 *ca, const char *mac,
			const char *fingerprint, struct margo_error *err)
{
	struct margo_error e;

	if (mac[0] == '\0')
		return margo_error_set(err, MARGO_EAUTH,
				       "the WFM offers no CA MAC for this enrollment token (unknown, expired, revoked or used up, issued under another CA, or an older WFM), so its CA %s cannot be authenticated; give --ca-fingerprint",
				       fingerprint);
	if (margo_ca_mac_verify(o->enrollment_token, ca, mac, &e) != 0)
		return margo_error_set(err, MARGO_EAUTH,
				       "WFM root CA %s is not authenticated by the enrollment token (a wrong token, or a man in the middle presenting another CA); refusing to trust it",
				       fingerprint);
	fprintf(stderr, "WFM root CA %s authenticated by the enrollment token\n", fingerprint);
	return MARGO_OK;
}

/* The certificate route, with the token's lookup id when the CA MAC will be needed. */
static char *certificate_url(const struct agent_trust_options *o, struct margo_error *err)
{
	char lookup[MARGO_TOKEN_LOOKUP_LEN], *url = NULL;

	if (o->pin == NULL && !o->tofu && o->enrollment_token != NULL) {
		if (margo_token_lookup(o->enrollment_token, lookup, err) != 0)
			return NULL;
		if (asprintf(&url, "%s%s?enrollmentTokenLookup=%s", o->url, CERT_ROUTE, lookup) < 0)
			url = NULL;
	} else if (asprintf(&url, "%s%s", o->url, CERT_ROUTE) < 0) {
		url = NULL;
	}
	if (url == NULL)
		margo_error_set(err, MARGO_ENOMEM, "out of memory");
	return url;
}

int agent_trust_establish(const struct agent_trust_options *o, char **ca_pem,
			  char fingerprint[MARGO_FINGERPRINT_LEN], struct margo_error *err)
{
	struct margo_http_options insecure = { .insecure = 1, .proxy = o->proxy };
	struct margo_http_options pinned = { .proxy = o->proxy };
	char fp2[MARGO_FINGERPRINT_LEN], mac[MARGO_CA_MAC_LEN] = "", *url = NULL, *pem = NULL;
	X509 *ca = NULL, *again = NULL;
	struct margo_error e;
	int rc;

	if (o->pin == NULL && !o->tofu && o->enrollment_token == NULL)
		return margo_error_set(err, MARGO_EINVAL,
				       "no CA pin: give --ca-fingerprint sha256:... (from 'wfmd fingerprint'), an enrollment token (--enrollment-token-file) whose CA MAC authenticates the WFM, or, to trust whatever the server presents, --trust-on-first-use");
	url = certificate_url(o, err);
	if (url == NULL)
		return err != NULL ? err->code : MARGO_ENOMEM;
	/* The only unverified request: its answer is checked against the pin or MAC below. */
	rc = fetch_ca(&insecure, url, &ca, mac, err);
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
	} else if (!o->tofu && o->enrollment_token != NULL) {
		rc = check_ca_mac(o, ca, mac, fingerprint, err);
		if (rc != 0)
			goto out;
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
	rc = fetch_ca(&pinned, url, &again, NULL, &e);
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
