#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>

#include "margo/base64.h"
#include "margo/token.h"
#include "form.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int form_decode(const char *in, size_t len, char **out)
{
	char *s = malloc(len + 1);
	size_t i, j = 0;
	int hi, lo;

	if (s == NULL)
		return MARGO_ENOMEM;
	for (i = 0; i < len; i++) {
		if (in[i] == '+') {
			s[j++] = ' ';
		} else if (in[i] == '%') {
			if (i + 2 >= len)
				goto bad;
			hi = hexval(in[i + 1]);
			lo = hexval(in[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				goto bad;
			s[j++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (in[i] == '\0') {
			goto bad;
		} else {
			s[j++] = in[i];
		}
	}
	s[j] = '\0';
	*out = s;
	return 0;
bad:
	OPENSSL_cleanse(s, len + 1);
	free(s);
	return MARGO_EINVAL;
}

void form_clear(struct form *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n; i++) {
		free(f->fields[i].name);
		margo_secret_free(f->fields[i].value);
	}
	free(f->fields);
	f->fields = NULL;
	f->n = 0;
}

int form_parse(const char *body, size_t len, struct form *out, struct margo_error *err)
{
	size_t pos = 0, end, eq;
	struct form_field *fld;
	int rc;

	out->fields = calloc(FORM_MAX_FIELDS, sizeof(*out->fields));
	out->n = 0;
	if (out->fields == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	while (pos < len) {
		for (end = pos; end < len && body[end] != '&'; end++)
			;
		if (end == pos) {
			pos++;
			continue;
		}
		if (out->n == FORM_MAX_FIELDS)
			return margo_error_set(err, MARGO_EINVAL, "too many form fields");
		for (eq = pos; eq < end && body[eq] != '='; eq++)
			;
		fld = &out->fields[out->n];
		rc = form_decode(body + pos, eq - pos, &fld->name);
		if (rc == 0)
			rc = form_decode(body + (eq < end ? eq + 1 : end),
					 eq < end ? end - eq - 1 : 0, &fld->value);
		if (rc < 0) {
			free(fld->name);
			fld->name = NULL;
			return margo_error_set(err, rc, rc == MARGO_ENOMEM ? "out of memory" :
					       "malformed form encoding");
		}
		out->n++;
		pos = end + 1;
	}
	return 0;
}

const char *form_get(const struct form *f, const char *name, size_t *count)
{
	const char *v = NULL;
	size_t c = 0;

	for (size_t i = 0; i < f->n; i++) {
		if (strcmp(f->fields[i].name, name) == 0) {
			if (v == NULL)
				v = f->fields[i].value;
			c++;
		}
	}
	if (count != NULL)
		*count = c;
	return v;
}

int form_basic_parse(const char *authorization, char **id, char **secret,
		     struct margo_error *err)
{
	unsigned char *dec = NULL;
	size_t dec_len = 0, i;
	const char *p = authorization;
	char *colon;
	int rc;

	*id = NULL;
	*secret = NULL;
	while (*p == ' ')
		p++;
	if (strncasecmp(p, "Basic", 5) != 0 || (p[5] != ' ' && p[5] != '\t'))
		return margo_error_set(err, MARGO_ENOTFOUND, "not Basic authentication");
	p += 6;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return margo_error_set(err, MARGO_EINVAL, "empty Basic credentials");
	if (margo_base64_decode(p, strlen(p), &dec, &dec_len) < 0)
		return margo_error_set(err, MARGO_EINVAL, "Basic credentials are not base64");
	for (i = 0; i < dec_len; i++) {
		if (dec[i] == '\0')
			break;
	}
	colon = memchr(dec, ':', dec_len);
	if (i < dec_len || colon == NULL) {
		rc = margo_error_set(err, MARGO_EINVAL, "Basic credentials need id:secret");
		goto out;
	}
	if (form_decode((char *)dec, (size_t)(colon - (char *)dec), id) < 0 ||
	    form_decode(colon + 1, dec_len - (size_t)(colon + 1 - (char *)dec), secret) < 0) {
		free(*id);
		margo_secret_free(*secret);
		*id = NULL;
		*secret = NULL;
		rc = margo_error_set(err, MARGO_EINVAL, "malformed encoding in Basic credentials");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(dec, dec_len);
	free(dec);
	return rc;
}
