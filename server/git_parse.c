#include <string.h>

#include "git_oid.h"
#include "git_parse.h"

/* The committer line's time: "committer Name <email> 1700000000 +0000". */
static int parse_time(const char *line, const char *end, int64_t *t)
{
	const char *gt = NULL;
	int64_t v = 0;

	for (const char *p = line; p < end; p++)
		if (*p == '>')
			gt = p;
	if (gt == NULL || gt + 2 > end || gt[1] != ' ')
		return -1;
	for (gt += 2; gt < end && *gt >= '0' && *gt <= '9'; gt++) {
		if (v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*gt - '0');
	}
	*t = v;
	return 0;
}

int git_commit_parse(const unsigned char *data, size_t len, struct git_commit_info *out,
		     struct margo_error *err)
{
	const char *p = (const char *)data, *end = p + len;
	int have_tree = 0, have_time = 0;

	memset(out, 0, sizeof(*out));
	while (p < end && *p != '\n') {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n;

		if (eol == NULL)
			break;
		n = (size_t)(eol - p);
		if (!have_tree && n == 5 + GIT_OID_HEX && strncmp(p, "tree ", 5) == 0) {
			if (git_oid_from_hex(p + 5, out->tree) < 0)
				break;
			have_tree = 1;
		} else if (have_tree && n == 7 + GIT_OID_HEX && strncmp(p, "parent ", 7) == 0) {
			if (out->nparents == GIT_PARENTS_MAX)
				return margo_error_set(err, MARGO_EINVAL, "too many parents");
			if (git_oid_from_hex(p + 7, out->parents[out->nparents++]) < 0)
				break;
		} else if (n > 10 && strncmp(p, "committer ", 10) == 0) {
			if (parse_time(p, eol, &out->time) < 0)
				break;
			have_time = 1;
		}
		p = eol + 1;
	}
	if (!have_tree || !have_time)
		return margo_error_set(err, MARGO_EINVAL, "malformed commit");
	return 0;
}

void git_tree_iter_init(struct git_tree_iter *it, const unsigned char *data, size_t len)
{
	it->p = data;
	it->end = data + len;
}

int git_tree_next(struct git_tree_iter *it, struct git_tree_entry *e, struct margo_error *err)
{
	const unsigned char *sp, *nul;
	unsigned mode = 0;

	if (it->p == it->end)
		return 0;
	sp = memchr(it->p, ' ', (size_t)(it->end - it->p));
	if (sp == NULL || sp == it->p || sp - it->p > 7)
		return margo_error_set(err, MARGO_EINVAL, "malformed tree entry");
	for (const unsigned char *q = it->p; q < sp; q++) {
		if (*q < '0' || *q > '7')
			return margo_error_set(err, MARGO_EINVAL, "malformed tree mode");
		mode = mode << 3 | (unsigned)(*q - '0');
	}
	nul = memchr(sp + 1, '\0', (size_t)(it->end - sp - 1));
	if (nul == NULL || nul == sp + 1 || (size_t)(it->end - nul - 1) < GIT_SOURCE_OID_LEN)
		return margo_error_set(err, MARGO_EINVAL, "malformed tree entry");
	e->mode = mode;
	e->name = (const char *)sp + 1;
	e->name_len = (size_t)(nul - sp - 1);
	e->oid = nul + 1;
	it->p = nul + 1 + GIT_SOURCE_OID_LEN;
	return 1;
}
