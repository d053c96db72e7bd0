/* datadir.c: first start creates the CA, server certificate and admin token with the right
 * modes; later starts reuse them and reissue the server certificate only for new names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <openssl/x509v3.h>

#include "margo/cert.h"
#include "datadir.h"

static char base[64];
static char dir[80];    /* base/wfm: created by datadir_open */

static int setup(void **state)
{
	(void)state;
	strcpy(base, "/tmp/test_server_datadir.XXXXXX");
	assert_non_null(mkdtemp(base));
	snprintf(dir, sizeof(dir), "%s/wfm", base);
	return 0;
}

static int teardown(void **state)
{
	char cmd[160];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd);
}

static mode_t file_mode(const char *name)
{
	char path[128];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(stat(path, &sb), 0);
	return sb.st_mode & 0777;
}

static X509 *load_cert(const char *pem)
{
	X509 *c = NULL;

	assert_int_equal(margo_cert_from_pem(pem, strlen(pem), &c, NULL), 0);
	return c;
}

static void test_create_and_reuse(void **state)
{
	struct datadir d1, d2, d3;
	struct margo_error err;
	const char *names1[] = { "wfm.example", "192.0.2.7" };
	const char *names2[] = { "other.example" };
	char fp[MARGO_FINGERPRINT_LEN], fp2[MARGO_FINGERPRINT_LEN];
	X509 *ca, *s1, *s3;

	(void)state;
	assert_int_equal(datadir_open(dir, names1, 2, &d1, &err), 0);
	assert_int_equal(file_mode("ca.key"), 0600);
	assert_int_equal(file_mode("server.key"), 0600);
	assert_int_equal(file_mode("admin.token"), 0600);
	assert_int_equal(file_mode("ca.crt"), 0644);
	assert_int_equal(file_mode("."), 0700);
	ca = load_cert(d1.ca_pem);
	s1 = load_cert(d1.cert_pem);
	assert_int_equal(margo_cert_verify_issued_by(s1, ca, &err), 0);
	assert_int_equal(X509_check_host(s1, "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(s1, "wfm.example", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(s1, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(s1, "::1", 0), 1);
	assert_int_equal(X509_check_ip_asc(s1, "192.0.2.7", 0), 1);
	assert_int_equal(X509_check_host(s1, "other.example", 0, 0, NULL), 0);
	assert_int_equal(strlen(d1.admin_token_hash), 64);

	/* Same names again: nothing changes. */
	assert_int_equal(datadir_open(dir, names1, 1, &d2, &err), 0);
	assert_string_equal(d2.ca_pem, d1.ca_pem);
	assert_string_equal(d2.cert_pem, d1.cert_pem);
	assert_string_equal(d2.admin_token_hash, d1.admin_token_hash);

	/* A new name: same CA and key, new certificate keeping the old names. */
	assert_int_equal(datadir_open(dir, names2, 1, &d3, &err), 0);
	assert_string_equal(d3.ca_pem, d1.ca_pem);
	assert_string_equal(d3.key_pem, d1.key_pem);
	assert_string_not_equal(d3.cert_pem, d1.cert_pem);
	s3 = load_cert(d3.cert_pem);
	assert_int_equal(margo_cert_verify_issued_by(s3, ca, &err), 0);
	assert_int_equal(X509_check_host(s3, "other.example", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(s3, "wfm.example", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(s3, "192.0.2.7", 0), 1);

	assert_int_equal(datadir_write_public_url(&d3, "https://wfm.example:8443", &err), 0);
	assert_int_equal(datadir_fingerprint(dir, fp, &err), 0);
	assert_int_equal(margo_cert_fingerprint(ca, fp2), 0);
	assert_string_equal(fp, fp2);

	X509_free(ca);
	X509_free(s1);
	X509_free(s3);
	datadir_clear(&d1);
	datadir_clear(&d2);
	datadir_clear(&d3);
	datadir_clear(NULL);
}

static void test_bad_admin_token(void **state)
{
	struct datadir d;
	struct margo_error err;
	char path[128];
	FILE *f;

	(void)state;
	assert_int_equal(datadir_open(dir, NULL, 0, &d, &err), 0);
	datadir_clear(&d);
	snprintf(path, sizeof(path), "%s/admin.token", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("not-a-token\n", f);
	fclose(f);
	assert_int_equal(datadir_open(dir, NULL, 0, &d, &err), MARGO_EINVAL);
	assert_int_equal(datadir_fingerprint("/nonexistent-dir", path, &err), MARGO_ENOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_admin_token, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
