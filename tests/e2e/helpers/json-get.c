/* json-get: a tiny JSON getter for the end-to-end scenarios (no jq, no python there).
 *
 *   json-get FILE POINTER           value at the RFC 6901 pointer: strings raw, anything else
 *                                   as compact JSON (201, true, null, {"a":1})
 *   json-get --type FILE POINTER    object, array, string, integer, real, true, false, null
 *   json-get --length FILE POINTER  elements of an array, members of an object, bytes of a string
 *   json-get --keys FILE POINTER    member names of an object, one a line
 *   json-get --quote FILE           the file's text as one JSON string literal
 *
 * FILE "-" is stdin. Exit 0 found, 1 absent (nothing printed), 2 not JSON or bad usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define MAX_INPUT (64 * 1024 * 1024)

static const char usage_text[] =
"Usage: json-get [--type | --length | --keys] FILE POINTER\n"
"       json-get --quote FILE\n"
"Prints the value at an RFC 6901 JSON pointer of FILE (\"-\" for stdin): strings raw,\n"
"other values as compact JSON. --type prints the JSON type, --length the number of\n"
"elements/members, --keys an object's member names, --quote the file as a JSON string.\n"
"Exit status: 0 found, 1 absent, 2 not JSON or bad usage.\n";

enum mode { MODE_VALUE, MODE_TYPE, MODE_LENGTH, MODE_KEYS, MODE_QUOTE };

static int read_all(const char *path, char **out, size_t *out_len)
{
	FILE *f = stdin;
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	int rc = -1;

	if (strcmp(path, "-") != 0) {
		f = fopen(path, "rb");
		if (f == NULL) {
			fprintf(stderr, "json-get: %s: %s\n", path, strerror(errno));
			return -1;
		}
	}
	for (;;) {
		if (cap - len < 4096) {
			char *nb;
			cap = cap ? cap * 2 : 8192;
			if (cap > MAX_INPUT) {
				fprintf(stderr, "json-get: %s: larger than %d bytes\n", path, MAX_INPUT);
				goto out;
			}
			nb = realloc(buf, cap + 1);
			if (nb == NULL) {
				fprintf(stderr, "json-get: out of memory\n");
				goto out;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0) {
			if (ferror(f)) {
				fprintf(stderr, "json-get: %s: read error\n", path);
				goto out;
			}
			break;
		}
	}
	if (buf == NULL) {
		buf = malloc(1);
		if (buf == NULL)
			goto out;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	if (f != stdin)
		fclose(f);
	return rc;
}

/* Unescapes one reference token (~1 -> /, ~0 -> ~) of length len into a new string. */
static char *token_unescape(const char *s, size_t len)
{
	char *t = malloc(len + 1);
	size_t i, j = 0;

	if (t == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		if (s[i] == '~' && i + 1 < len && (s[i + 1] == '0' || s[i + 1] == '1')) {
			t[j++] = s[i + 1] == '0' ? '~' : '/';
			i++;
		} else {
			t[j++] = s[i];
		}
	}
	t[j] = '\0';
	return t;
}

/* Resolves pointer in root; NULL when absent. */
static json_t *resolve(json_t *root, const char *pointer)
{
	json_t *cur = root;
	const char *p = pointer;

	if (*p == '\0')
		return root;
	if (*p != '/')
		return NULL;
	while (cur != NULL && *p == '/') {
		const char *start = p + 1, *end = strchr(start, '/');
		size_t len = end ? (size_t)(end - start) : strlen(start);
		char *tok = token_unescape(start, len);

		if (tok == NULL)
			return NULL;
		if (json_is_object(cur)) {
			cur = json_object_get(cur, tok);
		} else if (json_is_array(cur)) {
			char *endp;
			unsigned long idx;

			errno = 0;
			idx = strtoul(tok, &endp, 10);
			if (tok[0] == '\0' || *endp != '\0' || errno != 0 ||
			    (tok[0] == '0' && tok[1] != '\0') || tok[0] == '-' || tok[0] == '+')
				cur = NULL;
			else
				cur = json_array_get(cur, idx);
		} else {
			cur = NULL;
		}
		free(tok);
		p = start + len;
	}
	return cur;
}

static const char *type_name(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "real";
	case JSON_TRUE: return "true";
	case JSON_FALSE: return "false";
	case JSON_NULL: return "null";
	}
	return "unknown";
}

static int print_value(json_t *v)
{
	char *s;

	if (json_is_string(v)) {
		fwrite(json_string_value(v), 1, json_string_length(v), stdout);
		putchar('\n');
		return 0;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (s == NULL) {
		fprintf(stderr, "json-get: cannot serialise value\n");
		return 2;
	}
	puts(s);
	free(s);
	return 0;
}

int main(int argc, char **argv)
{
	enum mode mode = MODE_VALUE;
	json_t *root = NULL, *v;
	json_error_t jerr;
	char *data = NULL;
	size_t len = 0;
	int argi = 1, rc = 2;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (argc > 1 && argv[1][0] == '-' && argv[1][1] == '-') {
		if (strcmp(argv[1], "--type") == 0)
			mode = MODE_TYPE;
		else if (strcmp(argv[1], "--length") == 0)
			mode = MODE_LENGTH;
		else if (strcmp(argv[1], "--keys") == 0)
			mode = MODE_KEYS;
		else if (strcmp(argv[1], "--quote") == 0)
			mode = MODE_QUOTE;
		else {
			fprintf(stderr, "json-get: unknown option %s\n%s", argv[1], usage_text);
			return 2;
		}
		argi = 2;
	}
	if ((mode == MODE_QUOTE && argc - argi != 1) || (mode != MODE_QUOTE && argc - argi != 2)) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (read_all(argv[argi], &data, &len) != 0)
		return 2;

	if (mode == MODE_QUOTE) {
		json_t *s = json_stringn(data, len);
		char *out;

		if (s == NULL) {
			fprintf(stderr, "json-get: %s is not valid UTF-8 text\n", argv[argi]);
			goto out;
		}
		out = json_dumps(s, JSON_ENCODE_ANY);
		json_decref(s);
		if (out == NULL)
			goto out;
		fputs(out, stdout);
		free(out);
		rc = 0;
		goto out;
	}

	root = json_loadb(data, len, JSON_DECODE_ANY, &jerr);
	if (root == NULL) {
		fprintf(stderr, "json-get: %s: not JSON: %s (line %d)\n", argv[argi], jerr.text,
			jerr.line);
		goto out;
	}
	v = resolve(root, argv[argi + 1]);
	if (v == NULL) {
		rc = 1;
		goto out;
	}
	switch (mode) {
	case MODE_VALUE:
		rc = print_value(v);
		break;
	case MODE_TYPE:
		puts(type_name(v));
		rc = 0;
		break;
	case MODE_LENGTH:
		if (json_is_array(v))
			printf("%zu\n", json_array_size(v));
		else if (json_is_object(v))
			printf("%zu\n", json_object_size(v));
		else if (json_is_string(v))
			printf("%zu\n", json_string_length(v));
		else {
			fprintf(stderr, "json-get: %s is a %s, it has no length\n", argv[argi + 1],
				type_name(v));
			goto out;
		}
		rc = 0;
		break;
	case MODE_KEYS: {
		const char *key;
		json_t *member;

		if (!json_is_object(v)) {
			fprintf(stderr, "json-get: %s is not an object\n", argv[argi + 1]);
			goto out;
		}
		json_object_foreach(v, key, member)
			puts(key);
		rc = 0;
		break;
	}
	case MODE_QUOTE:
		break;
	}
out:
	json_decref(root);
	free(data);
	if (fflush(stdout) != 0)
		rc = 2;
	return rc;
}
