#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "identity.h"
#include "margo/cert.h"
#include "margo/file.h"
#include "margo/log.h"
#include "margo/token.h"
#include "state.h"

#define PEM_FILE_MAX (64 * 1024)

static void wipe_free(char *buf, size_t len)
{
	if (buf == NULL)
		return;
	OPENSSL_cleanse(buf, len);
	free(buf);
}

static int load_key_file(const char *path, EVP_PKEY **key, struct margo_error *err)
{
	char *pem = NULL;
	size_t len = 0;
	struct margo_error e;
	int rc;

	rc = margo_file_read(path, PEM_FILE_MAX, &pem, &len, &e);
	if (rc != 0)
		return margo_error_set(err, rc, "%s: %s", path, e.message);
	rc = margo_key_from_pem(pem, len, key, &e);
	if (rc != 0)
		margo_error_set(err, rc, "%s: %s", path, e.message);
	wipe_free(pem, len);
	return rc;
}

static int load_cert_file(const char *path, X509 **cert, struct margo_error *err)
{
	char *pem = NULL;
	size_t len = 0;
	struct margo_error e;
	int rc;

	rc = margo_file_read(path, PEM_FILE_MAX, &pem, &len, &e);
	if (rc != 0)
		return margo_error_set(err, rc, "%s: %s", path, e.message);
	rc = margo_cert_parse(pem, len, cert, &e);
	if (rc != 0)
		margo_error_set(err, rc, "%s: %s", path, e.message);
	free(pem);
	return rc;
}

static int write_key(const char *dir, EVP_PKEY *key, struct margo_error *err)
{
	char *pem = margo_key_to_pem(key);
	int rc;

	if (pem == NULL)
		return margo_error_set(err, MARGO_ECRYPTO, "cannot encode the device key");
	rc = agent_state_write_file(dir, AGENT_KEY_FILE, pem, strlen(pem), err);
	margo_secret_free(pem);
	return rc;
}

static int write_cert(const char *dir, X509 *cert, struct margo_error *err)
{
	char *pem = margo_cert_to_pem(cert);
	int rc;

	if (pem == NULL)
		return margo_error_set(err, MARGO_ECRYPTO, "cannot encode the device certificate");
	rc = agent_state_write_file(dir, AGENT_CERT_FILE, pem, strlen(pem), err);
	free(pem);
	return rc;
}

static int check_pair(EVP_PKEY *key, X509 *cert, struct margo_error *err)
{
	if (X509_check_private_key(cert, key) != 1)
		return margo_error_set(err, MARGO_EINVAL,
				       "the device certificate does not belong to the device key");
	return MARGO_OK;
}

int agent_identity_ensure(const char *dir, const char *key_path, const char *cert_path,
			  const char *cn, EVP_PKEY **key_out, X509 **cert_out,
			  struct margo_error *err)
{
	char *kpath = agent_state_path(dir, AGENT_KEY_FILE);
	char *cpath = agent_state_path(dir, AGENT_CERT_FILE);
	EVP_PKEY *key = NULL;
	X509 *cert = NULL, *given = NULL;
	struct margo_error e;
	int rc;

	if (kpath == NULL || cpath == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	if ((key_path == NULL) != (cert_path == NULL)) {
		rc = margo_error_set(err, MARGO_EINVAL, "--key and --cert go together");
		goto out;
	}
	if (cert_path != NULL) {
		rc = load_cert_file(cert_path, &given, err);
		if (rc != 0)
			goto out;
	}
	rc = load_key_file(kpath, &key, &e);
	if (rc == MARGO_ENOTFOUND) {
		/* first run: take the provisioned key or make one */
		if (key_path != NULL) {
			rc = load_key_file(key_path, &key, err);
			if (rc != 0)
				goto out;
			rc = check_pair(key, given, err);
			if (rc != 0)
				goto out;
		} else {
			rc = margo_key_generate_p256(&key, err);
			if (rc != 0)
				goto out;
		}
		rc = write_key(dir, key, err);
		if (rc != 0)
			goto out;
		margo_log_info("device key created", "path=%s provisioned=%s", kpath,
			       key_path != NULL ? "yes" : "no");
	} else if (rc != 0) {
		margo_error_set(err, rc, "%s: %s", kpath, e.message);
		goto out;
	}
	rc = load_cert_file(cpath, &cert, &e);
	if (rc == MARGO_ENOTFOUND) {
		/* no certificate yet (first run, or a crash right after the key was written) */
		if (given != NULL) {
			cert = given;
			given = NULL;
		} else {
			rc = margo_cert_create_self_signed(key, cn, AGENT_IDENTITY_DAYS, &cert, err);
			if (rc != 0)
				goto out;
		}
		rc = check_pair(key, cert, err);
		if (rc != 0)
			goto out;
		rc = write_cert(dir, cert, err);
		if (rc != 0)
			goto out;
	} else if (rc != 0) {
		margo_error_set(err, rc, "%s: %s", cpath, e.message);
		goto out;
	} else {
		rc = check_pair(key, cert, err);
		if (rc != 0)
			goto out;
	}
	if (given != NULL && X509_cmp(given, cert) != 0) {
		rc = margo_error_set(err, MARGO_ECONFLICT,
				     "%s already holds a different device identity than --cert %s",
				     dir, cert_path);
		goto out;
	}
	*key_out = key;
	*cert_out = cert;
	key = NULL;
	cert = NULL;
out:
	EVP_PKEY_free(key);
	X509_free(cert);
	X509_free(given);
	free(kpath);
	free(cpath);
	return rc;
}
