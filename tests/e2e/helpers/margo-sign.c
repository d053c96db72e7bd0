/* margo-sign: signs an onboarding request the way API.md section 2 asks (RFC 9421 HTTP Message
 * Signature + RFC 9530 Content-Digest), for curl and the end-to-end scenarios. It can also
 * produce every fault the server must refuse, and print a certificate in each encoding the
 * onboarding and admin APIs accept. Output is header lines for `curl -H @file`. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "margo/base64.h"
#include "margo/cert.h"
#include "margo/error.h"
#include "margo/file.h"
#include "margo/httpsig.h"
#include "margo/token.h"

#define MAX_FILE (1024 * 1024)
#define MAX_COMPONENTS 16

static const char usage_text[] =
"Usage: margo-sign --key KEY.pem --url URL --body FILE [options]\n"
"       margo-sign --cert-field CERT.pem [--form pem|b64pem|b64der|b64url|b64pemurl] [--json]\n"
"\n"
"Signs an HTTP request as margo-fleet onboarding requires: an RFC 9421 signature over\n"
"\"@method\" \"@target-uri\" \"content-digest\" with created and keyid parameters, and an\n"
"RFC 9530 Content-Digest (sha-256) of the body. Prints the header lines\n"
"  Content-Digest: sha-256=:...:\n"
"  Signature-Input: sig1=(\"@method\" \"@target-uri\" \"content-digest\");created=...;keyid=\"...\"\n"
"  Signature: sig1=:...:\n"
"for `curl -H @file`. The key never leaves the process; the body is read from a file.\n"
"\n"
"Signing options:\n"
"  --key KEY.pem         private key (PEM: PKCS#8, EC or RSA) that signs\n"
"  --url URL             the full request URL, i.e. @target-uri (e.g. https://127.0.0.1:8443/onboarding/)\n"
"  --body FILE           the exact request body\n"
"  --method M            request method (default POST)\n"
"  --label L             signature label (default sig1)\n"
"  --alg NAME            add alg=NAME and sign with it: ecdsa-p256-sha256, ecdsa-p384-sha384,\n"
"                        rsa-v1_5-sha256, rsa-pss-sha512 (default: no alg parameter; the\n"
"                        algorithm follows from the key)\n"
"  --keyid HEX           keyid parameter (default: lowercase hex SHA-256 of the signing key's\n"
"                        DER SubjectPublicKeyInfo)\n"
"  --cert CERT.pem       take the default keyid from this certificate's key instead\n"
"  --no-keyid            omit the keyid parameter\n"
"  --components LIST     covered components, space separated (default\n"
"                        \"@method @target-uri content-digest\"); understood: @method,\n"
"                        @target-uri, @authority, @scheme, @path, @query, @request-target,\n"
"                        content-digest, content-type\n"
"  --content-type CT     value of content-type when it is a covered component\n"
"                        (default application/json)\n"
"Faults (for tests of the server's refusals):\n"
"  --created-offset S    created = now + S seconds (e.g. -600 for a stale signature)\n"
"  --created T           created = T (Unix time)\n"
"  --no-digest           sign as usual but print no Content-Digest line\n"
"  --bad-digest          Content-Digest (signed) of a different body\n"
"  --digest VALUE        this Content-Digest value, signed as given\n"
"  --no-signature        print only the Content-Digest line\n"
"\n"
"Certificate field mode:\n"
"  --cert-field CERT.pem prints the certificate in a form API.md accepts:\n"
"  --form pem            the PEM text itself\n"
"  --form b64pem         standard base64 of the PEM text (default)\n"
"  --form b64der         standard base64 of the DER certificate\n"
"  --form b64url         URL-safe base64 of the DER certificate, unpadded\n"
"  --form b64pemurl      URL-safe base64 of the PEM text, unpadded\n"
"  --json                print it as a JSON string literal (quotes, escapes, no newline)\n"
"\n"
"  --help, --version\n"
"Exit status 0 on success, 1 on failure (one line on stderr), 2 on usage errors.\n";

struct message {
	const char *method;
	const char *target_uri;
	char scheme[16];
	char authority[256];
	char path[2048];
	char query[2048];
	char request_target[4096];
	const char *content_digest;
	const char *content_type;
};

static int die(const char *what, const char *detail)
{
	fprintf(stderr, "margo-sign: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	return 1;
}

/* Splits an absolute http(s) URL into the derived components of RFC 9421 section 2.2. */
static int message_parse_url(struct message *m, const char *url)
{
	const char *p = strstr(url, "://"), *auth, *slash, *q;
	size_t n;

	if (p == NULL || (size_t)(p - url) >= sizeof(m->scheme))
		return -1;
	memcpy(m->scheme, url, (size_t)(p - url));
	m->scheme[p - url] = '\0';
	auth = p + 3;
	slash = auth + strcspn(auth, "/?#");
	n = (size_t)(slash - auth);
	if (n == 0 || n >= sizeof(m->authority))
		return -1;
	memcpy(m->authority, auth, n);
	m->authority[n] = '\0';
	for (n = 0; m->authority[n] != '\0'; n++)
		if (m->authority[n] >= 'A' && m->authority[n] <= 'Z')
			m->authority[n] = (char)(m->authority[n] - 'A' + 'a');
	if (*slash == '/') {
		n = strcspn(slash, "?#");
		if (n >= sizeof(m->path))
			return -1;
		memcpy(m->path, slash, n);
		m->path[n] = '\0';
	} else {
		strcpy(m->path, "/");
	}
	q = strchr(slash, '?');
	if (q != NULL) {
		n = strcspn(q, "#");
		if (n >= sizeof(m->query))
			return -1;
		memcpy(m->query, q, n);
		m->query[n] = '\0';
	} else {
		strcpy(m->query, "?");
	}
	if (snprintf(m->request_target, sizeof(m->request_target), "%s%s", m->path,
		     strcmp(m->query, "?") == 0 ? "" : m->query) >= (int)sizeof(m->request_target))
		return -1;
	m->target_uri = url;
	return 0;
}

static const char *message_resolve(void *ctx, const char *name)
{
	struct message *m = ctx;

	if (strcmp(name, "@method") == 0)
		return m->method;
	if (strcmp(name, "@target-uri") == 0)
		return m->target_uri;
	if (strcmp(name, "@authority") == 0)
		return m->authority;
	if (strcmp(name, "@scheme") == 0)
		return m->scheme;
	if (strcmp(name, "@path") == 0)
		return m->path;
	if (strcmp(name, "@query") == 0)
		return m->query;
	if (strcmp(name, "@request-target") == 0)
		return m->request_target;
	if (strcmp(name, "content-digest") == 0)
		return m->content_digest;
	if (strcmp(name, "content-type") == 0)
		return m->content_type;
	return NULL;
}

static int print_cert_field(const char *path, const char *form, int as_json)
{
	struct margo_error err;
	char *pem_in = NULL, *pem = NULL, *out = NULL;
	unsigned char *der = NULL;
	size_t len;
	X509 *cert = NULL;
	int der_len, rc = 1;

	if (margo_file_read(path, MAX_FILE, &pem_in, &len, &err) != 0) {
		rc = die(path, err.message);
		goto out;
	}
	if (margo_cert_from_pem(pem_in, len, &cert, &err) != 0) {
		rc = die(path, err.message);
		goto out;
	}
	pem = margo_cert_to_pem(cert);
	der_len = i2d_X509(cert, &der);
	if (pem == NULL || der_len <= 0) {
		rc = die(path, "cannot encode certificate");
		goto out;
	}
	if (strcmp(form, "pem") == 0)
		out = strdup(pem);
	else if (strcmp(form, "b64pem") == 0)
		out = margo_base64_encode(pem, strlen(pem), MARGO_BASE64_STD);
	else if (strcmp(form, "b64der") == 0)
		out = margo_base64_encode(der, (size_t)der_len, MARGO_BASE64_STD);
	else if (strcmp(form, "b64url") == 0)
		out = margo_base64_encode(der, (size_t)der_len, MARGO_BASE64_URL | MARGO_BASE64_NOPAD);
	else if (strcmp(form, "b64pemurl") == 0)
		out = margo_base64_encode(pem, strlen(pem), MARGO_BASE64_URL | MARGO_BASE64_NOPAD);
	else {
		fprintf(stderr, "margo-sign: unknown --form %s (pem, b64pem, b64der, b64url, "
			"b64pemurl)\n", form);
		rc = 2;
		goto out;
	}
	if (out == NULL) {
		rc = die("out of memory", NULL);
		goto out;
	}
	if (as_json) {
		json_t *s = json_string(out);
		char *text = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;

		json_decref(s);
		if (text == NULL) {
			rc = die("cannot encode JSON string", NULL);
			goto out;
		}
		fputs(text, stdout);
		free(text);
	} else {
		fputs(out, stdout);
		if (out[0] != '\0' && out[strlen(out) - 1] != '\n')
			putchar('\n');
	}
	rc = fflush(stdout) == 0 ? 0 : die("write error", strerror(errno));
out:
	free(out);
	free(pem);
	free(pem_in);
	OPENSSL_free(der);
	X509_free(cert);
	return rc;
}

/* Splits a space-separated component list into names (pointers into buf). */
static int split_components(char *buf, const char **names, size_t *n)
{
	char *save = NULL, *tok;

	*n = 0;
	for (tok = strtok_r(buf, " \t,", &save); tok != NULL; tok = strtok_r(NULL, " \t,", &save)) {
		size_t l = strlen(tok);

		if (l >= 2 && tok[0] == '"' && tok[l - 1] == '"') {
			tok[l - 1] = '\0';
			tok++;
		}
		if (*n == MAX_COMPONENTS)
			return -1;
		names[(*n)++] = tok;
	}
	return *n > 0 ? 0 : -1;
}

static int parse_int64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

enum {
	OPT_KEY = 256, OPT_URL, OPT_BODY, OPT_METHOD, OPT_LABEL, OPT_ALG, OPT_KEYID, OPT_CERT,
	OPT_NO_KEYID, OPT_COMPONENTS, OPT_CONTENT_TYPE, OPT_CREATED_OFFSET, OPT_CREATED,
	OPT_NO_DIGEST, OPT_BAD_DIGEST, OPT_DIGEST, OPT_NO_SIGNATURE, OPT_CERT_FIELD, OPT_FORM,
	OPT_JSON, OPT_HELP, OPT_VERSION,
};

static const struct option long_options[] = {
	{"key", required_argument, NULL, OPT_KEY},
	{"url", required_argument, NULL, OPT_URL},
	{"body", required_argument, NULL, OPT_BODY},
	{"method", required_argument, NULL, OPT_METHOD},
	{"label", required_argument, NULL, OPT_LABEL},
	{"alg", required_argument, NULL, OPT_ALG},
	{"keyid", required_argument, NULL, OPT_KEYID},
	{"cert", required_argument, NULL, OPT_CERT},
	{"no-keyid", no_argument, NULL, OPT_NO_KEYID},
	{"components", required_argument, NULL, OPT_COMPONENTS},
	{"content-type", required_argument, NULL, OPT_CONTENT_TYPE},
	{"created-offset", required_argument, NULL, OPT_CREATED_OFFSET},
	{"created", required_argument, NULL, OPT_CREATED},
	{"no-digest", no_argument, NULL, OPT_NO_DIGEST},
	{"bad-digest", no_argument, NULL, OPT_BAD_DIGEST},
	{"digest", required_argument, NULL, OPT_DIGEST},
	{"no-signature", no_argument, NULL, OPT_NO_SIGNATURE},
	{"cert-field", required_argument, NULL, OPT_CERT_FIELD},
	{"form", required_argument, NULL, OPT_FORM},
	{"json", no_argument, NULL, OPT_JSON},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

int main(int argc, char **argv)
{
	const char *key_path = NULL, *url = NULL, *body_path = NULL, *label = "sig1";
	const char *alg_name = NULL, *keyid_arg = NULL, *cert_path = NULL, *digest_arg = NULL;
	const char *cert_field = NULL, *form = "b64pem";
	char components_buf[512] = "@method @target-uri content-digest";
	const char *components[MAX_COMPONENTS];
	size_t ncomponents = 0;
	int no_keyid = 0, no_digest = 0, bad_digest = 0, no_signature = 0, as_json = 0;
	int64_t created_offset = 0, created_abs = -1, created;
	struct message msg = {.method = "POST", .content_type = "application/json"};
	struct margo_error err;
	enum margo_httpsig_alg alg = MARGO_HTTPSIG_ALG_NONE;
	char keyid[MARGO_KEYID_LEN];
	char *key_pem = NULL, *body = NULL, *digest = NULL, *sig_input = NULL, *sig = NULL;
	char *cert_pem = NULL;
	size_t key_len = 0, body_len = 0, cert_len = 0;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int opt, rc = 1;

	while ((opt = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		switch (opt) {
		case OPT_KEY: key_path = optarg; break;
		case OPT_URL: url = optarg; break;
		case OPT_BODY: body_path = optarg; break;
		case OPT_METHOD: msg.method = optarg; break;
		case OPT_LABEL: label = optarg; break;
		case OPT_ALG: alg_name = optarg; break;
		case OPT_KEYID: keyid_arg = optarg; break;
		case OPT_CERT: cert_path = optarg; break;
		case OPT_NO_KEYID: no_keyid = 1; break;
		case OPT_COMPONENTS:
			if (strlen(optarg) >= sizeof(components_buf))
				return die("--components too long", NULL) + 1;
			strcpy(components_buf, optarg);
			break;
		case OPT_CONTENT_TYPE: msg.content_type = optarg; break;
		case OPT_CREATED_OFFSET:
			if (parse_int64(optarg, &created_offset) != 0)
				return die("bad --created-offset", optarg) + 1;
			break;
		case OPT_CREATED:
			if (parse_int64(optarg, &created_abs) != 0)
				return die("bad --created", optarg) + 1;
			break;
		case OPT_NO_DIGEST: no_digest = 1; break;
		case OPT_BAD_DIGEST: bad_digest = 1; break;
		case OPT_DIGEST: digest_arg = optarg; break;
		case OPT_NO_SIGNATURE: no_signature = 1; break;
		case OPT_CERT_FIELD: cert_field = optarg; break;
		case OPT_FORM: form = optarg; break;
		case OPT_JSON: as_json = 1; break;
		case OPT_HELP:
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case OPT_VERSION:
			printf("margo-sign %s\n", MARGO_VERSION);
			return 0;
		default:
			fputs("Try 'margo-sign --help'.\n", stderr);
			return 2;
		}
	}
	if (optind != argc)
		return die("unexpected argument", argv[optind]) + 1;
	if (cert_field != NULL)
		return print_cert_field(cert_field, form, as_json);
	if (key_path == NULL || url == NULL || body_path == NULL) {
		fputs("margo-sign: --key, --url and --body are required (see --help)\n", stderr);
		return 2;
	}
	if (split_components(components_buf, components, &ncomponents) != 0)
		return die("bad --components list", NULL) + 1;
	if (alg_name != NULL) {
		alg = margo_httpsig_alg_from_name(alg_name);
		if (alg == MARGO_HTTPSIG_ALG_NONE)
			return die("unknown --alg", alg_name) + 1;
	}
	if (message_parse_url(&msg, url) != 0)
		return die("bad --url (want an absolute http(s) URL)", url) + 1;

	if (margo_file_read(key_path, MAX_FILE, &key_pem, &key_len, &err) != 0) {
		die(key_path, err.message);
		goto out;
	}
	if (margo_key_from_pem(key_pem, key_len, &key, &err) != 0) {
		die(key_path, err.message);
		goto out;
	}
	if (margo_file_read(body_path, 64 * MAX_FILE, &body, &body_len, &err) != 0) {
		die(body_path, err.message);
		goto out;
	}

	if (keyid_arg != NULL) {
		if (strlen(keyid_arg) >= sizeof(keyid)) {
			die("--keyid too long", NULL);
			goto out;
		}
		strcpy(keyid, keyid_arg);
	} else if (cert_path != NULL) {
		if (margo_file_read(cert_path, MAX_FILE, &cert_pem, &cert_len, &err) != 0 ||
		    margo_cert_from_pem(cert_pem, cert_len, &cert, &err) != 0) {
			die(cert_path, err.message);
			goto out;
		}
		if (margo_cert_keyid(cert, keyid) != 0) {
			die(cert_path, "cannot compute keyid");
			goto out;
		}
	} else if (margo_pubkey_keyid(key, keyid) != 0) {
		die(key_path, "cannot compute keyid");
		goto out;
	}

	if (digest_arg != NULL) {
		digest = strdup(digest_arg);
	} else if (bad_digest) {
		/* the digest of another body: same shape, wrong value */
		char *other = malloc(body_len + 9);

		if (other != NULL) {
			memcpy(other, body, body_len);
			memcpy(other + body_len, "tampered", 9);
			digest = margo_content_digest(other, body_len + 8);
			free(other);
		}
	} else {
		digest = margo_content_digest(body, body_len);
	}
	if (digest == NULL) {
		die("cannot compute Content-Digest", NULL);
		goto out;
	}
	msg.content_digest = digest;

	created = created_abs >= 0 ? created_abs : (int64_t)time(NULL) + created_offset;
	if (!no_signature &&
	    margo_httpsig_sign(key, label, components, ncomponents, message_resolve, &msg, created,
			       no_keyid ? NULL : keyid, alg, &sig_input, &sig, &err) != 0) {
		die("signing failed", err.message);
		goto out;
	}

	if (!no_digest)
		printf("Content-Digest: %s\n", digest);
	if (!no_signature) {
		printf("Signature-Input: %s\n", sig_input);
		printf("Signature: %s\n", sig);
	}
	if (fflush(stdout) != 0) {
		die("write error", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	margo_secret_free(key_pem);
	EVP_PKEY_free(key);
	X509_free(cert);
	free(cert_pem);
	free(body);
	free(digest);
	free(sig_input);
	free(sig);
	return rc;
}
