#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "https_explain.h"
#include "margo/timeutil.h"

#define MITM_ADVICE "a man in the middle, or the WFM's CA was replaced: re-onboard only after " \
	"the operator confirms the new pin"

static int64_t asn1_unix(const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

/* The leaf's DNS and IP subjectAltNames, comma-separated. */
static void leaf_names(X509 *leaf, char *out, size_t outlen)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	char ip[64];

	out[0] = '\0';
	for (int i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const char *s = NULL;

		if (g->type == GEN_DNS) {
			s = (const char *)ASN1_STRING_get0_data(g->d.dNSName);
		} else if (g->type == GEN_IPADD && g->d.iPAddress->length == 4) {
			const unsigned char *a = ASN1_STRING_get0_data(g->d.iPAddress);

			snprintf(ip, sizeof(ip), "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
			s = ip;
		} else if (g->type == GEN_IPADD) {
			s = "(an IPv6 address)";
		}
		if (s == NULL || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "0123456789.-*:()Pv6 ") != strlen(s))
			continue;
		if (strlen(out) + strlen(s) + 3 >= outlen)
			break;
		if (out[0] != '\0')
			strcat(out, ", ");
		strcat(out, s);
	}
	GENERAL_NAMES_free(gens);
}

void https_failure_capture(struct https_failure *f, SSL *ssl)
{
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	int n = chain != NULL ? sk_X509_num(chain) : 0;
	/* on the client side the presented chain starts with the server's own certificate */
	X509 *leaf = n > 0 ? sk_X509_value(chain, 0) : SSL_get0_peer_certificate(ssl);

	f->verify = SSL_get_verify_result(ssl);
	f->presented[0] = '\0';
	f->names[0] = '\0';
	if (n > 0 && margo_cert_fingerprint(sk_X509_value(chain, n - 1), f->presented) != 0)
		f->presented[0] = '\0';
	if (leaf != NULL) {
		f->not_before = asn1_unix(X509_get0_notBefore(leaf));
		f->not_after = asn1_unix(X509_get0_notAfter(leaf));
		leaf_names(leaf, f->names, sizeof(f->names));
	}
	f->device_now = margo_time_now();
}

int https_failure_is_time(const struct https_failure *f)
{
	return f->verify == X509_V_ERR_CERT_HAS_EXPIRED ||
	       f->verify == X509_V_ERR_CERT_NOT_YET_VALID;
}

static void explain_time(const struct https_failure *f, char *out, size_t outlen)
{
	char nb[MARGO_TIME_LEN], na[MARGO_TIME_LEN], dev[MARGO_TIME_LEN], wfm[MARGO_TIME_LEN];
	int64_t off;

	margo_time_format(f->not_before, nb);
	margo_time_format(f->not_after, na);
	margo_time_format(f->device_now, dev);
	if (f->server_date <= 0) {
		snprintf(out, outlen, "the WFM's certificate is valid from %s to %s but this "
			 "device's time is %s: check this device's clock (NTP); if it is right, the "
			 "operator must renew the WFM's certificate", nb, na, dev);
		return;
	}
	margo_time_format(f->server_date, wfm);
	off = f->device_now - f->server_date;
	if (f->server_date >= f->not_before && f->server_date <= f->not_after)
		snprintf(out, outlen, "this device's clock is %lld s %s the WFM; fix its time (NTP)"
			 " [device time %s, WFM time %s]", (long long)(off < 0 ? -off : off),
			 off < 0 ? "behind" : "ahead of", dev, wfm);
	else if (f->server_date > f->not_after)
		snprintf(out, outlen, "the WFM's server certificate expired at %s (WFM time %s): "
			 "the operator must renew it; refusing it until then", na, wfm);
	else
		snprintf(out, outlen, "the WFM's server certificate is not valid before %s (WFM "
			 "time %s): the operator must fix it; refusing it until then", nb, wfm);
}

void https_failure_explain(const struct https_failure *f, char *out, size_t outlen)
{
	switch (f->verify) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		explain_time(f, out, outlen);
		break;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		snprintf(out, outlen, "the WFM's certificate is not valid for %.64s (it names: %s): "
			 "use the URL the WFM's certificate was issued for (its public URL), or have "
			 "the operator add this name; refusing it until then", f->host,
			 f->names[0] != '\0' ? f->names : "nothing");
		break;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		snprintf(out, outlen, "the server at %.64s presented a certificate chain the pinned "
			 "CA did not issue (presented %s, pinned %s): " MITM_ADVICE, f->host,
			 f->presented[0] != '\0' ? f->presented : "unknown",
			 f->pinned[0] != '\0' ? f->pinned : "unknown");
		break;
	default:
		snprintf(out, outlen, "server certificate verification failed for %.64s: %s "
			 "(presented %s, pinned %s)", f->host, X509_verify_cert_error_string(f->verify),
			 f->presented[0] != '\0' ? f->presented : "unknown",
			 f->pinned[0] != '\0' ? f->pinned : "unknown");
	}
}

void https_pinned_fingerprint(const char *ca_pem, char out[MARGO_FINGERPRINT_LEN])
{
	BIO *bio = ca_pem != NULL ? BIO_new_mem_buf(ca_pem, -1) : NULL;
	X509 *x = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

	out[0] = '\0';
	if (x == NULL || margo_cert_fingerprint(x, out) != 0)
		out[0] = '\0';
	X509_free(x);
	BIO_free(bio);
	ERR_clear_error();
}
