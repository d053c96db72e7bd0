#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "margo/error.h"
#include "margo/httpc.h"
#include "wfmctl.h"

#define CA_FILE_MAX (256 * 1024)
#define TOKEN_FILE_MAX 4096
#define URL_FILE_MAX 4096

/* Reads a whole small file; NUL-terminated. errno is kept for the caller's message. */
static int read_small_file(const char *path, size_t max, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0;
	int ret = -1;

	*out = NULL;
	if (f == NULL)
		return -1;
	buf = malloc(max + 1);
	if (buf == NULL)
		goto out;
	n = fread(buf, 1, max + 1, f);
	if (ferror(f))
		goto out;
	if (n > max) {
		errno = EFBIG;
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
	ret = 0;
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, max + 1);
		free(buf);
	}
	fclose(f);
	return ret;
}

static void trim_right(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

static const char *env_or(const char *value, const char *name)
{
	const char *e;

	if (value != NULL)
		return value;
	e = getenv(name);
	return e != NULL && *e != '\0' ? e : NULL;
}

static char *path_in(const char *dir, const char *file)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, file) < 0)
		return NULL;
	return p;
}

static int read_url(struct wfmctl *ctx, const char *url, const char *data_dir)
{
	char *path = NULL, *text = NULL;
	size_t len;
	int ret;

	if (url != NULL) {
		text = strdup(url);
		if (text == NULL)
			return wfmctl_fail(ctx, "out of memory");
	} else {
		struct stat st;

		errno = 0;
		if (stat(data_dir, &st) != 0 || !S_ISDIR(st.st_mode))
			return wfmctl_fail(ctx, "data directory %s: %s", data_dir,
					   errno ? strerror(errno) : "not a directory");
		path = path_in(data_dir, "public-url");
		if (path == NULL)
			return wfmctl_fail(ctx, "out of memory");
		if (read_small_file(path, URL_FILE_MAX, &text, &len) != 0) {
			ret = wfmctl_fail(ctx, "cannot read %s: %s (has wfmd been started with "
					  "--data-dir %s?)", path, strerror(errno), data_dir);
			free(path);
			return ret;
		}
		free(path);
		trim_right(text);
	}
	while (strlen(text) > 0 && text[strlen(text) - 1] == '/')
		text[strlen(text) - 1] = '\0';
	if (strncasecmp(text, "https://", 8) != 0 || text[8] == '\0' ||
	    strpbrk(text, " \t\r\n") != NULL) {
		ret = wfmctl_fail(ctx, "server URL '%s' is not an https:// URL", text);
		free(text);
		return ret;
	}
	ctx->base_url = text;
	return WFMCTL_EXIT_OK;
}

static int read_token(struct wfmctl *ctx, const char *path)
{
	struct stat st;
	char *text = NULL;
	size_t len;
	int ret = WFMCTL_EXIT_OK;

	if (read_small_file(path, TOKEN_FILE_MAX, &text, &len) != 0)
		return wfmctl_fail(ctx, "cannot read admin token file %s: %s", path,
				   strerror(errno));
	trim_right(text);
	if (text[0] == '\0') {
		ret = wfmctl_fail(ctx, "admin token file %s is empty", path);
		goto out;
	}
	for (const char *p = text; *p != '\0'; p++) {
		if (!isgraph((unsigned char)*p)) {
			ret = wfmctl_fail(ctx, "admin token file %s must hold one token on one "
					  "line", path);
			goto out;
		}
	}
	if (stat(path, &st) == 0 && (st.st_mode & 0077) != 0)
		fprintf(stderr, "wfmctl: warning: admin token file %s is readable by others "
			"(chmod 600 it)\n", path);
	ctx->token = text;
	text = NULL;
out:
	if (text != NULL) {
		OPENSSL_cleanse(text, strlen(text));
		free(text);
	}
	return ret;
}

int wfmctl_connect(struct wfmctl *ctx)
{
	struct margo_http_options opts = { 0 };
	struct margo_error err = { 0 };
	const char *url = env_or(ctx->url, "WFMCTL_URL");
	const char *ca_file = env_or(ctx->ca_file, "WFMCTL_CA_FILE");
	const char *token_file = env_or(ctx->token_file, "WFMCTL_TOKEN_FILE");
	const char *data_dir = env_or(ctx->data_dir, "WFMCTL_DATA_DIR");
	char *ca_path = NULL, *token_path = NULL, *ca_pem = NULL;
	size_t len;
	int ret;

	if (ctx->http != NULL)
		return WFMCTL_EXIT_OK;
	if (data_dir == NULL && (url == NULL || ca_file == NULL || token_file == NULL)) {
		if (url == NULL && ca_file == NULL && token_file == NULL)
			return wfmctl_usage_error(ctx, "no server given: use --data-dir DIR, or "
						  "--url URL --ca-file FILE --token-file FILE");
		return wfmctl_usage_error(ctx, "without --data-dir, all of --url, --ca-file "
					  "and --token-file are needed");
	}
	ret = read_url(ctx, url, data_dir);
	if (ret != WFMCTL_EXIT_OK)
		goto out;
	ca_path = ca_file != NULL ? strdup(ca_file) : path_in(data_dir, "ca.crt");
	token_path = token_file != NULL ? strdup(token_file) : path_in(data_dir, "admin.token");
	if (ca_path == NULL || token_path == NULL) {
		ret = wfmctl_fail(ctx, "out of memory");
		goto out;
	}
	if (read_small_file(ca_path, CA_FILE_MAX, &ca_pem, &len) != 0) {
		ret = wfmctl_fail(ctx, "cannot read CA certificate %s: %s", ca_path,
				  strerror(errno));
		goto out;
	}
	if (strstr(ca_pem, "-----BEGIN CERTIFICATE-----") == NULL) {
		ret = wfmctl_fail(ctx, "%s is not a PEM certificate (the WFM root CA, ca.crt)",
				  ca_path);
		goto out;
	}
	ret = read_token(ctx, token_path);
	if (ret != WFMCTL_EXIT_OK)
		goto out;
	opts.ca_pem = ca_pem;
	opts.connect_timeout_s = 10;
	opts.timeout_s = 60;
	if (margo_http_client_new(&opts, &ctx->http, &err) != MARGO_OK) {
		ret = wfmctl_fail(ctx, "%s", err.message);
		goto out;
	}
	ret = WFMCTL_EXIT_OK;
out:
	free(ca_path);
	free(token_path);
	free(ca_pem);
	return ret;
}

void wfmctl_disconnect(struct wfmctl *ctx)
{
	margo_http_client_free(ctx->http);
	ctx->http = NULL;
	free(ctx->base_url);
	ctx->base_url = NULL;
	if (ctx->token != NULL) {
		OPENSSL_cleanse(ctx->token, strlen(ctx->token));
		free(ctx->token);
		ctx->token = NULL;
	}
}

char *wfmctl_path_join(const char *path, const char *segment)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(path), k;
	char *out = malloc(n + 1 + strlen(segment) * 3 + 1);

	if (out == NULL)
		return NULL;
	memcpy(out, path, n);
	k = n;
	out[k++] = '/';
	for (const unsigned char *p = (const unsigned char *)segment; *p != '\0'; p++) {
		/* RFC 3986 unreserved characters and ':' (fingerprints) stay as they are. */
		if (isalnum(*p) || strchr("-._~:", *p) != NULL) {
			out[k++] = (char)*p;
		} else {
			out[k++] = '%';
			out[k++] = hex[*p >> 4];
			out[k++] = hex[*p & 15];
		}
	}
	out[k] = '\0';
	return out;
}

void wfmctl_print_raw(const char *raw)
{
	size_t n;

	if (raw == NULL || *raw == '\0')
		return;
	n = strlen(raw);
	fputs(raw, stdout);
	if (raw[n - 1] != '\n')
		putchar('\n');
}

int wfmctl_request(struct wfmctl *ctx, const char *method, const char *path,
		   const char *content_type, const char *body, size_t body_len,
		   struct margo_http_response *resp)
{
	struct margo_error err = { 0 };
	struct margo_http_header headers[3];
	char *url = NULL, *auth = NULL;
	size_t nheaders = 0;
	int ret;

	memset(resp, 0, sizeof(*resp));
	ret = wfmctl_connect(ctx);
	if (ret != WFMCTL_EXIT_OK)
		return ret;
	if (asprintf(&url, "%s%s", ctx->base_url, path) < 0) {
		url = NULL;
		ret = wfmctl_fail(ctx, "out of memory");
		goto out;
	}
	if (asprintf(&auth, "Bearer %s", ctx->token) < 0) {
		auth = NULL;
		ret = wfmctl_fail(ctx, "out of memory");
		goto out;
	}
	headers[nheaders++] = (struct margo_http_header){ "Authorization", auth };
	headers[nheaders++] = (struct margo_http_header){ "Accept", "application/json" };
	if (body != NULL)
		headers[nheaders++] = (struct margo_http_header){ "Content-Type", content_type };
	if (margo_http_request(ctx->http, method, url, headers, nheaders, body, body_len, resp,
			       &err) != MARGO_OK) {
		ret = wfmctl_fail(ctx, "%s", err.message);
		goto out;
	}
	ret = WFMCTL_EXIT_OK;
out:
	if (auth != NULL) {
		OPENSSL_cleanse(auth, strlen(auth));
		free(auth);
	}
	free(url);
	return ret;
}

int wfmctl_fail_response(struct wfmctl *ctx, const struct margo_http_response *resp)
{
	char *summary = margo_http_problem_summary(resp);
	int ret;

	ret = wfmctl_fail(ctx, "%s%s", summary != NULL ? summary : "request failed",
			  resp->status == 401 ? " (check the admin token file)" : "");
	free(summary);
	return ret;
}

int wfmctl_call(struct wfmctl *ctx, const char *method, const char *path, json_t *body,
		json_t **out, char **raw)
{
	struct margo_http_response resp = { 0 };
	char *text = NULL;
	json_error_t jerr;
	int ret;

	*out = NULL;
	if (raw != NULL)
		*raw = NULL;
	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT);
		if (text == NULL)
			return wfmctl_fail(ctx, "out of memory");
	}
	ret = wfmctl_request(ctx, method, path, "application/json", text,
			     text != NULL ? strlen(text) : 0, &resp);
	if (ret != WFMCTL_EXIT_OK)
		goto out;
	if (resp.status < 200 || resp.status > 299) {
		ret = wfmctl_fail_response(ctx, &resp);
		goto out;
	}
	if (resp.body_len > 0) {
		*out = json_loadb(resp.body, resp.body_len, JSON_DECODE_ANY, &jerr);
		if (*out == NULL) {
			ret = wfmctl_fail(ctx, "%ld response is not JSON: %s", resp.status,
					  jerr.text);
			goto out;
		}
	}
	if (raw != NULL) {
		*raw = resp.body;
		resp.body = NULL;
	}
	ret = WFMCTL_EXIT_OK;
out:
	/* The body of enrollment create holds a secret. */
	if (resp.body != NULL)
		OPENSSL_cleanse(resp.body, resp.body_len);
	margo_http_response_free(&resp);
	free(text);
	return ret;
}

