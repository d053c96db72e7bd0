#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "margo/base64.h"
#include "margo/file.h"
#include "margo/log.h"
#include "datadir.h"

#define PEM_MAX (64 * 1024)
#define TOKEN_FILE_MAX 1024
#define MAX_NAMES 64

static char *path_join(const char *dir, const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

/* Reads DIR/name; MARGO_ENOTFOUND when missing. */
static int read_file(const char *dir, const char *name, size_t max, char **data,
		     struct margo_error *err)
{
	char *path = path_join(dir, name);
	size_t len;
	int rc;

	if (path == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	rc = margo_file_read(path, max, data, &len, err);
	free(path);
	return rc;
}

static int write_file(const char *dir, const char *name, const char *data, mode_t mode,
		      struct margo_error *err)
{
	char *path = path_join(dir, name);
	int rc;

	if (path == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	rc = margo_file_write_atomic(path, data, strlen(data), mode, err);
	free(path);
	return rc;
}

static int file_exists(const char *dir, const char *name)
{
	char *path = path_join(dir, name);
	struct stat sb;
	int r;

	if (path == NULL)
		return 0;
	r = stat(path, &sb) == 0;
	free(path);
	return r;
}

static int is_ip(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* 1 when cert has a SAN covering name. */
static int cert_covers(X509 *cert, const char *name)
{
	if (is_ip(name))
		return X509_check_ip_asc(cert, name, 0) == 1;
	return X509_check_host(cert, name, strlen(name), X509_CHECK_FLAG_NO_WILDCARDS,
			       NULL) == 1;
}

static void names_add(char **names, size_t *n, const char *name)
{
	if (name == NULL || *name == '\0' || *n >= MAX_NAMES)
		return;
	for (size_t i = 0; i < *n; i++) {
		if (strcasecmp(names[i], name) == 0)
			return;
	}
	names[*n] = strdup(name);
	if (names[*n] != NULL)
		(*n)++;
}

/* The SANs already in cert, so a reissue keeps names given at earlier starts. */
static void names_from_cert(X509 *cert, char **names, size_t *n)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	char buf[64];

	if (gens == NULL)
		return;
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		int type;
		ASN1_STRING *s = GENERAL_NAME_get0_value(g, &type);
		const unsigned char *d;
		int len;

		if (s == NULL)
			continue;
		d = ASN1_STRING_get0_data(s);
		len = ASN1_STRING_length(s);
		if (type == GEN_DNS && len > 0 && len < (int)sizeof(buf) * 4) {
			char *t = strndup((const char *)d, (size_t)len);
			if (t != NULL) {
				names_add(names, n, t);
				free(t);
			}
		} else if (type == GEN_IPADD && (len == 4 || len == 16)) {
			if (inet_ntop(len == 4 ? AF_INET : AF_INET6, d, buf, sizeof(buf)) != NULL)
				names_add(names, n, buf);
		}
	}
	GENERAL_NAMES_free(gens);
}

static int ensure_ca(const char *dir, const char *host, X509 **ca, EVP_PKEY **ca_key,
		     char **ca_pem, int *created, struct margo_error *err)
{
	char *key_pem = NULL, *cn = NULL;
	int rc;

	*created = 0;
	if (file_exists(dir, "ca.crt")) {
		if ((rc = read_file(dir, "ca.crt", PEM_MAX, ca_pem, err)) < 0)
			goto out;
		if ((rc = margo_cert_from_pem(*ca_pem, strlen(*ca_pem), ca, err)) < 0)
			goto out;
		if ((rc = read_file(dir, "ca.key", PEM_MAX, &key_pem, err)) < 0)
			goto out;
		rc = margo_key_from_pem(key_pem, strlen(key_pem), ca_key, err);
		goto out;
	}
	if ((rc = margo_key_generate_p256(ca_key, err)) < 0)
		goto out;
	if (asprintf(&cn, "margo-fleet WFM root CA %s", host) < 0) {
		cn = NULL;
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = margo_cert_create_ca(*ca_key, cn, DATADIR_CA_DAYS, ca, err)) < 0)
		goto out;
	key_pem = margo_key_to_pem(*ca_key);
	*ca_pem = margo_cert_to_pem(*ca);
	if (key_pem == NULL || *ca_pem == NULL) {
		rc = margo_error_set(err, MARGO_ECRYPTO, "cannot encode the CA");
		goto out;
	}
	if ((rc = write_file(dir, "ca.key", key_pem, 0600, err)) < 0 ||
	    (rc = write_file(dir, "ca.crt", *ca_pem, 0644, err)) < 0)
		goto out;
	*created = 1;
	margo_log_info("created root CA", "cn=\"%s\"", cn);
out:
	margo_secret_free(key_pem);
	free(cn);
	return rc;
}

/* 0 when cert is usable as is: issued by ca, valid for a while yet, covering every name. */
static int server_cert_ok(X509 *cert, X509 *ca, char **names, size_t n, const char **why)
{
	struct margo_error e;
	time_t soon = time(NULL) + (time_t)DATADIR_RENEW_DAYS * 86400;

	if (margo_cert_verify_issued_by(cert, ca, &e) < 0) {
		*why = "not issued by the CA or expired";
		return -1;
	}
	if (X509_cmp_time(X509_get0_notAfter(cert), &soon) <= 0) {
		*why = "expires soon";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!cert_covers(cert, names[i])) {
			*why = "a name is missing";
			return -1;
		}
	}
	return 0;
}

static int ensure_server(const char *dir, const char *host, X509 *ca, EVP_PKEY *ca_key,
			 char **names, size_t *nnames, char **cert_pem, char **key_pem,
			 struct margo_error *err)
{
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	const char *why = "first start";
	int rc, have_key = 0;

	if (file_exists(dir, "server.key")) {
		if ((rc = read_file(dir, "server.key", PEM_MAX, key_pem, err)) < 0)
			goto out;
		if ((rc = margo_key_from_pem(*key_pem, strlen(*key_pem), &key, err)) < 0)
			goto out;
		have_key = 1;
	}
	if (have_key && file_exists(dir, "server.crt")) {
		if ((rc = read_file(dir, "server.crt", PEM_MAX, cert_pem, err)) < 0)
			goto out;
		if ((rc = margo_cert_from_pem(*cert_pem, strlen(*cert_pem), &cert, err)) < 0)
			goto out;
		if (server_cert_ok(cert, ca, names, *nnames, &why) == 0) {
			rc = 0;
			goto out;
		}
		names_from_cert(cert, names, nnames);
		X509_free(cert);
		cert = NULL;
		free(*cert_pem);
		*cert_pem = NULL;
	}
	if (!have_key) {
		if ((rc = margo_key_generate_p256(&key, err)) < 0)
			goto out;
		*key_pem = margo_key_to_pem(key);
		if (*key_pem == NULL) {
			rc = margo_error_set(err, MARGO_ECRYPTO, "cannot encode the server key");
			goto out;
		}
		if ((rc = write_file(dir, "server.key", *key_pem, 0600, err)) < 0)
			goto out;
	}
	if ((rc = margo_cert_create_server(key, ca, ca_key, host, (const char *const *)names,
					   *nnames, DATADIR_SERVER_DAYS, &cert, err)) < 0)
		goto out;
	*cert_pem = margo_cert_to_pem(cert);
	if (*cert_pem == NULL) {
		rc = margo_error_set(err, MARGO_ECRYPTO, "cannot encode the server certificate");
		goto out;
	}
	if ((rc = write_file(dir, "server.crt", *cert_pem, 0644, err)) < 0)
		goto out;
	margo_log_info("issued server certificate", "reason=\"%s\" names=%zu", why, *nnames);
	for (size_t i = 0; i < *nnames; i++)
		margo_log_debug("server certificate name", "name=%s", names[i]);
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

/* Writes DIR/name (0600, atomically) holding value and a newline; logs what was created. */
static int create_secret_file(const char *dir, const char *name, const char *value,
			      const char *what, struct margo_error *err)
{
	char *content = NULL;
	int rc;

	if (value == NULL)
		return margo_error_set(err, MARGO_ECRYPTO, "cannot generate the %s", what);
	if (asprintf(&content, "%s\n", value) < 0)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	rc = write_file(dir, name, content, 0600, err);
	margo_secret_free(content);
	if (rc == 0)
		margo_log_info("created secret file", "what=\"%s\" file=%s/%s", what, dir, name);
	return rc;
}

static int ensure_admin_token(const char *dir, char hash[MARGO_TOKEN_HASH_LEN],
			      struct margo_error *err)
{
	char *content = NULL, *token = NULL;
	size_t n;
	int rc;

	if (!file_exists(dir, "admin.token")) {
		token = margo_token_generate(MARGO_TOKEN_ADMIN);
		if ((rc = create_secret_file(dir, "admin.token", token, "admin token", err)) < 0)
			goto out;
	}
	if ((rc = read_file(dir, "admin.token", TOKEN_FILE_MAX, &content, err)) < 0)
		goto out;
	n = strcspn(content, "\r\n");
	content[n] = '\0';
	if (!margo_token_has_prefix(content, MARGO_TOKEN_ADMIN)) {
		rc = margo_error_set(err, MARGO_EINVAL, "%s/admin.token does not hold a %s token",
				     dir, MARGO_TOKEN_ADMIN);
		goto out;
	}
	margo_token_hash(content, hash);
	rc = 0;
out:
	margo_secret_free(token);
	margo_secret_free(content);
	return rc;
}

/* DIR/access-token.key: the access-token MAC key, 32 random bytes as one line of unpadded
 * base64url. Created on first start; replacing it invalidates every access token. */
static int ensure_access_key(const char *dir, unsigned char key[DATADIR_ACCESS_KEY_LEN],
			     struct margo_error *err)
{
	unsigned char fresh[DATADIR_ACCESS_KEY_LEN], *raw = NULL;
	char *content = NULL, *b64 = NULL;
	size_t n = 0;
	int rc;

	if (!file_exists(dir, "access-token.key")) {
		if (RAND_bytes(fresh, sizeof(fresh)) == 1)
			b64 = margo_base64_encode(fresh, sizeof(fresh),
						  MARGO_BASE64_URL | MARGO_BASE64_NOPAD);
		if ((rc = create_secret_file(dir, "access-token.key", b64,
					     "access token key", err)) < 0)
			goto out;
	}
	if ((rc = read_file(dir, "access-token.key", TOKEN_FILE_MAX, &content, err)) < 0)
		goto out;
	content[strcspn(content, "\r\n")] = '\0';
	if (margo_base64_decode(content, strlen(content), &raw, &n) < 0 ||
	    n != DATADIR_ACCESS_KEY_LEN) {
		rc = margo_error_set(err, MARGO_EINVAL, "%s/access-token.key does not hold a "
				     "%d-byte base64url key", dir, DATADIR_ACCESS_KEY_LEN);
		goto out;
	}
	memcpy(key, raw, DATADIR_ACCESS_KEY_LEN);
	rc = 0;
out:
	OPENSSL_cleanse(fresh, sizeof(fresh));
	if (raw != NULL)
		OPENSSL_cleanse(raw, n);
	free(raw);
	margo_secret_free(b64);
	margo_secret_free(content);
	return rc;
}

int datadir_open(const char *dir, const char *const *extra_names, size_t nextra,
		 struct datadir *out, struct margo_error *err)
{
	char host[256];
	char *names[MAX_NAMES];
	size_t nnames = 0;
	X509 *ca = NULL;
	EVP_PKEY *ca_key = NULL;
	struct stat sb;
	int rc, created;

	memset(out, 0, sizeof(*out));
	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	if ((rc = margo_dir_create(dir, 0700, err)) < 0)
		return rc;
	if (stat(dir, &sb) == 0 && (sb.st_mode & 077) != 0)
		margo_log_warn("data directory is accessible to other users", "dir=%s mode=%03o",
			       dir, (unsigned)(sb.st_mode & 0777));
	out->dir = strdup(dir);
	out->db_path = path_join(dir, "wfmd.db");
	if (out->dir == NULL || out->db_path == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	names_add(names, &nnames, "localhost");
	names_add(names, &nnames, "127.0.0.1");
	names_add(names, &nnames, "::1");
	names_add(names, &nnames, host);
	for (size_t i = 0; i < nextra; i++)
		names_add(names, &nnames, extra_names[i]);

	if ((rc = ensure_ca(dir, host, &ca, &ca_key, &out->ca_pem, &created, err)) < 0)
		goto out;
	if (created) {
		/* A new CA invalidates any server certificate left from before. */
		char *p = path_join(dir, "server.crt");
		if (p != NULL && unlink(p) < 0 && errno != ENOENT)
			margo_log_warn("cannot remove old server.crt", "errno=%d", errno);
		free(p);
	}
	if ((rc = ensure_server(dir, host, ca, ca_key, names, &nnames, &out->cert_pem,
				&out->key_pem, err)) < 0)
		goto out;
	if ((rc = ensure_admin_token(dir, out->admin_token_hash, err)) < 0)
		goto out;
	if ((rc = ensure_access_key(dir, out->access_key, err)) < 0)
		goto out;
	rc = 0;
out:
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	if (rc < 0)
		datadir_clear(out);
	return rc;
}

void datadir_clear(struct datadir *d)
{
	if (d == NULL)
		return;
	free(d->dir);
	free(d->db_path);
	free(d->ca_pem);
	free(d->cert_pem);
	margo_secret_free(d->key_pem);
	OPENSSL_cleanse(d, sizeof(*d));
}

int datadir_write_public_url(const struct datadir *d, const char *url,
			     struct margo_error *err)
{
	char *content = NULL;
	int rc;

	if (asprintf(&content, "%s\n", url) < 0)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	rc = write_file(d->dir, "public-url", content, 0644, err);
	free(content);
	return rc;
}

int datadir_fingerprint(const char *dir, char out[MARGO_FINGERPRINT_LEN],
			struct margo_error *err)
{
	char *pem = NULL;
	X509 *ca = NULL;
	int rc;

	if ((rc = read_file(dir, "ca.crt", PEM_MAX, &pem, err)) < 0)
		goto out;
	if ((rc = margo_cert_from_pem(pem, strlen(pem), &ca, err)) < 0)
		goto out;
	rc = margo_cert_fingerprint(ca, out);
	if (rc < 0)
		margo_error_set(err, rc, "cannot compute the fingerprint");
out:
	X509_free(ca);
	free(pem);
	return rc;
}
