/* wfmctl cert add|list|remove: pre-registered device certificates, /admin/v1/certificates */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "wfmctl.h"

#define CERT_PATH "/admin/v1/certificates"
/* Request bodies are limited to 64 KiB; a certificate is far smaller. */
#define CERT_FILE_MAX (32 * 1024)

static const char add_help[] =
	"Usage: wfmctl cert add FILE [--description TEXT]\n"
	"\n"
	"Pre-registers a device's identity certificate (PEM or DER file). A device onboarding\n"
	"with this certificate's key is approved at once, without an enrollment token.\n"
	"Prints the certificate's fingerprint, the name 'cert list' and 'cert remove' use.\n"
	"\n"
	"Options:\n"
	"  --description TEXT   a note for 'cert list', e.g. the serial number\n"
	"\n"
	"Examples:\n"
	"  wfmctl --data-dir /var/lib/wfmd cert add device-0042.crt --description 'SN 0042'\n"
	"  openssl x509 -in device.crt -noout -fingerprint -sha256   # compare with the output\n";

static const char list_help[] =
	"Usage: wfmctl cert list\n"
	"\n"
	"Lists pre-registered device certificates: fingerprint, description, when added.\n"
	"\n"
	"Example:\n"
	"  wfmctl --data-dir /var/lib/wfmd cert list\n";

static const char remove_help[] =
	"Usage: wfmctl cert remove FINGERPRINT\n"
	"\n"
	"Removes a pre-registered certificate (sha256:<64 hex>, as 'cert list' prints it; the\n"
	"sha256: prefix and ':' between bytes are optional). Devices that already onboarded\n"
	"are not affected (see 'wfmctl device revoke').\n"
	"\n"
	"Example:\n"
	"  wfmctl --data-dir /var/lib/wfmd cert remove sha256:3b1f...e9\n";

/* Reads FILE, checks that it is one X.509 certificate and returns what we send: PEM text
 * as is, DER as standard base64. fingerprint gets "sha256:<hex>". */
static int load_certificate(struct wfmctl *ctx, const char *file, char **field,
			    char fingerprint[80])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const unsigned char *p;
	unsigned char *data = NULL;
	X509 *cert = NULL;
	BIO *bio = NULL;
	FILE *f = NULL;
	size_t n;
	int ret = WFMCTL_EXIT_FAIL, pem;

	*field = NULL;
	f = fopen(file, "rb");
	if (f == NULL)
		return wfmctl_fail(ctx, "cannot read %s: %s", file, strerror(errno));
	data = malloc(CERT_FILE_MAX + 1);
	if (data == NULL) {
		wfmctl_fail(ctx, "out of memory");
		goto out;
	}
	n = fread(data, 1, CERT_FILE_MAX + 1, f);
	if (ferror(f) || n > CERT_FILE_MAX) {
		wfmctl_fail(ctx, "cannot read %s: %s", file,
			    n > CERT_FILE_MAX ? "larger than a certificate can be" : strerror(errno));
		goto out;
	}
	data[n] = '\0';
	pem = strstr((char *)data, "-----BEGIN CERTIFICATE-----") != NULL;
	if (pem) {
		bio = BIO_new_mem_buf(data, (int)n);
		cert = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	} else {
		p = data;
		cert = d2i_X509(NULL, &p, (long)n);
	}
	if (cert == NULL) {
		wfmctl_fail(ctx, "%s is not an X.509 certificate (PEM or DER)", file);
		goto out;
	}
	if (X509_digest(cert, EVP_sha256(), md, &mdlen) != 1) {
		wfmctl_fail(ctx, "cannot compute the fingerprint of %s", file);
		goto out;
	}
	strcpy(fingerprint, "sha256:");
	for (unsigned int i = 0; i < mdlen; i++)
		sprintf(fingerprint + 7 + 2 * i, "%02x", md[i]);
	if (pem) {
		*field = strdup((char *)data);
	} else {
		*field = malloc(4 * ((n + 2) / 3) + 1);
		if (*field != NULL)
			EVP_EncodeBlock((unsigned char *)*field, data, (int)n);
	}
	if (*field == NULL) {
		wfmctl_fail(ctx, "out of memory");
		goto out;
	}
	ret = WFMCTL_EXIT_OK;
out:
	X509_free(cert);
	BIO_free(bio);
	free(data);
	if (f != NULL)
		fclose(f);
	return ret;
}

static int cert_add(struct wfmctl *ctx, int argc, char **argv)
{
	const char *description = NULL, *fp;
	struct wfmctl_opt opts[] = { { "description", &description, NULL }, { NULL, NULL, NULL } };
	char *pos[1], *field = NULL, *raw = NULL, fingerprint[80];
	json_t *body = NULL, *resp = NULL;
	int npos, ret;

	ret = wfmctl_parse_args(ctx, argc, argv, opts, pos, 1, &npos);
	if (ret != 0 || ctx->help)
		return ret != 0 ? ret : wfmctl_print_help(&wfmctl_cert_commands[0]);
	if (npos != 1)
		return wfmctl_usage_error(ctx, "which certificate? give its FILE");
	ret = load_certificate(ctx, pos[0], &field, fingerprint);
	if (ret != 0)
		return ret;
	body = json_pack("{s:s}", "certificate", field);
	if (body == NULL || (description != NULL && json_object_set_new(body, "description",
									json_string(description)) != 0)) {
		ret = wfmctl_fail(ctx, "cannot build the request (is --description valid UTF-8?)");
		goto out;
	}
	ret = wfmctl_call(ctx, "POST", CERT_PATH, body, &resp, &raw);
	if (ret != 0)
		goto out;
	if (ctx->json) {
		wfmctl_print_raw(raw);
		goto out;
	}
	fp = wfmctl_json_str(resp, "fingerprint");
	printf("Registered certificate %s\n", fp != NULL ? fp : fingerprint);
	if (description != NULL)
		wfmctl_kv(11, "description", description);
	printf("A device onboarding with this certificate is approved without a token.\n");
out:
	free(field);
	free(raw);
	json_decref(body);
	json_decref(resp);
	return ret;
}

static void cert_row(json_t *c, const char **cells, char *buf)
{
	(void)buf;
	cells[0] = wfmctl_json_str(c, "fingerprint");
	cells[1] = wfmctl_json_str(c, "description");
	cells[2] = wfmctl_json_str(c, "createdAt");
}

static int cert_list(struct wfmctl *ctx, int argc, char **argv)
{
	static const char *const headers[] = { "FINGERPRINT", "DESCRIPTION", "ADDED" };
	static const struct wfmctl_list list = {
		3, headers, "No pre-registered certificates. Add one with 'wfmctl cert add FILE'.",
		cert_row
	};
	int npos, ret;

	ret = wfmctl_parse_args(ctx, argc, argv, NULL, NULL, 0, &npos);
	if (ret != 0 || ctx->help)
		return ret != 0 ? ret : wfmctl_print_help(&wfmctl_cert_commands[1]);
	return wfmctl_list_table(ctx, CERT_PATH, &list);
}

/* "sha256:<64 lowercase hex>" from the forms people paste (prefix optional, any case,
 * ':' between bytes as openssl prints). -1 when it is not a SHA-256 fingerprint. */
static int normalise_fingerprint(const char *in, char out[80])
{
	size_t n = 0;

	if (strncasecmp(in, "sha256:", 7) == 0)
		in += 7;
	else if (strncasecmp(in, "sha256=", 7) == 0)
		in += 7;
	strcpy(out, "sha256:");
	for (; *in != '\0'; in++) {
		if (*in == ':')
			continue;
		if (!isxdigit((unsigned char)*in) || n == 64)
			return -1;
		out[7 + n++] = (char)tolower((unsigned char)*in);
	}
	out[7 + n] = '\0';
	return n == 64 ? 0 : -1;
}

static int cert_remove(struct wfmctl *ctx, int argc, char **argv)
{
	char *pos[1], *path = NULL, *raw = NULL, fingerprint[80];
	json_t *resp = NULL;
	int npos, ret;

	ret = wfmctl_parse_args(ctx, argc, argv, NULL, pos, 1, &npos);
	if (ret != 0 || ctx->help)
		return ret != 0 ? ret : wfmctl_print_help(&wfmctl_cert_commands[2]);
	if (npos != 1)
		return wfmctl_usage_error(ctx, "which certificate? give its FINGERPRINT");
	if (normalise_fingerprint(pos[0], fingerprint) != 0)
		return wfmctl_usage_error(ctx, "'%s' is not a fingerprint (sha256:<64 hex>)",
					  pos[0]);
	path = wfmctl_path_join(CERT_PATH, fingerprint);
	if (path == NULL)
		return wfmctl_fail(ctx, "out of memory");
	ret = wfmctl_call(ctx, "DELETE", path, NULL, &resp, &raw);
	if (ret == 0) {
		if (ctx->json)
			wfmctl_print_raw(raw);
		else
			printf("Removed certificate %s.\n", fingerprint);
	}
	free(path);
	free(raw);
	json_decref(resp);
	return ret;
}

const struct wfmctl_command wfmctl_cert_commands[] = {
	{ "cert", "add", cert_add, "pre-register a device certificate (auto-approved)", add_help },
	{ "cert", "list", cert_list, "list pre-registered certificates", list_help },
	{ "cert", "remove", cert_remove, "remove a pre-registered certificate", remove_help },
	{ NULL, NULL, NULL, NULL, NULL },
};
