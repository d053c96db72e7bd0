/* Enrollment-token CA MACs (enrollment_camac.h). */
#include <string.h>

#include "margo/cert.h"
#include "margo/log.h"
#include "margo/timeutil.h"
#include "enrollment_camac.h"
#include "store_camac.h"

/* The running CA and its fingerprint. */
static int running_ca(struct wfmd *w, X509 **ca, char fp[MARGO_FINGERPRINT_LEN],
		      struct margo_error *err)
{
	int rc = margo_cert_from_pem(w->ca_pem, strlen(w->ca_pem), ca, err);

	if (rc == 0 && margo_cert_fingerprint(*ca, fp) != 0)
		rc = margo_error_set(err, MARGO_ECRYPTO, "cannot fingerprint the CA");
	return rc;
}

int enrollment_ca_mac_record(struct wfmd *w, const char *token_id, const char *token,
			     struct margo_error *err)
{
	struct store_ca_mac m;
	X509 *ca = NULL;
	int rc;

	memset(&m, 0, sizeof(m));
	snprintf(m.token_id, sizeof(m.token_id), "%s", token_id);
	rc = running_ca(w, &ca, m.ca_fingerprint, err);
	if (rc == 0)
		rc = margo_token_lookup(token, m.lookup, err);
	if (rc == 0)
		rc = margo_ca_mac(token, ca, m.ca_mac, err);
	if (rc == 0)
		rc = store_ca_mac_add(w->store, &m, err);
	X509_free(ca);
	return rc;
}

int enrollment_ca_mac_find(struct wfmd *w, const char *lookup, char mac[MARGO_CA_MAC_LEN],
			   struct margo_error *err)
{
	char fp[MARGO_FINGERPRINT_LEN];
	struct store_ca_mac m;
	X509 *ca = NULL;
	int rc;

	rc = store_ca_mac_get(w->store, lookup, margo_time_now(), &m, err);
	if (rc == 0)
		rc = running_ca(w, &ca, fp, err);
	if (rc == 0 && strcmp(fp, m.ca_fingerprint) != 0) {
		margo_log_warn("enrollment token issued under another CA", "id=%s", m.token_id);
		rc = margo_error_set(err, MARGO_ECONFLICT,
				     "the enrollment token was issued under another root CA");
	}
	if (rc == 0)
		memcpy(mac, m.ca_mac, MARGO_CA_MAC_LEN);
	X509_free(ca);
	return rc;
}
