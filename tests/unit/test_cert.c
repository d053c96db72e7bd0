#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "margo/base64.h"
#include "margo/cert.h"
#include "margo/error.h"
#include "margo/token.h"

struct pki {
	EVP_PKEY *ca_key;
	X509 *ca;
	EVP_PKEY *srv_key;
	X509 *srv;
	EVP_PKEY *dev_key;
	X509 *dev;
};

static const char *const sans[] = { "localhost", "127.0.0.1", "::1", "wfm.example.com" };

static int setup(void **state)
{
	struct pki *p = calloc(1, sizeof(*p));
	struct margo_error err;

	if (p == NULL)
		return -1;
	if (margo_key_generate_p256(&p->ca_key, &err) != 0 ||
	    margo_cert_create_ca(p->ca_key, "margo test CA", 3650, &p->ca, &err) != 0 ||
	    margo_key_generate_p256(&p->srv_key, &err) != 0 ||
	    margo_cert_create_server(p->srv_key, p->ca, p->ca_key, "wfmd", sans, 4, 825, &p->srv,
				     &err) != 0 ||
	    margo_key_generate_p256(&p->dev_key, &err) != 0 ||
	    margo_cert_create_self_signed(p->dev_key, "device-1", 365, &p->dev, &err) != 0) {
		fprintf(stderr, "setup: %s\n", err.message);
		return -1;
	}
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct pki *p = *state;

	X509_free(p->ca);
	X509_free(p->srv);
	X509_free(p->dev);
	EVP_PKEY_free(p->ca_key);
	EVP_PKEY_free(p->srv_key);
	EVP_PKEY_free(p->dev_key);
	free(p);
	return 0;
}

static void der_sha256_hex(X509 *cert, char *hex)
{
	unsigned char *der = NULL, md[32];
	int n = i2d_X509(cert, &der), i;

	assert_true(n > 0);
	SHA256(der, (size_t)n, md);
	OPENSSL_free(der);
	for (i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
}

static void test_parse_forms(void **state)
{
	struct pki *p = *state;
	struct margo_error err;
	char *pem = margo_cert_to_pem(p->dev);
	unsigned char *der = NULL;
	int der_len = i2d_X509(p->dev, &der);
	char *forms[6];
	size_t i;

	assert_non_null(pem);
	assert_true(der_len > 0);
	assert_non_null(strstr(pem, "-----BEGIN CERTIFICATE-----"));
	forms[0] = strdup(pem);
	forms[1] = margo_base64_encode(pem, strlen(pem), MARGO_BASE64_STD);
	forms[2] = margo_base64_encode(pem, strlen(pem), MARGO_BASE64_URL | MARGO_BASE64_NOPAD);
	forms[3] = margo_base64_encode(der, (size_t)der_len, MARGO_BASE64_STD);
	forms[4] = margo_base64_encode(der, (size_t)der_len, MARGO_BASE64_URL);
	/* PEM body lines alone: base64 of DER wrapped at 64 columns */
	forms[5] = margo_base64_encode(der, (size_t)der_len, MARGO_BASE64_NOPAD);
	for (i = 0; i < 6; i++) {
		X509 *c = NULL;

		assert_non_null(forms[i]);
		if (margo_cert_parse(forms[i], strlen(forms[i]), &c, &err) != 0)
			fail_msg("form %zu: %s", i, err.message);
		assert_int_equal(X509_cmp(c, p->dev), 0);
		X509_free(c);
		free(forms[i]);
	}
	free(pem);
	OPENSSL_free(der);
}

struct bad_case {
	const char *field;
	int rc;
	const char *msg;
};

static const struct bad_case bad_cases[] = {
	{ "", MARGO_EINVAL, "empty" },
	{ "\r\n \t", MARGO_EINVAL, "empty" }, /* white space only: decodes to nothing */
	{ "not base64 !!", MARGO_EINVAL, "certificate is not valid base64" },
	{ "aGVsbG8gd29ybGQ=", MARGO_EINVAL, "not an X.509 certificate" },
	{ "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", MARGO_EINVAL,
	  "not an X.509 certificate" },
	{ "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkFBQUEKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=",
	  MARGO_EINVAL, "not an X.509 certificate" },
	{ "MAA=", MARGO_EINVAL, "not an X.509 certificate" },
};

static void test_parse_bad(void **state)
{
	struct margo_error err;
	size_t i;
	char *big;
	X509 *c = NULL;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		int rc = margo_cert_parse(bad_cases[i].field, strlen(bad_cases[i].field), &c, &err);

		if (rc != bad_cases[i].rc || strstr(err.message, bad_cases[i].msg) == NULL)
			fail_msg("case %zu: rc=%d msg=%s", i, rc, err.message);
		assert_null(c);
	}
	big = malloc(20000);
	assert_non_null(big);
	memset(big, 'A', 20000);
	assert_int_equal(margo_cert_parse(big, 20000, &c, &err), MARGO_ETOOBIG);
	free(big);
}

static void test_parse_trailing_der(void **state)
{
	struct pki *p = *state;
	struct margo_error err;
	unsigned char *der = NULL, *ext;
	int n = i2d_X509(p->dev, &der);
	char *b64;
	X509 *c = NULL;

	ext = malloc((size_t)n + 1);
	assert_non_null(ext);
	memcpy(ext, der, (size_t)n);
	ext[n] = 0;
	b64 = margo_base64_encode(ext, (size_t)n + 1, MARGO_BASE64_STD);
	assert_int_equal(margo_cert_parse(b64, strlen(b64), &c, &err), MARGO_EINVAL);
	assert_null(c);
	free(b64);
	free(ext);
	OPENSSL_free(der);
}

static void test_fingerprint_and_pin(void **state)
{
	struct pki *p = *state;
	struct margo_error err;
	char fp[MARGO_FINGERPRINT_LEN], hex[65], pin[200];
	size_t i, o;

	assert_int_equal(margo_cert_fingerprint(p->ca, fp), 0);
	der_sha256_hex(p->ca, hex);
	assert_int_equal(strlen(fp), 71);
	assert_memory_equal(fp, "sha256:", 7);
	assert_string_equal(fp + 7, hex);

	assert_int_equal(margo_cert_pin_check(p->ca, fp, &err), 0);
	/* upper case, SHA256: prefix, colon-separated pairs */
	o = (size_t)sprintf(pin, "SHA256:");
	for (i = 0; i < 64; i += 2)
		o += (size_t)sprintf(pin + o, "%s%c%c", i ? ":" : "", hex[i] - (hex[i] >= 'a' ? 32 : 0),
				     hex[i + 1] - (hex[i + 1] >= 'a' ? 32 : 0));
	assert_int_equal(margo_cert_pin_check(p->ca, pin, &err), 0);
	assert_int_equal(margo_cert_pin_check(p->srv, fp, &err), MARGO_EAUTH);

	/* malformed pins */
	assert_int_equal(margo_cert_pin_check(p->ca, fp + 7, &err), MARGO_EINVAL);
	snprintf(pin, sizeof(pin), "%.70s", fp);
	assert_int_equal(margo_cert_pin_check(p->ca, pin, &err), MARGO_EINVAL);
	snprintf(pin, sizeof(pin), "%s00", fp);
	assert_int_equal(margo_cert_pin_check(p->ca, pin, &err), MARGO_EINVAL);
	snprintf(pin, sizeof(pin), "%sx", fp);
	assert_int_equal(margo_cert_pin_check(p->ca, pin, &err), MARGO_EINVAL);
	snprintf(pin, sizeof(pin), "sha1:%s", fp + 7);
	assert_int_equal(margo_cert_pin_check(p->ca, pin, &err), MARGO_EINVAL);
	snprintf(pin, sizeof(pin), "sha256::%s", fp + 7);
	assert_int_equal(margo_cert_pin_check(p->ca, pin, &err), MARGO_EINVAL);
	assert_int_equal(margo_cert_pin_check(p->ca, NULL, &err), MARGO_EINVAL);
}

static void test_keyid(void **state)
{
	struct pki *p = *state;
	char a[MARGO_KEYID_LEN], b[MARGO_KEYID_LEN];
	unsigned char *der = NULL, md[32];
	int n, i;

	assert_int_equal(margo_cert_keyid(p->dev, a), 0);
	assert_int_equal(margo_pubkey_keyid(p->dev_key, b), 0);
	assert_string_equal(a, b);
	n = i2d_PUBKEY(p->dev_key, &der);
	assert_true(n > 0);
	SHA256(der, (size_t)n, md);
	OPENSSL_free(der);
	for (i = 0; i < 32; i++)
		sprintf(b + 2 * i, "%02x", md[i]);
	assert_string_equal(a, b);
	assert_int_equal(margo_cert_keyid(p->ca, b), 0);
	assert_string_not_equal(a, b);
}

static void test_key_pem(void **state)
{
	struct pki *p = *state;
	struct margo_error err;
	char *pem = margo_key_to_pem(p->dev_key);
	EVP_PKEY *k = NULL;

	assert_non_null(pem);
	assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
	assert_int_equal(margo_key_from_pem(pem, strlen(pem), &k, &err), 0);
	assert_int_equal(EVP_PKEY_eq(k, p->dev_key), 1);
	assert_int_equal(X509_check_private_key(p->dev, k), 1);
	EVP_PKEY_free(k);
	margo_secret_free(pem);
	assert_int_equal(margo_key_from_pem("garbage", 7, &k, &err), MARGO_EINVAL);
	assert_null(k);
	assert_int_equal(margo_key_from_pem("", 0, &k, &err), MARGO_EINVAL);
}

static void test_key_is_p256(void **state)
{
	struct pki *p = *state;
	char name[64];
	size_t len;

	assert_int_equal(EVP_PKEY_get_base_id(p->dev_key), EVP_PKEY_EC);
	assert_int_equal(EVP_PKEY_get_utf8_string_param(p->dev_key, "group", name, sizeof(name),
							&len), 1);
	assert_string_equal(name, "prime256v1");
}

/* Verifies cert against ca with OpenSSL's full chain verification, for a host or IP. */
static int chain_verify(X509 *cert, X509 *ca, const char *host, const char *ip, int purpose)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *param;
	int ok;

	assert_non_null(store);
	assert_non_null(ctx);
	assert_int_equal(X509_STORE_add_cert(store, ca), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, cert, NULL), 1);
	param = X509_STORE_CTX_get0_param(ctx);
	if (host != NULL)
		assert_int_equal(X509_VERIFY_PARAM_set1_host(param, host, 0), 1);
	if (ip != NULL)
		assert_int_equal(X509_VERIFY_PARAM_set1_ip_asc(param, ip), 1);
	X509_STORE_CTX_set_purpose(ctx, purpose);
	ok = X509_verify_cert(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ok;
}

static void test_created_certs(void **state)
{
	struct pki *p = *state;
	struct margo_error err;
	GENERAL_NAMES *gens;
	const ASN1_INTEGER *serial;
	BIGNUM *bn;
	time_t now = time(NULL);

	/* CA */
	assert_int_equal(X509_check_ca(p->ca), 1);
	assert_true(X509_get_extension_flags(p->ca) & EXFLAG_SS);
	assert_true(X509_get_key_usage(p->ca) & KU_KEY_CERT_SIGN);
	assert_non_null(X509_get0_subject_key_id(p->ca));
	assert_int_equal(X509_get_signature_nid(p->ca), NID_ecdsa_with_SHA256);
	assert_int_equal(X509_get_version(p->ca), 2);
	assert_int_equal(margo_cert_verify_issued_by(p->ca, p->ca, &err), 0);
	/* notBefore is backdated for clock skew */
	assert_true(X509_cmp_time(X509_get0_notBefore(p->ca), &(time_t){ now - 1800 }) < 0);

	/* server */
	assert_int_equal(X509_check_ca(p->srv), 0);
	assert_true(X509_get_extended_key_usage(p->srv) & XKU_SSL_SERVER);
	assert_int_equal(ASN1_STRING_cmp(X509_get0_authority_key_id(p->srv),
					 X509_get0_subject_key_id(p->ca)), 0);
	gens = X509_get_ext_d2i(p->srv, NID_subject_alt_name, NULL, NULL);
	assert_non_null(gens);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 4);
	assert_int_equal(sk_GENERAL_NAME_value(gens, 0)->type, GEN_DNS);
	assert_int_equal(sk_GENERAL_NAME_value(gens, 1)->type, GEN_IPADD);
	assert_int_equal(ASN1_STRING_length(sk_GENERAL_NAME_value(gens, 1)->d.ip), 4);
	assert_int_equal(sk_GENERAL_NAME_value(gens, 2)->type, GEN_IPADD);
	assert_int_equal(ASN1_STRING_length(sk_GENERAL_NAME_value(gens, 2)->d.ip), 16);
	assert_int_equal(sk_GENERAL_NAME_value(gens, 3)->type, GEN_DNS);
	GENERAL_NAMES_free(gens);
	assert_int_equal(margo_cert_verify_issued_by(p->srv, p->ca, &err), 0);
	assert_int_equal(margo_cert_verify_issued_by(p->srv, p->dev, &err), MARGO_EAUTH);
	assert_int_equal(chain_verify(p->srv, p->ca, "localhost", NULL, X509_PURPOSE_SSL_SERVER), 1);
	assert_int_equal(chain_verify(p->srv, p->ca, "wfm.example.com", NULL,
				      X509_PURPOSE_SSL_SERVER), 1);
	assert_int_equal(chain_verify(p->srv, p->ca, NULL, "127.0.0.1", X509_PURPOSE_SSL_SERVER), 1);
	assert_int_equal(chain_verify(p->srv, p->ca, NULL, "::1", X509_PURPOSE_SSL_SERVER), 1);
	assert_int_equal(chain_verify(p->srv, p->ca, "other.example.com", NULL,
				      X509_PURPOSE_SSL_SERVER), 0);
	assert_int_equal(chain_verify(p->srv, p->ca, NULL, "127.0.0.2", X509_PURPOSE_SSL_SERVER), 0);
	assert_int_equal(chain_verify(p->srv, p->dev, "localhost", NULL, X509_PURPOSE_SSL_SERVER), 0);

	/* device */
	assert_int_equal(X509_check_ca(p->dev), 0);
	assert_true(X509_get_extended_key_usage(p->dev) & XKU_SSL_CLIENT);
	assert_int_equal(margo_cert_verify_issued_by(p->dev, p->dev, &err), 0);
	assert_int_equal(margo_cert_verify_issued_by(p->dev, p->ca, &err), MARGO_EAUTH);
	assert_int_equal(margo_cert_verify_issued_by(p->ca, p->dev, &err), MARGO_EAUTH);

	/* serials are random, positive, ~128 bits */
	serial = X509_get0_serialNumber(p->srv);
	bn = ASN1_INTEGER_to_BN(serial, NULL);
	assert_non_null(bn);
	assert_int_equal(BN_num_bits(bn), 128);
	assert_false(BN_is_negative(bn));
	BN_free(bn);
	assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(p->srv),
					      X509_get0_serialNumber(p->ca)), 0);
}

static void test_create_errors(void **state)
{
	struct pki *p = *state;
	struct margo_error err;
	X509 *c = NULL;
	static const char *const bad_sans[] = { "ok.example", "with space" };
	char longcn[300], got[128];

	/* a long common name (a long host name) is cut to the 64 bytes X.509 allows */
	memset(longcn, 'h', sizeof(longcn) - 1);
	longcn[sizeof(longcn) - 1] = '\0';
	assert_int_equal(margo_cert_create_server(p->srv_key, p->ca, p->ca_key, longcn, sans, 1,
						  10, &c, &err), 0);
	assert_int_equal(X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, got,
						   sizeof(got)), 64);
	X509_free(c);
	c = NULL;
	assert_int_equal(margo_cert_create_ca(p->ca_key, "", 10, &c, &err), MARGO_EINVAL);
	assert_int_equal(margo_cert_create_ca(p->ca_key, "x", 0, &c, &err), MARGO_EINVAL);
	/* CA key does not match the CA certificate */
	assert_int_equal(margo_cert_create_server(p->srv_key, p->ca, p->dev_key, "s", sans, 1, 10,
						  &c, &err), MARGO_EINVAL);
	assert_int_equal(margo_cert_create_server(p->srv_key, p->ca, p->ca_key, "s", bad_sans, 2,
						  10, &c, &err), MARGO_EINVAL);
	assert_null(c);
}

static void test_roundtrip_pem(void **state)
{
	struct pki *p = *state;
	struct margo_error err;
	char *pem = margo_cert_to_pem(p->srv);
	X509 *c = NULL;

	assert_non_null(pem);
	assert_int_equal(margo_cert_from_pem(pem, strlen(pem), &c, &err), 0);
	assert_int_equal(X509_cmp(c, p->srv), 0);
	X509_free(c);
	free(pem);
	assert_int_equal(margo_cert_from_pem("junk", 4, &c, &err), MARGO_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_forms),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_trailing_der),
		cmocka_unit_test(test_fingerprint_and_pin),
		cmocka_unit_test(test_keyid),
		cmocka_unit_test(test_key_pem),
		cmocka_unit_test(test_key_is_p256),
		cmocka_unit_test(test_created_certs),
		cmocka_unit_test(test_create_errors),
		cmocka_unit_test(test_roundtrip_pem),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
