/* HTTP Message Signatures (RFC 9421) and Content-Digest (RFC 9530).
 *
 * The Signature-Input, Signature and Content-Digest fields are structured-field dictionaries
 * (RFC 8941); the parser below understands the subset they use: dictionary members whose
 * values are items or inner lists, parameters, and the bare item types integer, decimal,
 * string, token, byte sequence and boolean. Inputs are bounded by named limits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include "margo/base64.h"
#include "margo/error.h"
#include "margo/httpsig.h"
#include "ossl.h"

/* Bounds on untrusted input. */
#define SF_FIELD_MAX 8192      /* length of one structured header value */
#define SF_MEMBERS_MAX 16      /* dictionary members */
#define SF_INNER_MAX 32        /* items of an inner list (covered components) */
#define SF_PARAMS_MAX 16       /* parameters of one item or inner list */
#define SF_KEY_MAX 64          /* key length, NUL included */
#define HTTPSIG_BASE_MAX 65536 /* signature base */
#define RSA_BITS_MIN 2048

enum sf_type {
	SF_INTEGER = 1,
	SF_DECIMAL,
	SF_STRING,
	SF_TOKEN,
	SF_BYTES,
	SF_BOOLEAN,
};

struct sf_bare {
	enum sf_type type;
	int64_t integer;      /* SF_INTEGER; SF_BOOLEAN 0/1 */
	char *text;           /* SF_STRING (unescaped), SF_TOKEN, SF_DECIMAL (as written) */
	unsigned char *bytes; /* SF_BYTES */
	size_t nbytes;
};

struct sf_param {
	char key[SF_KEY_MAX];
	struct sf_bare value;
};

struct sf_params {
	struct sf_param *v;
	size_t n;
};

struct sf_item {
	struct sf_bare bare;
	struct sf_params params;
};

struct sf_member {
	char key[SF_KEY_MAX];
	int is_inner;
	struct sf_item item;    /* when !is_inner */
	struct sf_item *inner;  /* when is_inner */
	size_t ninner;
	struct sf_params params; /* of the inner list */
};

struct sf_dict {
	struct sf_member *v;
	size_t n;
};

struct sf_parser {
	const char *s;
	size_t len;
	size_t pos;
};

static void sf_bare_free(struct sf_bare *b)
{
	free(b->text);
	free(b->bytes);
	b->text = NULL;
	b->bytes = NULL;
}

static void sf_params_free(struct sf_params *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		sf_bare_free(&p->v[i].value);
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

static void sf_item_free(struct sf_item *it)
{
	sf_bare_free(&it->bare);
	sf_params_free(&it->params);
}

static int sf_peek(struct sf_parser *p)
{
	return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static int is_lcalpha(int c)
{
	return c >= 'a' && c <= 'z';
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 9110 tchar */
static int is_tchar(int c)
{
	return is_alpha(c) || is_digit(c) || (c > 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void sf_skip_sp(struct sf_parser *p)
{
	while (sf_peek(p) == ' ')
		p->pos++;
}

static void sf_skip_ows(struct sf_parser *p)
{
	while (sf_peek(p) == ' ' || sf_peek(p) == '\t')
		p->pos++;
}

static int sf_parse_key(struct sf_parser *p, char key[SF_KEY_MAX])
{
	size_t n = 0;
	int c = sf_peek(p);

	if (!is_lcalpha(c) && c != '*')
		return MARGO_EINVAL;
	while ((c = sf_peek(p)) >= 0 &&
	       (is_lcalpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.' || c == '*')) {
		if (n + 1 >= SF_KEY_MAX)
			return MARGO_EINVAL;
		key[n++] = (char)c;
		p->pos++;
	}
	key[n] = '\0';
	return MARGO_OK;
}

static int sf_parse_number(struct sf_parser *p, struct sf_bare *out)
{
	size_t start = p->pos, ndigits = 0, nfrac = 0;
	int neg = 0, dot = 0, c;
	int64_t v = 0;

	if (sf_peek(p) == '-') {
		neg = 1;
		p->pos++;
	}
	if (!is_digit(sf_peek(p)))
		return MARGO_EINVAL;
	while ((c = sf_peek(p)) >= 0) {
		if (is_digit(c)) {
			if (dot)
				nfrac++;
			else
				ndigits++;
			if ((!dot && ndigits > 15) || nfrac > 3)
				return MARGO_EINVAL;
			if (!dot)
				v = v * 10 + (c - '0');
		} else if (c == '.' && !dot) {
			if (ndigits > 12)
				return MARGO_EINVAL;
			dot = 1;
		} else {
			break;
		}
		p->pos++;
	}
	if (dot) {
		/* kept as canonical text (RFC 8941 section 4.1.5): no leading zeros in the
		 * integer part, no trailing zeros in the fraction but at least one digit */
		char frac[4];
		const char *f = memchr(p->s + start, '.', p->pos - start) + 1;
		size_t nf = nfrac;

		if (nfrac == 0)
			return MARGO_EINVAL;
		while (nf > 1 && f[nf - 1] == '0')
			nf--;
		memcpy(frac, f, nf);
		frac[nf] = '\0';
		out->type = SF_DECIMAL;
		if (asprintf(&out->text, "%s%lld.%s", neg && (v != 0 || strcmp(frac, "0") != 0) ?
			     "-" : "", (long long)v, frac) < 0) {
			out->text = NULL;
			return MARGO_ENOMEM;
		}
		return MARGO_OK;
	}
	out->type = SF_INTEGER;
	out->integer = neg ? -v : v;
	return MARGO_OK;
}

static int sf_parse_string(struct sf_parser *p, struct sf_bare *out)
{
	char *buf;
	size_t n = 0;
	int c;

	p->pos++; /* opening quote */
	buf = malloc(p->len - p->pos + 1);
	if (buf == NULL)
		return MARGO_ENOMEM;
	for (;;) {
		c = sf_peek(p);
		if (c < 0)
			goto bad;
		p->pos++;
		if (c == '"')
			break;
		if (c == '\\') {
			c = sf_peek(p);
			if (c != '"' && c != '\\')
				goto bad;
			p->pos++;
		} else if (c < 0x20 || c > 0x7e) {
			goto bad;
		}
		buf[n++] = (char)c;
	}
	buf[n] = '\0';
	out->type = SF_STRING;
	out->text = buf;
	return MARGO_OK;
bad:
	free(buf);
	return MARGO_EINVAL;
}

static int sf_parse_token(struct sf_parser *p, struct sf_bare *out)
{
	size_t start = p->pos;
	int c;

	p->pos++;
	while ((c = sf_peek(p)) >= 0 && (is_tchar(c) || c == ':' || c == '/'))
		p->pos++;
	out->type = SF_TOKEN;
	out->text = strndup(p->s + start, p->pos - start);
	return out->text == NULL ? MARGO_ENOMEM : MARGO_OK;
}

static int sf_parse_bytes(struct sf_parser *p, struct sf_bare *out)
{
	size_t start = ++p->pos;
	int c, rc;

	while ((c = sf_peek(p)) >= 0 && c != ':') {
		if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '/' && c != '=')
			return MARGO_EINVAL;
		p->pos++;
	}
	if (c != ':')
		return MARGO_EINVAL;
	rc = margo_base64_decode(p->s + start, p->pos - start, &out->bytes, &out->nbytes);
	p->pos++;
	if (rc != MARGO_OK)
		return rc;
	out->type = SF_BYTES;
	return MARGO_OK;
}

static int sf_parse_bare(struct sf_parser *p, struct sf_bare *out)
{
	int c = sf_peek(p);

	memset(out, 0, sizeof(*out));
	if (c == '-' || is_digit(c))
		return sf_parse_number(p, out);
	if (c == '"')
		return sf_parse_string(p, out);
	if (is_alpha(c) || c == '*')
		return sf_parse_token(p, out);
	if (c == ':')
		return sf_parse_bytes(p, out);
	if (c == '?') {
		p->pos++;
		c = sf_peek(p);
		if (c != '0' && c != '1')
			return MARGO_EINVAL;
		p->pos++;
		out->type = SF_BOOLEAN;
		out->integer = c == '1';
		return MARGO_OK;
	}
	return MARGO_EINVAL;
}

static int sf_parse_params(struct sf_parser *p, struct sf_params *out)
{
	int rc;

	while (sf_peek(p) == ';') {
		struct sf_param param;
		size_t i;

		p->pos++;
		sf_skip_sp(p);
		memset(&param, 0, sizeof(param));
		rc = sf_parse_key(p, param.key);
		if (rc != MARGO_OK)
			return rc;
		if (sf_peek(p) == '=') {
			p->pos++;
			rc = sf_parse_bare(p, &param.value);
			if (rc != MARGO_OK) {
				sf_bare_free(&param.value);
				return rc;
			}
		} else {
			param.value.type = SF_BOOLEAN;
			param.value.integer = 1;
		}
		/* A repeated key overwrites the earlier value, keeping its position. */
		for (i = 0; i < out->n; i++)
			if (strcmp(out->v[i].key, param.key) == 0)
				break;
		if (i < out->n) {
			sf_bare_free(&out->v[i].value);
			out->v[i].value = param.value;
			continue;
		}
		if (out->n == SF_PARAMS_MAX) {
			sf_bare_free(&param.value);
			return MARGO_EINVAL;
		}
		if (out->v == NULL) {
			out->v = calloc(SF_PARAMS_MAX, sizeof(*out->v));
			if (out->v == NULL) {
				sf_bare_free(&param.value);
				return MARGO_ENOMEM;
			}
		}
		out->v[out->n++] = param;
	}
	return MARGO_OK;
}

static int sf_parse_item(struct sf_parser *p, struct sf_item *out)
{
	int rc = sf_parse_bare(p, &out->bare);

	if (rc != MARGO_OK)
		return rc;
	return sf_parse_params(p, &out->params);
}

static int sf_parse_inner_list(struct sf_parser *p, struct sf_member *m)
{
	int rc;

	p->pos++; /* '(' */
	m->is_inner = 1;
	for (;;) {
		int c;

		sf_skip_sp(p);
		c = sf_peek(p);
		if (c == ')') {
			p->pos++;
			return sf_parse_params(p, &m->params);
		}
		if (m->ninner == SF_INNER_MAX)
			return MARGO_EINVAL;
		if (m->inner == NULL) {
			m->inner = calloc(SF_INNER_MAX, sizeof(*m->inner));
			if (m->inner == NULL)
				return MARGO_ENOMEM;
		}
		rc = sf_parse_item(p, &m->inner[m->ninner++]);
		if (rc != MARGO_OK)
			return rc;
		c = sf_peek(p);
		if (c != ' ' && c != ')')
			return MARGO_EINVAL;
	}
}

static void sf_member_free(struct sf_member *m)
{
	size_t j;

	sf_item_free(&m->item);
	for (j = 0; j < m->ninner; j++)
		sf_item_free(&m->inner[j]);
	free(m->inner);
	sf_params_free(&m->params);
	memset(m, 0, sizeof(*m));
}

static void sf_dict_free(struct sf_dict *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		sf_member_free(&d->v[i]);
	free(d->v);
	d->v = NULL;
	d->n = 0;
}

static int sf_parse_dictionary(const char *s, size_t len, struct sf_dict *out)
{
	struct sf_parser p = { s, len, 0 };
	int rc;

	memset(out, 0, sizeof(*out));
	if (len > SF_FIELD_MAX)
		return MARGO_ETOOBIG;
	out->v = calloc(SF_MEMBERS_MAX, sizeof(*out->v));
	if (out->v == NULL)
		return MARGO_ENOMEM;
	sf_skip_sp(&p);
	if (p.pos == p.len)
		return MARGO_OK; /* empty dictionary */
	for (;;) {
		struct sf_member m;
		size_t i;

		memset(&m, 0, sizeof(m));
		rc = sf_parse_key(&p, m.key);
		if (rc != MARGO_OK)
			goto bad;
		if (sf_peek(&p) == '=') {
			p.pos++;
			if (sf_peek(&p) == '(')
				rc = sf_parse_inner_list(&p, &m);
			else
				rc = sf_parse_item(&p, &m.item);
		} else {
			m.item.bare.type = SF_BOOLEAN;
			m.item.bare.integer = 1;
			rc = sf_parse_params(&p, &m.item.params);
		}
		if (rc != MARGO_OK) {
			sf_member_free(&m);
			goto bad;
		}
		for (i = 0; i < out->n; i++)
			if (strcmp(out->v[i].key, m.key) == 0)
				break;
		if (i < out->n) {
			/* RFC 8941: a later member with the same key replaces the earlier one */
			sf_member_free(&out->v[i]);
			out->v[i] = m;
		} else if (out->n == SF_MEMBERS_MAX) {
			sf_member_free(&m);
			rc = MARGO_EINVAL;
			goto bad;
		} else {
			out->v[out->n++] = m;
		}
		sf_skip_ows(&p);
		if (p.pos == p.len)
			return MARGO_OK;
		if (sf_peek(&p) != ',') {
			rc = MARGO_EINVAL;
			goto bad;
		}
		p.pos++;
		sf_skip_ows(&p);
		if (p.pos == p.len) {
			rc = MARGO_EINVAL; /* trailing comma */
			goto bad;
		}
	}
bad:
	sf_dict_free(out);
	return rc;
}

static const struct sf_member *sf_dict_get(const struct sf_dict *d, const char *key)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (strcmp(d->v[i].key, key) == 0)
			return &d->v[i];
	return NULL;
}

/* A growing string buffer. */
struct buf {
	char *s;
	size_t len;
	size_t cap;
	int failed;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > HTTPSIG_BASE_MAX) {
		b->failed = MARGO_ETOOBIG;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *ns;

		while (cap < b->len + n + 1)
			cap *= 2;
		ns = realloc(b->s, cap);
		if (ns == NULL) {
			b->failed = MARGO_ENOMEM;
			return;
		}
		b->s = ns;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Serializes a bare item (RFC 8941 section 4.1.3-4.1.9). */
static void sf_serialize_bare(struct buf *b, const struct sf_bare *v)
{
	char num[32];
	char *b64;
	const char *t;

	switch (v->type) {
	case SF_INTEGER:
		snprintf(num, sizeof(num), "%lld", (long long)v->integer);
		buf_str(b, num);
		break;
	case SF_DECIMAL:
	case SF_TOKEN:
		buf_str(b, v->text);
		break;
	case SF_STRING:
		buf_str(b, "\"");
		for (t = v->text; *t != '\0'; t++) {
			if (*t == '"' || *t == '\\')
				buf_str(b, "\\");
			buf_add(b, t, 1);
		}
		buf_str(b, "\"");
		break;
	case SF_BYTES:
		b64 = margo_base64_encode(v->bytes, v->nbytes, MARGO_BASE64_STD);
		if (b64 == NULL) {
			b->failed = MARGO_ENOMEM;
			break;
		}
		buf_str(b, ":");
		buf_str(b, b64);
		buf_str(b, ":");
		free(b64);
		break;
	case SF_BOOLEAN:
		buf_str(b, v->integer ? "?1" : "?0");
		break;
	}
}

static void sf_serialize_params(struct buf *b, const struct sf_params *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		buf_str(b, ";");
		buf_str(b, p->v[i].key);
		if (p->v[i].value.type == SF_BOOLEAN && p->v[i].value.integer)
			continue;
		buf_str(b, "=");
		sf_serialize_bare(b, &p->v[i].value);
	}
}

static const char *const alg_names[] = {
	[MARGO_HTTPSIG_ECDSA_P256_SHA256] = "ecdsa-p256-sha256",
	[MARGO_HTTPSIG_ECDSA_P384_SHA384] = "ecdsa-p384-sha384",
	[MARGO_HTTPSIG_RSA_V1_5_SHA256] = "rsa-v1_5-sha256",
	[MARGO_HTTPSIG_RSA_PSS_SHA512] = "rsa-pss-sha512",
};

const char *margo_httpsig_alg_name(enum margo_httpsig_alg alg)
{
	if (alg <= MARGO_HTTPSIG_ALG_NONE || alg > MARGO_HTTPSIG_RSA_PSS_SHA512)
		return NULL;
	return alg_names[alg];
}

enum margo_httpsig_alg margo_httpsig_alg_from_name(const char *name)
{
	int a;

	if (name == NULL)
		return MARGO_HTTPSIG_ALG_NONE;
	for (a = MARGO_HTTPSIG_ECDSA_P256_SHA256; a <= MARGO_HTTPSIG_RSA_PSS_SHA512; a++)
		if (strcmp(name, alg_names[a]) == 0)
			return (enum margo_httpsig_alg)a;
	return MARGO_HTTPSIG_ALG_NONE;
}

static const char *const derived_components[] = {
	"@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path",
	"@query", "@status",
};

/* Component identifiers we can cover: a known derived component or a lowercase field
 * name (RFC 9110 token). */
static int component_name_check(const char *name, struct margo_error *err)
{
	size_t i;

	if (name == NULL || name[0] == '\0')
		return margo_error_set(err, MARGO_EINVAL, "empty component identifier");
	if (name[0] == '@') {
		for (i = 0; i < sizeof(derived_components) / sizeof(derived_components[0]); i++)
			if (strcmp(name, derived_components[i]) == 0)
				return MARGO_OK;
		return margo_error_set(err, MARGO_EUNSUPPORTED,
				       "derived component %.64s is not supported", name);
	}
	for (i = 0; name[i] != '\0'; i++) {
		int c = (unsigned char)name[i];

		if (!is_tchar(c) || (c >= 'A' && c <= 'Z'))
			return margo_error_set(err, MARGO_EINVAL,
					       "component identifier must be a lowercase field name");
	}
	if (i > 128)
		return margo_error_set(err, MARGO_EINVAL, "component identifier too long");
	return MARGO_OK;
}

int margo_httpsig_signature_base(const char *const *components, size_t ncomponents,
				 const char *sig_params, margo_httpsig_resolve_fn resolve,
				 void *ctx, char **out, struct margo_error *err)
{
	struct buf b = { 0 };
	size_t i, j;
	int rc;

	*out = NULL;
	if (ncomponents > SF_INNER_MAX)
		return margo_error_set(err, MARGO_EINVAL, "too many covered components");
	for (i = 0; i < ncomponents; i++) {
		const char *value;

		rc = component_name_check(components[i], err);
		if (rc != MARGO_OK)
			goto out;
		for (j = 0; j < i; j++) {
			if (strcmp(components[i], components[j]) == 0) {
				rc = margo_error_set(err, MARGO_EINVAL,
						     "component %s is covered twice", components[i]);
				goto out;
			}
		}
		value = resolve(ctx, components[i]);
		if (value == NULL) {
			rc = margo_error_set(err, MARGO_EINVAL, "component %s is missing from the message",
					     components[i]);
			goto out;
		}
		/* A line break in a value would let it forge further lines of the base. */
		if (strpbrk(value, "\r\n") != NULL) {
			rc = margo_error_set(err, MARGO_EINVAL, "component %s has a line break",
					     components[i]);
			goto out;
		}
		buf_str(&b, "\"");
		buf_str(&b, components[i]);
		buf_str(&b, "\": ");
		buf_str(&b, value);
		buf_str(&b, "\n");
	}
	buf_str(&b, "\"@signature-params\": ");
	buf_str(&b, sig_params);
	if (b.failed) {
		rc = margo_error_set(err, b.failed, b.failed == MARGO_ENOMEM ? "out of memory" :
				     "signature base too large");
		goto out;
	}
	*out = b.s;
	b.s = NULL;
	rc = MARGO_OK;
out:
	free(b.s);
	return rc;
}

/* The algorithm a key implies: ECDSA by curve; RSA-PSS for RSA (and RSA-PSS) keys. */
static enum margo_httpsig_alg alg_for_key(EVP_PKEY *key)
{
	char group[64];
	size_t glen = 0;
	int nid;

	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_group_name(key, group, sizeof(group), &glen) != 1) {
			ERR_clear_error();
			return MARGO_HTTPSIG_ALG_NONE;
		}
		nid = OBJ_sn2nid(group);
		if (nid == NID_undef)
			nid = EC_curve_nist2nid(group);
		if (nid == NID_X9_62_prime256v1)
			return MARGO_HTTPSIG_ECDSA_P256_SHA256;
		if (nid == NID_secp384r1)
			return MARGO_HTTPSIG_ECDSA_P384_SHA384;
		return MARGO_HTTPSIG_ALG_NONE;
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		return MARGO_HTTPSIG_RSA_PSS_SHA512;
	default:
		return MARGO_HTTPSIG_ALG_NONE;
	}
}

/* 0 when alg can be used with key; MARGO_EAUTH (mismatch) or MARGO_EUNSUPPORTED. */
static int alg_check_key(enum margo_httpsig_alg alg, EVP_PKEY *key, struct margo_error *err)
{
	int type = EVP_PKEY_get_base_id(key);
	enum margo_httpsig_alg implied = alg_for_key(key);

	if (implied == MARGO_HTTPSIG_ALG_NONE)
		return margo_error_set(err, MARGO_EUNSUPPORTED,
				       "key type is not supported for HTTP message signatures");
	switch (alg) {
	case MARGO_HTTPSIG_ECDSA_P256_SHA256:
	case MARGO_HTTPSIG_ECDSA_P384_SHA384:
		if (implied != alg)
			return margo_error_set(err, MARGO_EAUTH, "algorithm %s does not match the key",
					       margo_httpsig_alg_name(alg));
		return MARGO_OK;
	case MARGO_HTTPSIG_RSA_V1_5_SHA256:
	case MARGO_HTTPSIG_RSA_PSS_SHA512:
		if (type != EVP_PKEY_RSA && !(type == EVP_PKEY_RSA_PSS &&
					      alg == MARGO_HTTPSIG_RSA_PSS_SHA512))
			return margo_error_set(err, MARGO_EAUTH, "algorithm %s does not match the key",
					       margo_httpsig_alg_name(alg));
		if (EVP_PKEY_get_bits(key) < RSA_BITS_MIN)
			return margo_error_set(err, MARGO_EUNSUPPORTED,
					       "RSA keys need at least %d bits", RSA_BITS_MIN);
		return MARGO_OK;
	default:
		return margo_error_set(err, MARGO_EUNSUPPORTED, "unsupported signature algorithm");
	}
}

static const EVP_MD *alg_md(enum margo_httpsig_alg alg)
{
	switch (alg) {
	case MARGO_HTTPSIG_ECDSA_P256_SHA256:
	case MARGO_HTTPSIG_RSA_V1_5_SHA256:
		return EVP_sha256();
	case MARGO_HTTPSIG_ECDSA_P384_SHA384:
		return EVP_sha384();
	default:
		return EVP_sha512();
	}
}

/* Width in bytes of r and s for the ECDSA algorithms, 0 for others. */
static size_t ecdsa_width(enum margo_httpsig_alg alg)
{
	if (alg == MARGO_HTTPSIG_ECDSA_P256_SHA256)
		return 32;
	if (alg == MARGO_HTTPSIG_ECDSA_P384_SHA384)
		return 48;
	return 0;
}

static int set_rsa_padding(EVP_PKEY_CTX *pctx, enum margo_httpsig_alg alg)
{
	if (alg == MARGO_HTTPSIG_RSA_PSS_SHA512)
		return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
		       EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha512()) > 0 &&
		       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 64) > 0;
	if (alg == MARGO_HTTPSIG_RSA_V1_5_SHA256)
		return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0;
	return 1;
}

/* Signs base; *sig is the wire form (raw r||s for ECDSA). */
static int sign_base(EVP_PKEY *key, enum margo_httpsig_alg alg, const char *base,
		     unsigned char **sig, size_t *siglen, struct margo_error *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *der = NULL, *raw = NULL;
	const unsigned char *p;
	ECDSA_SIG *es = NULL;
	size_t derlen = 0, w = ecdsa_width(alg);
	int rc = MARGO_OK;

	*sig = NULL;
	*siglen = 0;
	if (md == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	if (EVP_DigestSignInit(md, &pctx, alg_md(alg), NULL, key) != 1 ||
	    !set_rsa_padding(pctx, alg) ||
	    EVP_DigestSign(md, NULL, &derlen, (const unsigned char *)base, strlen(base)) != 1) {
		rc = margo_ossl_error(err, MARGO_ECRYPTO, "cannot sign");
		goto out;
	}
	der = OPENSSL_malloc(derlen);
	if (der == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	if (EVP_DigestSign(md, der, &derlen, (const unsigned char *)base, strlen(base)) != 1) {
		rc = margo_ossl_error(err, MARGO_ECRYPTO, "cannot sign");
		goto out;
	}
	if (w == 0) {
		*sig = der;
		*siglen = derlen;
		der = NULL;
		goto out;
	}
	/* ECDSA: DER ECDSA-Sig-Value to fixed-width r||s */
	p = der;
	es = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
	raw = OPENSSL_malloc(2 * w);
	if (es == NULL || raw == NULL ||
	    BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, (int)w) != (int)w ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + w, (int)w) != (int)w) {
		rc = margo_ossl_error(err, MARGO_ECRYPTO, "cannot convert ECDSA signature");
		goto out;
	}
	*sig = raw;
	*siglen = 2 * w;
	raw = NULL;
out:
	OPENSSL_free(raw);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(md);
	return rc;
}

/* 0 when sig is a valid signature of base under pub with alg, MARGO_EAUTH when not. */
static int verify_base(EVP_PKEY *pub, enum margo_httpsig_alg alg, const char *base,
		       const unsigned char *sig, size_t siglen, struct margo_error *err)
{
	EVP_MD_CTX *md = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *der = NULL;
	const unsigned char *vsig = sig;
	size_t vlen = siglen, w = ecdsa_width(alg);
	int rc = MARGO_OK, n;

	if (w != 0) {
		if (siglen != 2 * w)
			return margo_error_set(err, MARGO_EAUTH,
					       "%s signature must be %zu bytes, got %zu",
					       margo_httpsig_alg_name(alg), 2 * w, siglen);
		es = ECDSA_SIG_new();
		r = BN_bin2bn(sig, (int)w, NULL);
		s = BN_bin2bn(sig + w, (int)w, NULL);
		if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
			BN_free(r);
			BN_free(s);
			rc = margo_ossl_error(err, MARGO_ENOMEM, "out of memory");
			goto out;
		}
		n = i2d_ECDSA_SIG(es, &der);
		if (n <= 0) {
			rc = margo_ossl_error(err, MARGO_ECRYPTO, "cannot encode ECDSA signature");
			goto out;
		}
		vsig = der;
		vlen = (size_t)n;
	}
	md = EVP_MD_CTX_new();
	if (md == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	if (EVP_DigestVerifyInit(md, &pctx, alg_md(alg), NULL, pub) != 1 ||
	    !set_rsa_padding(pctx, alg)) {
		rc = margo_ossl_error(err, MARGO_ECRYPTO, "cannot set up signature verification");
		goto out;
	}
	if (EVP_DigestVerify(md, vsig, vlen, (const unsigned char *)base, strlen(base)) != 1) {
		ERR_clear_error();
		rc = margo_error_set(err, MARGO_EAUTH, "signature does not verify (%s)",
				     margo_httpsig_alg_name(alg));
		goto out;
	}
out:
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(md);
	return rc;
}

static int label_check(const char *label)
{
	size_t i;

	if (label == NULL || label[0] == '\0' || strlen(label) >= SF_KEY_MAX)
		return 0;
	if (!is_lcalpha((unsigned char)label[0]) && label[0] != '*')
		return 0;
	for (i = 1; label[i] != '\0'; i++) {
		int c = (unsigned char)label[i];

		if (!is_lcalpha(c) && !is_digit(c) && !strchr("_-.*", c))
			return 0;
	}
	return 1;
}

/* Serializes the signature parameters inner list: ("a" "b");created=...;keyid="..." */
static void serialize_sig_params(struct buf *b, const struct sf_item *items, size_t n,
				 const struct sf_params *params)
{
	size_t i;

	buf_str(b, "(");
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_str(b, " ");
		sf_serialize_bare(b, &items[i].bare);
		sf_serialize_params(b, &items[i].params);
	}
	buf_str(b, ")");
	sf_serialize_params(b, params);
}

int margo_httpsig_sign(EVP_PKEY *key, const char *label, const char *const *components,
		       size_t ncomponents, margo_httpsig_resolve_fn resolve, void *ctx,
		       int64_t created, const char *keyid, enum margo_httpsig_alg alg,
		       char **signature_input, char **signature, struct margo_error *err)
{
	struct sf_item items[SF_INNER_MAX];
	struct sf_param pv[3];
	struct sf_params params = { pv, 0 };
	struct buf sp = { 0 }, si = { 0 }, sg = { 0 };
	enum margo_httpsig_alg use = alg;
	char *base = NULL, *b64 = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0, i;
	int rc;

	*signature_input = NULL;
	*signature = NULL;
	if (key == NULL)
		return margo_error_set(err, MARGO_EINVAL, "no signing key");
	if (!label_check(label))
		return margo_error_set(err, MARGO_EINVAL, "invalid signature label");
	if (ncomponents > SF_INNER_MAX)
		return margo_error_set(err, MARGO_EINVAL, "too many covered components");
	if (created < 0 || created > 999999999999999LL)
		return margo_error_set(err, MARGO_EINVAL, "invalid created time");
	if (keyid != NULL) {
		if (strlen(keyid) >= sizeof(((struct margo_httpsig_result *)0)->keyid))
			return margo_error_set(err, MARGO_EINVAL, "keyid too long");
		for (i = 0; keyid[i] != '\0'; i++)
			if ((unsigned char)keyid[i] < 0x20 || (unsigned char)keyid[i] > 0x7e)
				return margo_error_set(err, MARGO_EINVAL,
						       "keyid must be printable ASCII");
	}
	if (use == MARGO_HTTPSIG_ALG_NONE)
		use = alg_for_key(key);
	if (margo_httpsig_alg_name(use) == NULL)
		return margo_error_set(err, MARGO_EUNSUPPORTED,
				       "key type is not supported for HTTP message signatures");
	rc = alg_check_key(use, key, err);
	if (rc != MARGO_OK)
		return rc;

	memset(items, 0, sizeof(items));
	for (i = 0; i < ncomponents; i++) {
		items[i].bare.type = SF_STRING;
		items[i].bare.text = (char *)components[i]; /* borrowed, never freed here */
	}
	memset(pv, 0, sizeof(pv));
	snprintf(pv[params.n].key, SF_KEY_MAX, "created");
	pv[params.n].value.type = SF_INTEGER;
	pv[params.n++].value.integer = created;
	if (keyid != NULL) {
		snprintf(pv[params.n].key, SF_KEY_MAX, "keyid");
		pv[params.n].value.type = SF_STRING;
		pv[params.n++].value.text = (char *)keyid;
	}
	if (alg != MARGO_HTTPSIG_ALG_NONE) {
		snprintf(pv[params.n].key, SF_KEY_MAX, "alg");
		pv[params.n].value.type = SF_STRING;
		pv[params.n++].value.text = (char *)margo_httpsig_alg_name(alg);
	}
	serialize_sig_params(&sp, items, ncomponents, &params);
	if (sp.failed) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	rc = margo_httpsig_signature_base(components, ncomponents, sp.s, resolve, ctx, &base, err);
	if (rc != MARGO_OK)
		goto out;
	rc = sign_base(key, use, base, &sig, &siglen, err);
	if (rc != MARGO_OK)
		goto out;
	b64 = margo_base64_encode(sig, siglen, MARGO_BASE64_STD);
	buf_str(&si, label);
	buf_str(&si, "=");
	buf_str(&si, sp.s);
	buf_str(&sg, label);
	buf_str(&sg, "=:");
	buf_str(&sg, b64 != NULL ? b64 : "");
	buf_str(&sg, ":");
	if (b64 == NULL || si.failed || sg.failed) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	*signature_input = si.s;
	*signature = sg.s;
	si.s = NULL;
	sg.s = NULL;
out:
	free(si.s);
	free(sg.s);
	free(sp.s);
	free(base);
	free(b64);
	OPENSSL_free(sig);
	return rc;
}

int margo_httpsig_verify(EVP_PKEY *pub, const char *signature_input, const char *signature,
			 const char *label, const char *const *required, size_t nrequired,
			 margo_httpsig_resolve_fn resolve, void *ctx,
			 struct margo_httpsig_result *result, struct margo_error *err)
{
	struct sf_dict inputs = { 0 }, sigs = { 0 };
	const struct sf_member *in, *sg;
	const char *components[SF_INNER_MAX];
	struct buf sp = { 0 };
	char *base = NULL;
	enum margo_httpsig_alg alg = MARGO_HTTPSIG_ALG_NONE;
	int64_t created = -1, expires = -1;
	const char *keyid = NULL;
	size_t i, j;
	int rc;

	if (pub == NULL || signature_input == NULL || signature == NULL)
		return margo_error_set(err, MARGO_EINVAL, "missing key or signature headers");
	rc = sf_parse_dictionary(signature_input, strlen(signature_input), &inputs);
	if (rc != MARGO_OK) {
		rc = margo_error_set(err, rc == MARGO_ENOMEM ? rc : MARGO_EINVAL,
				     "Signature-Input is not a valid structured dictionary");
		goto out;
	}
	rc = sf_parse_dictionary(signature, strlen(signature), &sigs);
	if (rc != MARGO_OK) {
		rc = margo_error_set(err, rc == MARGO_ENOMEM ? rc : MARGO_EINVAL,
				     "Signature is not a valid structured dictionary");
		goto out;
	}
	if (label == NULL) {
		if (inputs.n == 0) {
			rc = margo_error_set(err, MARGO_EINVAL, "Signature-Input is empty");
			goto out;
		}
		in = &inputs.v[0];
	} else {
		in = sf_dict_get(&inputs, label);
		if (in == NULL) {
			rc = margo_error_set(err, MARGO_EINVAL,
					     "Signature-Input has no signature labelled %.63s", label);
			goto out;
		}
	}
	sg = sf_dict_get(&sigs, in->key);
	if (sg == NULL) {
		rc = margo_error_set(err, MARGO_EINVAL, "Signature has no value labelled %s",
				     in->key);
		goto out;
	}
	if (!in->is_inner) {
		rc = margo_error_set(err, MARGO_EINVAL,
				     "Signature-Input %s is not an inner list", in->key);
		goto out;
	}
	if (sg->is_inner || sg->item.bare.type != SF_BYTES || sg->item.params.n != 0) {
		rc = margo_error_set(err, MARGO_EINVAL, "Signature %s is not a byte sequence",
				     in->key);
		goto out;
	}
	for (i = 0; i < in->ninner; i++) {
		if (in->inner[i].bare.type != SF_STRING) {
			rc = margo_error_set(err, MARGO_EINVAL,
					     "covered components must be strings");
			goto out;
		}
		if (in->inner[i].params.n != 0) {
			rc = margo_error_set(err, MARGO_EUNSUPPORTED,
					     "component parameters are not supported");
			goto out;
		}
		components[i] = in->inner[i].bare.text;
	}
	for (i = 0; i < in->params.n; i++) {
		const struct sf_param *p = &in->params.v[i];

		if (strcmp(p->key, "created") == 0 || strcmp(p->key, "expires") == 0) {
			if (p->value.type != SF_INTEGER || p->value.integer < 0) {
				rc = margo_error_set(err, MARGO_EINVAL,
						     "signature parameter %s must be an integer",
						     p->key);
				goto out;
			}
			*(p->key[0] == 'c' ? &created : &expires) = p->value.integer;
		} else if (strcmp(p->key, "keyid") == 0 || strcmp(p->key, "alg") == 0 ||
			   strcmp(p->key, "nonce") == 0 || strcmp(p->key, "tag") == 0) {
			if (p->value.type != SF_STRING) {
				rc = margo_error_set(err, MARGO_EINVAL,
						     "signature parameter %s must be a string", p->key);
				goto out;
			}
			if (p->key[0] == 'k') {
				keyid = p->value.text;
			} else if (p->key[0] == 'a') {
				alg = margo_httpsig_alg_from_name(p->value.text);
				if (alg == MARGO_HTTPSIG_ALG_NONE) {
					rc = margo_error_set(err, MARGO_EUNSUPPORTED,
							     "signature algorithm %.64s is not supported",
							     p->value.text);
					goto out;
				}
			}
		}
	}
	for (i = 0; i < nrequired; i++) {
		for (j = 0; j < in->ninner; j++)
			if (strcmp(required[i], components[j]) == 0)
				break;
		if (j == in->ninner) {
			rc = margo_error_set(err, MARGO_EINVAL,
					     "the signature must cover component %s", required[i]);
			goto out;
		}
	}
	if (keyid != NULL && strlen(keyid) >= sizeof(result->keyid)) {
		rc = margo_error_set(err, MARGO_EINVAL, "keyid too long");
		goto out;
	}
	serialize_sig_params(&sp, in->inner, in->ninner, &in->params);
	if (sp.failed) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	rc = margo_httpsig_signature_base(components, in->ninner, sp.s, resolve, ctx, &base, err);
	if (rc != MARGO_OK)
		goto out;
	if (alg != MARGO_HTTPSIG_ALG_NONE) {
		rc = alg_check_key(alg, pub, err);
		if (rc != MARGO_OK)
			goto out;
		rc = verify_base(pub, alg, base, sg->item.bare.bytes, sg->item.bare.nbytes, err);
	} else {
		alg = alg_for_key(pub);
		rc = alg == MARGO_HTTPSIG_ALG_NONE ? MARGO_EUNSUPPORTED : alg_check_key(alg, pub, err);
		if (rc == MARGO_EUNSUPPORTED && alg == MARGO_HTTPSIG_ALG_NONE)
			margo_error_set(err, rc, "key type is not supported for HTTP message signatures");
		if (rc == MARGO_OK)
			rc = verify_base(pub, alg, base, sg->item.bare.bytes, sg->item.bare.nbytes,
					 err);
		/* Without alg an RSA key may have signed with either RSA algorithm. */
		if (rc == MARGO_EAUTH && EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA) {
			alg = MARGO_HTTPSIG_RSA_V1_5_SHA256;
			rc = verify_base(pub, alg, base, sg->item.bare.bytes, sg->item.bare.nbytes,
					 err);
			if (rc == MARGO_EAUTH)
				margo_error_set(err, rc, "signature does not verify (RSA key, "
						"tried rsa-pss-sha512 and rsa-v1_5-sha256)");
		}
	}
	if (rc != MARGO_OK)
		goto out;
	if (result != NULL) {
		memset(result, 0, sizeof(*result));
		snprintf(result->label, sizeof(result->label), "%s", in->key);
		result->created = created;
		result->expires = expires;
		snprintf(result->keyid, sizeof(result->keyid), "%s", keyid != NULL ? keyid : "");
		result->alg = alg;
	}
out:
	free(base);
	free(sp.s);
	sf_dict_free(&inputs);
	sf_dict_free(&sigs);
	return rc;
}

char *margo_content_digest(const void *body, size_t len)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char *b64, *out;
	size_t n;

	SHA256(body != NULL ? body : (const void *)"", len, md);
	b64 = margo_base64_encode(md, sizeof(md), MARGO_BASE64_STD);
	if (b64 == NULL)
		return NULL;
	n = strlen(b64) + sizeof("sha-256=::");
	out = malloc(n);
	if (out != NULL)
		snprintf(out, n, "sha-256=:%s:", b64);
	free(b64);
	return out;
}

int margo_content_digest_verify(const char *header, const void *body, size_t len,
				struct margo_error *err)
{
	struct sf_dict d;
	unsigned char md[SHA512_DIGEST_LENGTH];
	const void *data = body != NULL ? body : (const void *)"";
	size_t i, understood = 0;
	int rc;

	if (header == NULL)
		return margo_error_set(err, MARGO_EINVAL, "no Content-Digest");
	rc = sf_parse_dictionary(header, strlen(header), &d);
	if (rc != MARGO_OK)
		return margo_error_set(err, rc == MARGO_ENOMEM ? rc : MARGO_EINVAL,
				       "Content-Digest is not a valid structured dictionary");
	for (i = 0; i < d.n; i++) {
		const struct sf_member *m = &d.v[i];
		size_t mdlen;

		if (strcmp(m->key, "sha-256") == 0) {
			SHA256(data, len, md);
			mdlen = SHA256_DIGEST_LENGTH;
		} else if (strcmp(m->key, "sha-512") == 0) {
			SHA512(data, len, md);
			mdlen = SHA512_DIGEST_LENGTH;
		} else {
			continue;
		}
		if (m->is_inner || m->item.bare.type != SF_BYTES) {
			rc = margo_error_set(err, MARGO_EINVAL, "Content-Digest %s is not a byte sequence",
					     m->key);
			goto out;
		}
		understood++;
		if (m->item.bare.nbytes != mdlen ||
		    CRYPTO_memcmp(m->item.bare.bytes, md, mdlen) != 0) {
			rc = margo_error_set(err, MARGO_EAUTH, "Content-Digest %s does not match the body",
					     m->key);
			goto out;
		}
	}
	if (understood == 0) {
		rc = margo_error_set(err, MARGO_EINVAL,
				     "Content-Digest has neither sha-256 nor sha-512");
		goto out;
	}
	rc = MARGO_OK;
out:
	sf_dict_free(&d);
	return rc;
}
