/* X.509 certificates and keys: parsing, fingerprints, pins, generation. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "margo/base64.h"
#include "margo/cert.h"
#include "margo/error.h"
#include "margo/hex.h"
#include "ossl.h"

/* Bound on a certificate field (PEM text, or its base64) accepted from anyone. */
#define CERT_FIELD_MAX (16 * 1024)
/* Bound on PEM key text. */
#define KEY_PEM_MAX (16 * 1024)
/* notBefore lies this far in the past to tolerate clock skew between peers. */
#define CERT_BACKDATE_SECONDS 3600
#define CERT_DAYS_MAX 36500
#define CERT_NAME_MAX 253
#define CERT_CN_MAX 64

/* Skips leading ASCII white space; returns 1 when the text then starts with "-----BEGIN ". */
static int looks_like_pem(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && isspace((unsigned char)s[i]))
		i++;
	return len - i >= 11 && memcmp(s + i, "-----BEGIN ", 11) == 0;
}

int margo_cert_from_pem(const char *pem, size_t len, X509 **out, struct margo_error *err)
{
	BIO *bio = NULL;
	X509 *cert = NULL;
	int rc = MARGO_OK;

	*out = NULL;
	if (len > CERT_FIELD_MAX)
		return margo_error_set(err, MARGO_ETOOBIG, "certificate larger than %d bytes",
				       CERT_FIELD_MAX);
	if (!looks_like_pem(pem, len))
		return margo_error_set(err, MARGO_EINVAL, "not a PEM certificate");
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (cert == NULL) {
		rc = margo_ossl_error(err, MARGO_EINVAL, "not an X.509 certificate");
		goto out;
	}
	*out = cert;
out:
	BIO_free(bio);
	return rc;
}

int margo_cert_parse(const char *field, size_t len, X509 **out, struct margo_error *err)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t der_len = 0;
	X509 *cert = NULL;
	int rc;

	*out = NULL;
	if (field == NULL || len == 0)
		return margo_error_set(err, MARGO_EINVAL, "certificate is empty");
	if (len > CERT_FIELD_MAX)
		return margo_error_set(err, MARGO_ETOOBIG, "certificate larger than %d bytes",
				       CERT_FIELD_MAX);
	if (looks_like_pem(field, len))
		return margo_cert_from_pem(field, len, out, err);
	rc = margo_base64_decode(field, len, &der, &der_len);
	if (rc == MARGO_ENOMEM)
		return margo_error_set(err, rc, "out of memory");
	if (rc != MARGO_OK)
		return margo_error_set(err, MARGO_EINVAL, "certificate is not valid base64");
	if (der_len == 0) {
		free(der);
		return margo_error_set(err, MARGO_EINVAL, "certificate is empty");
	}
	if (looks_like_pem((const char *)der, der_len)) {
		rc = margo_cert_from_pem((const char *)der, der_len, out, err);
		goto out;
	}
	p = der;
	cert = d2i_X509(NULL, &p, (long)der_len);
	if (cert == NULL) {
		rc = margo_ossl_error(err, MARGO_EINVAL, "not an X.509 certificate");
		goto out;
	}
	if (p != der + der_len) {
		rc = margo_error_set(err, MARGO_EINVAL,
				     "not an X.509 certificate: trailing data after DER");
		goto out;
	}
	*out = cert;
	cert = NULL;
	rc = MARGO_OK;
out:
	X509_free(cert);
	free(der);
	return rc;
}

char *margo_cert_to_pem(X509 *cert)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *pem = NULL;
	long n;

	if (bio == NULL)
		return NULL;
	if (PEM_write_bio_X509(bio, cert) != 1)
		goto out;
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0)
		goto out;
	pem = malloc((size_t)n + 1);
	if (pem == NULL)
		goto out;
	memcpy(pem, data, (size_t)n);
	pem[n] = '\0';
out:
	BIO_free(bio);
	ERR_clear_error();
	return pem;
}

static int cert_sha256(X509 *cert, unsigned char md[SHA256_DIGEST_LENGTH])
{
	unsigned int mdlen = 0;

	if (cert == NULL || X509_digest(cert, EVP_sha256(), md, &mdlen) != 1 ||
	    mdlen != SHA256_DIGEST_LENGTH) {
		ERR_clear_error();
		return MARGO_ECRYPTO;
	}
	return MARGO_OK;
}

int margo_cert_fingerprint(X509 *cert, char out[MARGO_FINGERPRINT_LEN])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	int rc = cert_sha256(cert, md);

	if (rc != MARGO_OK)
		return rc;
	memcpy(out, "sha256:", 7);
	margo_hex_lower(md, sizeof(md), out + 7);
	return MARGO_OK;
}

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int margo_cert_pin_check(X509 *cert, const char *pin, struct margo_error *err)
{
	unsigned char want[SHA256_DIGEST_LENGTH], have[SHA256_DIGEST_LENGTH];
	const char *p;
	size_t n = 0;
	int rc;

	if (pin == NULL || strncasecmp(pin, "sha256:", 7) != 0)
		return margo_error_set(err, MARGO_EINVAL,
				       "fingerprint must look like sha256:<64 hex digits>");
	p = pin + 7;
	while (*p != '\0') {
		int hi, lo;

		if (n == sizeof(want))
			goto malformed;
		if (n > 0 && *p == ':')
			p++;
		hi = hex_nibble(p[0]);
		lo = hi < 0 ? -1 : hex_nibble(p[1]);
		if (hi < 0 || lo < 0)
			goto malformed;
		want[n++] = (unsigned char)(hi << 4 | lo);
		p += 2;
	}
	if (n != sizeof(want))
		goto malformed;
	rc = cert_sha256(cert, have);
	if (rc != MARGO_OK)
		return margo_error_set(err, rc, "cannot compute certificate fingerprint");
	if (CRYPTO_memcmp(want, have, sizeof(want)) != 0)
		return margo_error_set(err, MARGO_EAUTH,
				       "certificate fingerprint does not match the pin");
	return MARGO_OK;
malformed:
	return margo_error_set(err, MARGO_EINVAL,
			       "fingerprint must look like sha256:<64 hex digits>");
}

/* The key id of a DER SubjectPublicKeyInfo that i2d wrote (n bytes, or n <= 0 on failure). */
static int keyid_of_der(unsigned char *der, int n, char out[MARGO_KEYID_LEN])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	if (n <= 0) {
		ERR_clear_error();
		return MARGO_ECRYPTO;
	}
	SHA256(der, (size_t)n, md);
	OPENSSL_free(der);
	margo_hex_lower(md, sizeof(md), out);
	return MARGO_OK;
}

int margo_pubkey_keyid(EVP_PKEY *pkey, char out[MARGO_KEYID_LEN])
{
	unsigned char *der = NULL;
	int n;

	if (pkey == NULL)
		return MARGO_EINVAL;
	n = i2d_PUBKEY(pkey, &der);
	return keyid_of_der(der, n, out);
}

/* The certificate's own SubjectPublicKeyInfo bytes, as API.md defines the key id: encoding
 * the parsed X509_PUBKEY needs no provider encoder, unlike i2d_PUBKEY of the decoded key
 * (OpenSSL 3's encoder set-up was 4% of wfmd's CPU during onboarding). */
int margo_cert_keyid(X509 *cert, char out[MARGO_KEYID_LEN])
{
	unsigned char *der = NULL;
	int n;

	if (cert == NULL)
		return MARGO_EINVAL;
	n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	return keyid_of_der(der, n, out);
}

int margo_cert_verify_issued_by(X509 *cert, X509 *ca, struct margo_error *err)
{
	EVP_PKEY *ca_pub;
	int r;

	if (cert == NULL || ca == NULL)
		return margo_error_set(err, MARGO_EINVAL, "no certificate");
	/* A self-signed end-entity certificate (the device identity) may carry a keyUsage
	 * without keyCertSign, which X509_check_issued() refuses; it is its own issuer by
	 * identity, so only the name and signature checks below apply to it. */
	if (X509_cmp(cert, ca) == 0) {
		if (X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(cert)) != 0)
			return margo_error_set(err, MARGO_EAUTH, "certificate is not self-issued");
	} else {
		r = X509_check_issued(ca, cert);
		if (r != X509_V_OK)
			return margo_error_set(err, MARGO_EAUTH,
					       "certificate not issued by the CA: %s",
					       X509_verify_cert_error_string(r));
		if (X509_check_ca(ca) == 0)
			return margo_error_set(err, MARGO_EAUTH, "issuer is not a CA certificate");
	}
	ca_pub = X509_get0_pubkey(ca);
	if (ca_pub == NULL)
		return margo_ossl_error(err, MARGO_EINVAL, "CA certificate has no usable key");
	if (X509_verify(cert, ca_pub) != 1)
		return margo_ossl_error(err, MARGO_EAUTH, "certificate signature does not verify with the CA key");
	if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0)
		return margo_error_set(err, MARGO_EEXPIRED, "certificate is not yet valid");
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0)
		return margo_error_set(err, MARGO_EEXPIRED, "certificate has expired");
	ERR_clear_error();
	return MARGO_OK;
}

int margo_key_generate_p256(EVP_PKEY **out, struct margo_error *err)
{
	*out = EVP_EC_gen("P-256");
	if (*out == NULL)
		return margo_ossl_error(err, MARGO_ECRYPTO, "cannot generate P-256 key");
	return MARGO_OK;
}

char *margo_key_to_pem(EVP_PKEY *pkey)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *pem = NULL;
	long n;

	if (bio == NULL)
		return NULL;
	if (PEM_write_bio_PKCS8PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1)
		goto out;
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0)
		goto out;
	pem = malloc((size_t)n + 1);
	if (pem == NULL)
		goto out;
	memcpy(pem, data, (size_t)n);
	pem[n] = '\0';
out:
	/* The memory BIO held the key too: wipe it before freeing. */
	n = BIO_get_mem_data(bio, &data);
	if (n > 0)
		OPENSSL_cleanse(data, (size_t)n);
	BIO_free(bio);
	ERR_clear_error();
	return pem;
}

int margo_key_from_pem(const char *pem, size_t len, EVP_PKEY **out, struct margo_error *err)
{
	BIO *bio;
	EVP_PKEY *pkey;

	*out = NULL;
	if (pem == NULL || len == 0)
		return margo_error_set(err, MARGO_EINVAL, "private key is empty");
	if (len > KEY_PEM_MAX)
		return margo_error_set(err, MARGO_ETOOBIG, "private key larger than %d bytes",
				       KEY_PEM_MAX);
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pkey == NULL)
		return margo_ossl_error(err, MARGO_EINVAL, "not a PEM private key");
	*out = pkey;
	ERR_clear_error();
	return MARGO_OK;
}

/* Adds one extension given in OpenSSL's configuration syntax (constant values only). */
static int add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value,
		   struct margo_error *err)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok;

	if (ext == NULL)
		return margo_ossl_error(err, MARGO_ECRYPTO, "cannot build certificate extension");
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	if (ok != 1)
		return margo_ossl_error(err, MARGO_ECRYPTO, "cannot add certificate extension");
	return MARGO_OK;
}

static int valid_name(const char *s)
{
	size_t i, n;

	if (s == NULL)
		return 0;
	n = strlen(s);
	if (n == 0 || n > CERT_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

/* The common part: version 3, random serial, validity, subject, issuer, public key. */
static int cert_new(EVP_PKEY *key, X509 *issuer, const char *cn, int days, X509 **out,
		    struct margo_error *err)
{
	X509 *cert = NULL;
	X509_NAME *name = NULL;
	BIGNUM *bn = NULL;
	ASN1_INTEGER *serial = NULL;
	size_t cn_len;
	int rc = MARGO_OK;

	*out = NULL;
	if (key == NULL || cn == NULL || cn[0] == '\0')
		return margo_error_set(err, MARGO_EINVAL, "certificate common name is empty");
	/* X.509 bounds a common name to 64 characters; names that matter are in the SANs, so
	 * a longer one (a long host name) is cut at a UTF-8 character boundary. */
	cn_len = strlen(cn);
	if (cn_len > CERT_CN_MAX) {
		cn_len = CERT_CN_MAX;
		while (cn_len > 0 && ((unsigned char)cn[cn_len] & 0xc0) == 0x80)
			cn_len--;
	}
	if (days <= 0 || days > CERT_DAYS_MAX)
		return margo_error_set(err, MARGO_EINVAL, "certificate lifetime must be 1-%d days",
				       CERT_DAYS_MAX);
	cert = X509_new();
	name = X509_NAME_new();
	bn = BN_new();
	if (cert == NULL || name == NULL || bn == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	if (BN_rand(bn, 128, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) != 1 ||
	    (serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    X509_set_version(cert, 2) != 1 || X509_set_serialNumber(cert, serial) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(cert), -CERT_BACKDATE_SECONDS) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), days, 0, NULL) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
				       (int)cn_len, -1, 0) != 1 ||
	    X509_set_subject_name(cert, name) != 1 ||
	    X509_set_issuer_name(cert, issuer != NULL ? X509_get_subject_name(issuer) : name) != 1 ||
	    X509_set_pubkey(cert, key) != 1) {
		rc = margo_ossl_error(err, MARGO_ECRYPTO, "cannot build certificate");
		goto out;
	}
	*out = cert;
	cert = NULL;
out:
	X509_free(cert);
	X509_NAME_free(name);
	BN_free(bn);
	ASN1_INTEGER_free(serial);
	return rc;
}

static int cert_sign(X509 *cert, EVP_PKEY *key, struct margo_error *err)
{
	if (X509_sign(cert, key, EVP_sha256()) <= 0)
		return margo_ossl_error(err, MARGO_ECRYPTO, "cannot sign certificate");
	return MARGO_OK;
}

static int add_sans(X509 *cert, const char *const *sans, size_t nsans, struct margo_error *err)
{
	GENERAL_NAMES *gens = NULL;
	int rc = MARGO_OK;
	size_t i;

	if (nsans == 0)
		return MARGO_OK;
	gens = GENERAL_NAMES_new();
	if (gens == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	for (i = 0; i < nsans; i++) {
		unsigned char addr[16];
		GENERAL_NAME *gen;
		ASN1_OCTET_STRING *os;
		int alen = 0;

		if (!valid_name(sans[i])) {
			rc = margo_error_set(err, MARGO_EINVAL, "invalid subject alternative name");
			goto out;
		}
		if (inet_pton(AF_INET, sans[i], addr) == 1)
			alen = 4;
		else if (inet_pton(AF_INET6, sans[i], addr) == 1)
			alen = 16;
		/* An IA5String is an ASN1_STRING like the OCTET STRING of an IP address. */
		gen = GENERAL_NAME_new();
		os = alen ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
		if (gen == NULL || os == NULL ||
		    ASN1_STRING_set(os, alen ? (const void *)addr : (const void *)sans[i],
				    alen ? alen : (int)strlen(sans[i])) != 1) {
			GENERAL_NAME_free(gen);
			ASN1_STRING_free(os);
			rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
			goto out;
		}
		GENERAL_NAME_set0_value(gen, alen ? GEN_IPADD : GEN_DNS, os);
		if (sk_GENERAL_NAME_push(gens, gen) <= 0) {
			GENERAL_NAME_free(gen);
			rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (X509_add1_ext_i2d(cert, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1)
		rc = margo_ossl_error(err, MARGO_ECRYPTO, "cannot add subject alternative names");
out:
	GENERAL_NAMES_free(gens);
	return rc;
}

/* One X.509v3 extension in config-string form. */
struct cert_ext {
	int nid;
	const char *value;
};

/* A certificate for key named cn, issued by ca (self-signed when ca is NULL) and signed with
 * sign_key, with the extensions exts and the subject alternative names sans. */
static int cert_build(EVP_PKEY *key, X509 *ca, EVP_PKEY *sign_key, const char *cn, int days,
		      const struct cert_ext *exts, size_t nexts, const char *const *sans,
		      size_t nsans, X509 **out, struct margo_error *err)
{
	X509V3_CTX ctx;
	X509 *cert = NULL;
	size_t i;
	int rc;

	rc = cert_new(key, ca, cn, days, &cert, err);
	if (rc != MARGO_OK)
		return rc;
	X509V3_set_ctx(&ctx, ca != NULL ? ca : cert, cert, NULL, NULL, 0);
	for (i = 0; i < nexts; i++) {
		if ((rc = add_ext(cert, &ctx, exts[i].nid, exts[i].value, err)) != 0)
			goto out;
	}
	if ((rc = add_sans(cert, sans, nsans, err)) != 0 ||
	    (rc = cert_sign(cert, sign_key, err)) != 0)
		goto out;
	*out = cert;
	cert = NULL;
out:
	X509_free(cert);
	return rc;
}

#define NEXTS(a) (sizeof(a) / sizeof((a)[0]))

int margo_cert_create_ca(EVP_PKEY *key, const char *cn, int days, X509 **out,
			 struct margo_error *err)
{
	static const struct cert_ext exts[] = {
		{ NID_basic_constraints, "critical,CA:TRUE" },
		{ NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature" },
		{ NID_subject_key_identifier, "hash" },
		{ NID_authority_key_identifier, "keyid:always" },
	};

	*out = NULL;
	return cert_build(key, NULL, key, cn, days, exts, NEXTS(exts), NULL, 0, out, err);
}

int margo_cert_create_server(EVP_PKEY *server_key, X509 *ca, EVP_PKEY *ca_key, const char *cn,
			     const char *const *sans, size_t nsans, int days, X509 **out,
			     struct margo_error *err)
{
	static const struct cert_ext exts[] = {
		{ NID_basic_constraints, "critical,CA:FALSE" },
		{ NID_key_usage, "critical,digitalSignature" },
		{ NID_ext_key_usage, "serverAuth" },
		{ NID_subject_key_identifier, "hash" },
		{ NID_authority_key_identifier, "keyid:always" },
	};

	*out = NULL;
	if (ca == NULL || ca_key == NULL)
		return margo_error_set(err, MARGO_EINVAL, "no CA to issue the certificate");
	if (X509_check_private_key(ca, ca_key) != 1)
		return margo_ossl_error(err, MARGO_EINVAL, "CA key does not match the CA certificate");
	return cert_build(server_key, ca, ca_key, cn, days, exts, NEXTS(exts), sans, nsans, out,
			  err);
}

int margo_cert_create_self_signed(EVP_PKEY *key, const char *cn, int days, X509 **out,
				  struct margo_error *err)
{
	static const struct cert_ext exts[] = {
		{ NID_basic_constraints, "critical,CA:FALSE" },
		{ NID_key_usage, "critical,digitalSignature" },
		{ NID_ext_key_usage, "clientAuth" },
		{ NID_subject_key_identifier, "hash" },
	};

	*out = NULL;
	return cert_build(key, NULL, key, cn, days, exts, NEXTS(exts), NULL, 0, out, err);
}
