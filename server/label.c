/* Label keys and values, and the selector grammar (label.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "label.h"

enum op { OP_EXISTS, OP_NOT_EXISTS, OP_EQ, OP_NE, OP_IN, OP_NOTIN };

struct requirement {
	enum op op;
	char *key;
	char **values;
	size_t nvalues;
};

struct selector {
	struct requirement *req;
	size_t n;
};

static int alnum(int c)
{
	return isascii(c) && isalnum(c);
}

static int name_char(int c)
{
	return alnum(c) || c == '-' || c == '_' || c == '.';
}

/* A name or a value: 1..63 of [A-Za-z0-9._-], alphanumeric at both ends. */
static int name_ok(const char *s, size_t len)
{
	if (len == 0 || len > LABEL_NAME_MAX || !alnum((unsigned char)s[0]) ||
	    !alnum((unsigned char)s[len - 1]))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!name_char((unsigned char)s[i]))
			return 0;
	return 1;
}

/* A DNS subdomain: dot-separated labels of [a-z0-9-], alphanumeric at both ends. */
static int prefix_ok(const char *s, size_t len)
{
	size_t start = 0;

	if (len == 0 || len > LABEL_PREFIX_MAX)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '.') {
			if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) ||
			      s[i] == '-'))
				return 0;
			continue;
		}
		if (i == start || i - start > 63 || s[start] == '-' || s[i - 1] == '-')
			return 0;
		start = i + 1;
	}
	return 1;
}

int label_key_check(const char *key, struct margo_error *err)
{
	const char *slash = strchr(key, '/');

	if (slash == NULL) {
		if (name_ok(key, strlen(key)))
			return 0;
	} else if (prefix_ok(key, (size_t)(slash - key)) && name_ok(slash + 1, strlen(slash + 1))) {
		return 0;
	}
	return margo_error_set(err, MARGO_EINVAL,
			       "invalid label key \"%.80s\": expected [prefix/]name, name 1-63 of "
			       "A-Z a-z 0-9 . _ - starting and ending alphanumeric, prefix a DNS "
			       "subdomain", key);
}

int label_value_check(const char *value, struct margo_error *err)
{
	size_t len = strlen(value);

	if (len == 0 || name_ok(value, len))
		return 0;
	return margo_error_set(err, MARGO_EINVAL,
			       "invalid label value \"%.80s\": expected empty or 1-63 of A-Z a-z "
			       "0-9 . _ - starting and ending alphanumeric", value);
}

int label_key_derived(const char *key)
{
	return strncmp(key, LABEL_DERIVED_PREFIX, strlen(LABEL_DERIVED_PREFIX)) == 0;
}

void label_value_from_text(const char *text, char out[LABEL_VALUE_MAX + 1])
{
	size_t n = 0;

	while (*text != '\0' && !alnum((unsigned char)*text))
		text++;
	for (; *text != '\0' && n < LABEL_VALUE_MAX; text++)
		out[n++] = name_char((unsigned char)*text) ? *text : '-';
	while (n > 0 && !alnum((unsigned char)out[n - 1]))
		n--;
	out[n] = '\0';
}

/* ---- parsing ---- */

struct parser {
	const char *text;
	size_t pos;
	struct margo_error *err;
};

static void skip_blank(struct parser *p)
{
	while (p->text[p->pos] == ' ' || p->text[p->pos] == '\t')
		p->pos++;
}

static int fail(struct parser *p, const char *what)
{
	return margo_error_set(p->err, MARGO_EINVAL, "invalid selector at character %zu: %s",
			       p->pos + 1, what);
}

/* A key or value token: characters up to a delimiter, newly allocated into *out. */
static int token(struct parser *p, char **out)
{
	size_t start;

	skip_blank(p);
	start = p->pos;
	while (p->text[p->pos] != '\0' && strchr(" \t,()=!", p->text[p->pos]) == NULL)
		p->pos++;
	*out = strndup(p->text + start, p->pos - start);
	return *out == NULL ? margo_error_set(p->err, MARGO_ENOMEM, "out of memory") : 0;
}

static int word_is(struct parser *p, const char *word)
{
	size_t len = strlen(word);

	skip_blank(p);
	if (strncmp(p->text + p->pos, word, len) != 0 ||
	    (p->text[p->pos + len] != '(' && p->text[p->pos + len] != ' ' &&
	     p->text[p->pos + len] != '\t'))
		return 0;
	p->pos += len;
	return 1;
}

static int value_list(struct parser *p, struct requirement *r)
{
	skip_blank(p);
	if (p->text[p->pos] != '(')
		return fail(p, "expected '(' after in/notin");
	p->pos++;
	skip_blank(p);
	if (p->text[p->pos] == ')')
		return fail(p, "a value set needs at least one value");
	for (;;) {
		char *v, **grown;
		struct margo_error e;

		if (r->nvalues == SELECTOR_VALUES_MAX)
			return fail(p, "too many values in a set (at most 64)");
		if (token(p, &v) < 0)
			return MARGO_ENOMEM;
		if (v[0] == '\0') {
			free(v);
			return fail(p, "empty value in a set (write key= for an empty value)");
		}
		if (label_value_check(v, &e) < 0) {
			free(v);
			return fail(p, e.message);
		}
		grown = realloc(r->values, (r->nvalues + 1) * sizeof(*grown));
		if (grown == NULL) {
			free(v);
			return margo_error_set(p->err, MARGO_ENOMEM, "out of memory");
		}
		r->values = grown;
		r->values[r->nvalues++] = v;
		skip_blank(p);
		if (p->text[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->text[p->pos] == ')') {
			p->pos++;
			return 0;
		}
		return fail(p, "expected ',' or ')' in a value set");
	}
}

/* key, then an operator and its operand, or nothing (exists). */
static int operation(struct parser *p, struct requirement *r)
{
	const char *t;
	char *v;
	struct margo_error e;

	skip_blank(p);
	t = p->text + p->pos;
	if (word_is(p, "in") || word_is(p, "notin")) {
		r->op = t[0] == 'i' ? OP_IN : OP_NOTIN;
		return value_list(p, r);
	}
	if (t[0] == '=' || (t[0] == '!' && t[1] == '=')) {
		r->op = t[0] == '=' ? OP_EQ : OP_NE;
		p->pos += t[0] == '=' && t[1] == '=' ? 2 : t[0] == '!' ? 2 : 1;
		if (token(p, &v) < 0)
			return MARGO_ENOMEM;
		r->values = malloc(sizeof(*r->values));
		if (r->values == NULL) {
			free(v);
			return margo_error_set(p->err, MARGO_ENOMEM, "out of memory");
		}
		r->values[0] = v;
		r->nvalues = 1;
		if (label_value_check(v, &e) < 0)
			return fail(p, e.message);
		return 0;
	}
	if (t[0] == '\0' || t[0] == ',') {
		r->op = OP_EXISTS;
		return 0;
	}
	return fail(p, "expected =, ==, !=, in, notin, ',' or the end");
}

static int requirement(struct parser *p, struct requirement *r)
{
	struct margo_error e;
	int negated = 0;

	skip_blank(p);
	if (p->text[p->pos] == '!') {
		negated = 1;
		p->pos++;
	}
	if (token(p, &r->key) < 0)
		return MARGO_ENOMEM;
	if (r->key[0] == '\0')
		return fail(p, "expected a label key");
	if (label_key_check(r->key, &e) < 0)
		return fail(p, e.message);
	if (negated) {
		r->op = OP_NOT_EXISTS;
		skip_blank(p);
		if (p->text[p->pos] != '\0' && p->text[p->pos] != ',')
			return fail(p, "'!key' takes no operator");
		return 0;
	}
	return operation(p, r);
}

void selector_free(struct selector *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->req[i].key);
		for (size_t j = 0; j < s->req[i].nvalues; j++)
			free(s->req[i].values[j]);
		free(s->req[i].values);
	}
	free(s->req);
	free(s);
}

int selector_parse(const char *text, struct selector **out, struct margo_error *err)
{
	struct parser p = { text, 0, err };
	struct selector *s;
	int rc;

	*out = NULL;
	if (strlen(text) > SELECTOR_TEXT_MAX)
		return margo_error_set(err, MARGO_EINVAL, "selector longer than %d characters",
				       SELECTOR_TEXT_MAX);
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	for (;;) {
		struct requirement *grown;

		if (s->n == SELECTOR_REQUIREMENTS_MAX) {
			rc = fail(&p, "too many requirements (at most 32)");
			goto out;
		}
		grown = realloc(s->req, (s->n + 1) * sizeof(*grown));
		if (grown == NULL) {
			rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
			goto out;
		}
		s->req = grown;
		memset(&s->req[s->n], 0, sizeof(s->req[s->n]));
		s->n++;
		rc = requirement(&p, &s->req[s->n - 1]);
		if (rc < 0)
			goto out;
		skip_blank(&p);
		if (p.text[p.pos] == '\0')
			break;
		if (p.text[p.pos] != ',') {
			rc = fail(&p, "expected ',' between requirements");
			goto out;
		}
		p.pos++;
	}
	*out = s;
	s = NULL;
	rc = 0;
out:
	selector_free(s);
	return rc;
}

static const char *lookup(const struct label *labels, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(labels[i].key, key) == 0)
			return labels[i].value;
	return NULL;
}

static int in_set(const struct requirement *r, const char *v)
{
	for (size_t i = 0; i < r->nvalues; i++)
		if (strcmp(r->values[i], v) == 0)
			return 1;
	return 0;
}

int selector_matches(const struct selector *s, const struct label *labels, size_t n)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct requirement *r = &s->req[i];
		const char *v = lookup(labels, n, r->key);
		int ok;

		switch (r->op) {
		case OP_EXISTS: ok = v != NULL; break;
		case OP_NOT_EXISTS: ok = v == NULL; break;
		case OP_EQ:
		case OP_IN: ok = v != NULL && in_set(r, v); break;
		default: ok = v == NULL || !in_set(r, v); break;
		}
		if (!ok)
			return 0;
	}
	return 1;
}
