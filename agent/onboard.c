#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "agent.h"
#include "clock.h"
#include "device_api.h"
#include "identity.h"
#include "margo/base64.h"
#include "margo/cert.h"
#include "margo/httpsig.h"
#include "margo/log.h"
#include "margo/timeutil.h"
#include "margo/token.h"
#include "oauth.h"
#include "onboard.h"
#include "probe.h"
#include "schedule.h"
#include "trust.h"

#define ONBOARD_ROUTE "/onboarding/"
#define DEFAULT_RETRY_S 30
#define POLL_RETRY_MAX_S 300

/* What one exchange with the onboarding API ended in. */
enum outcome {
	OUT_APPROVED,  /* resp_doc holds the OnboardingResponse */
	OUT_PENDING,   /* a->st.pending_* set */
	OUT_EXPIRED,   /* the pending request is unknown or expired */
	OUT_ERROR,     /* exit code in *code, reason in err */
};

struct sig_ctx {
	const char *method;
	const char *uri;
	const char *digest;
};

static const char *sig_resolve(void *ctx, const char *name)
{
	const struct sig_ctx *c = ctx;

	if (strcmp(name, "@method") == 0)
		return c->method;
	if (strcmp(name, "@target-uri") == 0)
		return c->uri;
	if (strcmp(name, "content-digest") == 0)
		return c->digest;
	return NULL;
}

static int stopped(const struct agent_onboard_options *o)
{
	return o->stop != NULL && *o->stop;
}

/* Sleeps up to seconds, waking early when stopped. */
static void nap(const struct agent_onboard_options *o, long seconds)
{
	for (long i = 0; i < seconds && !stopped(o); i++) {
		struct timespec ts = { 1, 0 };

		nanosleep(&ts, NULL);
	}
}

static char *summary_of(const struct margo_http_response *resp)
{
	char *s = margo_http_problem_summary(resp);

	return s != NULL ? s : strdup("unexpected answer");
}

/* Builds the OnboardingRequest body (holds the enrollment token: wipe it). */
static char *request_body(const struct agent *a, const struct agent_onboard_options *o,
			  X509 *cert, struct margo_error *err)
{
	struct agent_probe_options po;
	char *pem = NULL, *b64 = NULL, *vendor = NULL, *model = NULL, *serial = NULL, *text = NULL;
	json_t *doc = NULL;

	agent_probe_options_from_config(&po, a->cfg);
	agent_probe_options_from_state(&po, a->st.vendor, a->st.model_number, a->st.serial_number);
	if (agent_probe_identity(&po, &vendor, &model, &serial, err) != 0)
		goto out;
	pem = margo_cert_to_pem(cert);
	b64 = pem != NULL ? margo_base64_encode(pem, strlen(pem), MARGO_BASE64_STD) : NULL;
	if (b64 != NULL)
		doc = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s}}",
				"apiVersion", "onboarding.margo.org/v1alpha1",
				"kind", "OnboardingRequest", "certificate", b64, "device",
				"vendor", vendor, "modelNumber", model, "serialNumber", serial);
	if (doc != NULL && o->enrollment_token != NULL &&
	    json_object_set_new(doc, "enrollmentToken", json_string(o->enrollment_token)) != 0) {
		json_decref(doc);
		doc = NULL;
	}
	if (doc != NULL)
		text = json_dumps(doc, JSON_COMPACT);
	if (text == NULL)
		margo_error_set(err, MARGO_ENOMEM, "cannot build the onboarding request");
out:
	json_decref(doc);
	free(pem);
	free(b64);
	free(vendor);
	free(model);
	free(serial);
	return text;
}

static long retry_of(const struct margo_http_response *resp, json_t *doc)
{
	json_t *v = json_object_get(doc, "retryAfterSeconds");

	if (resp->retry_after > 0)
		return resp->retry_after;
	if (json_is_integer(v) && json_integer_value(v) > 0)
		return (long)json_integer_value(v);
	return DEFAULT_RETRY_S;
}

/* Records a 202 answer in the state and saves it (so a later `onboard` resumes). */
static int record_pending(struct agent *a, json_t *doc, struct margo_error *err)
{
	json_t *id = json_object_get(doc, "requestId"), *poll = json_object_get(doc, "pollToken");

	if (!json_is_string(id) || !json_is_string(poll) ||
	    strchr(json_string_value(id), '/') != NULL || json_string_length(id) == 0)
		return margo_error_set(err, MARGO_EPROTO, "202 answer without requestId/pollToken");
	if (agent_state_set(&a->st.pending_request_id, json_string_value(id)) != 0 ||
	    agent_state_set(&a->st.pending_poll_token, json_string_value(poll)) != 0)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	a->st.pending_since = margo_time_now();
	return agent_save(a, err);
}

static void clear_pending(struct agent *a)
{
	agent_state_set(&a->st.pending_request_id, NULL);
	agent_state_set(&a->st.pending_poll_token, NULL);
	a->st.pending_since = 0;
}

static enum outcome send_request(struct agent *a, const struct agent_onboard_options *o,
				 EVP_PKEY *key, X509 *cert, json_t **resp_doc, int *code,
				 struct margo_error *err)
{
	static const char *const components[] = { "@method", "@target-uri", "content-digest" };
	struct margo_http_response resp = { 0 };
	struct margo_http_header headers[5];
	char keyid[MARGO_KEYID_LEN], *url = agent_url(a, ONBOARD_ROUTE), *body = NULL;
	char *digest = NULL, *sig_input = NULL, *sig = NULL, *summary = NULL;
	char skew[MARGO_ERROR_MSG_MAX];
	enum outcome res = OUT_ERROR;
	struct sig_ctx sc;
	json_t *doc = NULL;

	*code = AGENT_EXIT_FAILURE;
	body = request_body(a, o, cert, err);
	if (url == NULL || body == NULL)
		goto out;
	digest = margo_content_digest(body, strlen(body));
	if (digest == NULL || margo_cert_keyid(cert, keyid) != 0) {
		margo_error_set(err, MARGO_ENOMEM, "cannot digest the onboarding request");
		goto out;
	}
	sc = (struct sig_ctx){ "POST", url, digest };
	if (margo_httpsig_sign(key, "sig1", components, 3, sig_resolve, &sc, margo_time_now(),
			       keyid, MARGO_HTTPSIG_ECDSA_P256_SHA256, &sig_input, &sig, err) != 0)
		goto out;
	headers[0] = (struct margo_http_header){ "Content-Type", "application/json" };
	headers[1] = (struct margo_http_header){ "Accept", "application/json" };
	headers[2] = (struct margo_http_header){ "Content-Digest", digest };
	headers[3] = (struct margo_http_header){ "Signature-Input", sig_input };
	headers[4] = (struct margo_http_header){ "Signature", sig };
	if (agent_https_request(a->http, "POST", url, headers, 5, body, strlen(body), &resp, err) != 0)
		goto out;
	doc = json_loadb(resp.body, resp.body_len, 0, NULL);
	a->clock_offset = agent_clock_offset(&resp, margo_time_now());
	switch (resp.status) {
	case 200:
	case 201:
		*resp_doc = doc;
		doc = NULL;
		res = OUT_APPROVED;
		break;
	case 202:
		if (record_pending(a, doc, err) != 0)
			break;
		a->retry_after = retry_of(&resp, doc);
		res = OUT_PENDING;
		break;
	case 401:
		if (agent_clock_explain(&resp, skew, sizeof(skew))) {
			*code = AGENT_EXIT_REFUSED;
			margo_error_set(err, MARGO_EAUTH, "%s", skew);
			break;
		}
		/* fall through */
	case 403:
		summary = summary_of(&resp);
		*code = AGENT_EXIT_REFUSED;
		margo_error_set(err, resp.status == 401 ? MARGO_EAUTH : MARGO_EFORBIDDEN,
				"onboarding %s by the WFM: %s",
				resp.status == 401 ? "not authorised" : "rejected", summary);
		break;
	case 409:
		summary = summary_of(&resp);
		*code = AGENT_EXIT_REFUSED;
		margo_error_set(err, MARGO_ECONFLICT,
				"the WFM already knows this device and wants a fresh authorisation (enrollment token or operator pre-registration): %s",
				summary);
		break;
	case 429:
		summary = summary_of(&resp);
		margo_error_set(err, MARGO_ELIMIT, "the WFM is busy (%s); try again in %ld s",
				summary, resp.retry_after > 0 ? resp.retry_after : DEFAULT_RETRY_S);
		break;
	default:
		summary = summary_of(&resp);
		margo_error_set(err, MARGO_EPROTO, "onboarding request failed: %s", summary);
	}
out:
	if (body != NULL)
		OPENSSL_cleanse(body, strlen(body));
	free(body);
	free(url);
	free(digest);
	free(sig_input);
	free(sig);
	free(summary);
	json_decref(doc);
	margo_http_response_free(&resp);
	return res;
}

/* Polls the pending request until decided, expired, timed out or stopped. */
static enum outcome wait_pending(struct agent *a, const struct agent_onboard_options *o,
				 int64_t deadline, long first_delay, json_t **resp_doc, int *code,
				 struct margo_error *err)
{
	long delay = first_delay;
	unsigned failures = 0;

	*code = AGENT_EXIT_FAILURE;
	for (;;) {
		struct margo_http_response resp = { 0 };
		struct margo_http_header headers[2];
		char *path = NULL, *url = NULL, *auth = NULL, *summary = NULL;
		struct margo_error e;
		json_t *doc = NULL;
		int64_t now = margo_time_now();
		enum outcome res = OUT_PENDING;
		int rc;

		if (delay > 0) {
			if (deadline > 0 && now + delay > deadline)
				delay = deadline > now ? (long)(deadline - now) : 0;
			nap(o, delay);
		}
		if (stopped(o)) {
			*code = AGENT_EXIT_TIMEOUT;
			margo_error_set(err, MARGO_EEXPIRED,
					"interrupted while request %s waits for approval; run 'margo-agent onboard' again to resume",
					a->st.pending_request_id);
			return OUT_ERROR;
		}
		if (asprintf(&path, "/onboarding/requests/%s", a->st.pending_request_id) < 0 ||
		    (url = agent_url(a, path)) == NULL ||
		    asprintf(&auth, "Bearer %s", a->st.pending_poll_token) < 0) {
			free(path);
			free(url);
			margo_error_set(err, MARGO_ENOMEM, "out of memory");
			return OUT_ERROR;
		}
		headers[0] = (struct margo_http_header){ "Authorization", auth };
		headers[1] = (struct margo_http_header){ "Accept", "application/json" };
		rc = agent_https_request(a->http, "GET", url, headers, 2, NULL, 0, &resp, &e);
		margo_secret_free(auth);
		free(path);
		free(url);
		if (rc == 0) {
			doc = json_loadb(resp.body, resp.body_len, 0, NULL);
			a->clock_offset = agent_clock_offset(&resp, margo_time_now());
		}
		if (rc != 0 || resp.status >= 500 || resp.status == 429) {
			failures++;
			delay = (long)agent_backoff_delay(failures, AGENT_BACKOFF_BASE, POLL_RETRY_MAX_S,
							  rc == 0 ? resp.retry_after : -1,
							  (uint32_t)random());
			summary = rc == 0 ? summary_of(&resp) : strdup(e.message);
			fprintf(stderr, "cannot check request %s (%s), next check in %ld s\n",
				a->st.pending_request_id, summary != NULL ? summary : "?", delay);
		} else if (resp.status == 200 || resp.status == 201) {
			*resp_doc = doc;
			doc = NULL;
			res = OUT_APPROVED;
		} else if (resp.status == 202) {
			failures = 0;
			delay = retry_of(&resp, doc);
		} else if (resp.status == 403) {
			summary = summary_of(&resp);
			*code = AGENT_EXIT_REFUSED;
			margo_error_set(err, MARGO_EFORBIDDEN,
					"onboarding request %s was rejected by the operator (%s)",
					a->st.pending_request_id, summary);
			clear_pending(a);
			(void)agent_save(a, &e);
			res = OUT_ERROR;
		} else if (resp.status == 404 || resp.status == 410) {
			res = OUT_EXPIRED;
		} else {
			summary = summary_of(&resp);
			margo_error_set(err, MARGO_EPROTO, "checking request %s: %s",
					a->st.pending_request_id, summary);
			res = OUT_ERROR;
		}
		free(summary);
		json_decref(doc);
		margo_http_response_free(&resp);
		if (res != OUT_PENDING)
			return res;
		now = margo_time_now();
		if (deadline > 0 && now >= deadline) {
			*code = AGENT_EXIT_TIMEOUT;
			margo_error_set(err, MARGO_EEXPIRED,
					"request %s still waits for operator approval; run 'margo-agent onboard' again to resume",
					a->st.pending_request_id);
			return OUT_ERROR;
		}
		if (failures == 0)
			fprintf(stderr, "waiting for operator approval (request %s), next check in %ld s\n",
				a->st.pending_request_id,
				deadline > 0 && now + delay > deadline ? (long)(deadline - now) : delay);
	}
}

/* Takes the OnboardingResponse into the state. */
static int apply_response(struct agent *a, json_t *doc, struct margo_error *err)
{
	static const struct {
		const char *name;
		size_t off;
		int required;
	} fields[] = {
		{ "clientId", offsetof(struct agent_state, client_id), 1 },
		{ "clientSecret", offsetof(struct agent_state, client_secret), 1 },
		{ "tokenEndpointUrl", offsetof(struct agent_state, token_endpoint), 1 },
		{ "deviceId", offsetof(struct agent_state, device_id), 0 },
		{ "gitRepositoryUrl", offsetof(struct agent_state, git_repository_url), 0 },
		{ "gitBranch", offsetof(struct agent_state, git_branch), 0 },
		{ "gitUsername", offsetof(struct agent_state, git_username), 0 },
		{ "gitAccessToken", offsetof(struct agent_state, git_access_token), 0 },
		{ "gitCredentialsUrl", offsetof(struct agent_state, git_credentials_url), 0 },
	};
	json_t *v;

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		v = json_object_get(doc, fields[i].name);
		if (fields[i].required && (!json_is_string(v) || json_string_length(v) == 0))
			return margo_error_set(err, MARGO_EPROTO,
					       "onboarding answer without %s", fields[i].name);
	}
	v = json_object_get(doc, "tokenEndpointUrl");
	if (strncmp(json_string_value(v), "https://", 8) != 0)
		return margo_error_set(err, MARGO_EPROTO, "tokenEndpointUrl is not https");
	agent_state_clear_onboarding(&a->st);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		v = json_object_get(doc, fields[i].name);
		if (json_is_string(v) &&
		    agent_state_set((char **)((char *)&a->st + fields[i].off), json_string_value(v)) != 0)
			return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	}
	if (a->st.device_id == NULL && agent_state_set(&a->st.device_id, a->st.client_id) != 0)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	v = json_object_get(doc, "gitAccessTokenExpiresAt");
	/* the WFM's time, in this device's clock (which may be wrong) */
	if (json_is_string(v) &&
	    margo_time_parse(json_string_value(v), &a->st.git_access_token_expires_at) == 0)
		a->st.git_access_token_expires_at -= a->clock_offset;
	a->st.onboarded_at = margo_time_now();
	a->st.git_access_token_issued_at = a->st.onboarded_at;
	a->st.last_contact = a->st.onboarded_at;
	return MARGO_OK;
}

/* Trust: reuse a CA stored by an earlier, unfinished onboarding with the same URL, or
 * establish it now. Nothing is written before the pin matched. */
static int ensure_trust(struct agent *a, const struct agent_onboard_options *o, int *code,
			struct margo_error *err)
{
	struct agent_trust_options to = {
		.url = a->cfg->url, .pin = a->cfg->ca_fingerprint, .tofu = o->tofu,
		.proxy = a->cfg->https_proxy, .enrollment_token = o->enrollment_token,
	};
	char fp[MARGO_FINGERPRINT_LEN];
	struct margo_error e;
	size_t len;
	X509 *ca = NULL;
	int rc;

	*code = AGENT_EXIT_FAILURE;
	if (a->st.url != NULL && strcmp(a->st.url, a->cfg->url) == 0 &&
	    agent_state_read_file(a->state_dir, AGENT_CA_FILE, &a->ca_pem, &len, &e) == 0) {
		rc = margo_cert_from_pem(a->ca_pem, len, &ca, err);
		if (rc == 0 && a->cfg->ca_fingerprint != NULL) {
			rc = margo_cert_pin_check(ca, a->cfg->ca_fingerprint, err);
			if (rc != 0) {
				*code = AGENT_EXIT_TRUST;
				margo_error_set(err, rc, "the CA stored in %s does not match the pin %s",
						a->state_dir, a->cfg->ca_fingerprint);
			}
		}
		X509_free(ca);
		return rc;
	}
	/* a request pending at another WFM means nothing here */
	clear_pending(a);
	rc = agent_trust_establish(&to, &a->ca_pem, fp, err);
	if (rc == MARGO_EAUTH || rc == MARGO_EINVAL)
		*code = rc == MARGO_EINVAL && a->cfg->ca_fingerprint == NULL && !o->tofu &&
			o->enrollment_token == NULL ? AGENT_EXIT_USAGE : AGENT_EXIT_TRUST;
	if (rc != 0)
		return rc;
	rc = agent_state_dir_prepare(a->state_dir, err);
	if (rc == 0)
		rc = agent_state_write_file(a->state_dir, AGENT_CA_FILE, a->ca_pem,
					    strlen(a->ca_pem), err);
	if (rc == 0 && (agent_state_set(&a->st.url, a->cfg->url) != 0 ||
			agent_state_set(&a->st.ca_fingerprint, fp) != 0))
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
	return rc;
}

int agent_onboard(const struct agent_config *cfg, const struct agent_onboard_options *o,
		  struct margo_error *err)
{
	struct agent a;
	struct margo_error e;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	json_t *resp_doc = NULL;
	char *vendor = NULL, *model = NULL, *serial = NULL;
	int64_t deadline = o->wait_s > 0 ? margo_time_now() + o->wait_s : 0;
	int code = AGENT_EXIT_FAILURE, resent = 0, sent = 0, rc;
	enum outcome res;

	memset(&a, 0, sizeof(a));
	a.cfg = cfg;
	a.state_dir = cfg->state_dir;
	a.retry_after = -1;
	a.lock_fd = -1;
	/* the lock needs the directory; it is created early only when it already exists, so that a
	 * refused pin still writes nothing */
	if (access(a.state_dir, F_OK) == 0 && agent_state_lock(a.state_dir, &a.lock_fd, err) != 0)
		goto out;
	agent_state_cleanup(a.state_dir);
	rc = agent_state_load(a.state_dir, &a.st, &e);
	if (rc != 0 && rc != MARGO_ENOTFOUND) {
		margo_error_set(err, rc, "%s", e.message);
		goto out;
	}
	if (a.st.client_id != NULL) {
		if (cfg->url != NULL && a.st.url != NULL && strcmp(cfg->url, a.st.url) != 0) {
			code = AGENT_EXIT_USAGE;
			margo_error_set(err, MARGO_ECONFLICT,
					"already onboarded with %s; to onboard with another WFM use another --state-dir",
					a.st.url);
			goto out;
		}
		printf("already onboarded: client id %s, WFM %s\n", a.st.client_id, a.st.url);
		code = AGENT_EXIT_OK;
		goto out;
	}
	if (cfg->url == NULL) {
		code = AGENT_EXIT_USAGE;
		margo_error_set(err, MARGO_EINVAL, "no WFM URL: give --url or set url in the config file");
		goto out;
	}
	if (ensure_trust(&a, o, &code, err) != 0)
		goto out;
	if (a.lock_fd < 0 && agent_state_lock(a.state_dir, &a.lock_fd, err) != 0)
		goto out;
	/* --vendor/--model/--serial are kept in the state: they describe this device for good */
	if ((o->vendor != NULL && agent_state_set(&a.st.vendor, o->vendor) != 0) ||
	    (o->model_number != NULL && agent_state_set(&a.st.model_number, o->model_number) != 0) ||
	    (o->serial_number != NULL && agent_state_set(&a.st.serial_number, o->serial_number) != 0)) {
		margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	code = AGENT_EXIT_FAILURE;
	if (agent_http_init(&a, err) != 0)
		goto out;
	{
		struct agent_probe_options po;

		agent_probe_options_from_config(&po, cfg);
		agent_probe_options_from_state(&po, a.st.vendor, a.st.model_number, a.st.serial_number);
		if (agent_probe_identity(&po, &vendor, &model, &serial, err) != 0)
			goto out;
	}
	if (agent_identity_ensure(a.state_dir, o->key_path, o->cert_path, serial, &key, &cert,
				  err) != 0)
		goto out;
	if (agent_save(&a, err) != 0)
		goto out;

	res = a.st.pending_request_id != NULL ? OUT_PENDING : OUT_EXPIRED;
	if (res == OUT_PENDING)
		fprintf(stderr, "resuming onboarding request %s\n", a.st.pending_request_id);
	for (;;) {
		if (res == OUT_EXPIRED) {
			if (resent++ > 0) {
				margo_error_set(err, MARGO_EEXPIRED,
						"the onboarding request expired twice; run onboard again");
				break;
			}
			clear_pending(&a);
			res = send_request(&a, o, key, cert, &resp_doc, &code, err);
			if (res == OUT_PENDING) {
				fprintf(stderr, "onboarding request %s waits for operator approval\n",
					a.st.pending_request_id);
				res = wait_pending(&a, o, deadline, a.retry_after, &resp_doc, &code, err);
			}
		} else if (res == OUT_PENDING) {
			res = wait_pending(&a, o, deadline, 0, &resp_doc, &code, err);
			if (res == OUT_EXPIRED)
				fprintf(stderr, "onboarding request %s expired; sending a new one\n",
					a.st.pending_request_id);
		}
		if (res == OUT_APPROVED || res == OUT_ERROR)
			break;
	}
	if (res != OUT_APPROVED)
		goto out;
	code = AGENT_EXIT_FAILURE;
	if (apply_response(&a, resp_doc, err) != 0 || agent_save(&a, err) != 0)
		goto out;
	printf("onboarded: client id %s, WFM %s\n", a.st.client_id, a.st.url);
	margo_log_info("onboarded", "client_id=%s url=%s", a.st.client_id, a.st.url);
	code = AGENT_EXIT_OK;
	/* First token and capability report; when they fail, `run` retries them. */
	if (agent_oauth_ensure(&a, 0, &e) != 0 || agent_capabilities_sync(&a, &sent, &e) != 0)
		fprintf(stderr, "warning: onboarded, but the first capability report failed (%s); 'margo-agent run' retries it\n",
			e.message);
	if (agent_save(&a, &e) != 0)
		fprintf(stderr, "warning: cannot save the state: %s\n", e.message);
out:
	json_decref(resp_doc);
	EVP_PKEY_free(key);
	X509_free(cert);
	free(vendor);
	free(model);
	free(serial);
	agent_close(&a);
	return code;
}
