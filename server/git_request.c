#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "git_oid.h"
#include "git_pkt.h"
#include "git_request.h"

static int oids_add(struct git_oids *a, const char *hex, const char *what,
		    struct margo_error *err)
{
	unsigned char oid[GIT_SOURCE_OID_LEN];

	if (strlen(hex) < GIT_OID_HEX || git_oid_from_hex(hex, oid) < 0 ||
	    (hex[GIT_OID_HEX] != '\0' && hex[GIT_OID_HEX] != ' '))
		return margo_error_set(err, MARGO_EINVAL, "%s: not an object id", what);
	if (a->n == GIT_REQUEST_OIDS_MAX)
		return margo_error_set(err, MARGO_ELIMIT, "more than %d %s lines",
				       GIT_REQUEST_OIDS_MAX, what);
	return git_oids_push(a, oid, err);
}

static int names_add(struct git_names *a, const char *name, const char *what,
		     struct margo_error *err)
{
	size_t n = strlen(name);

	if (n == 0 || n > GIT_REQUEST_NAME_MAX)
		return margo_error_set(err, MARGO_EINVAL, "%s: bad length", what);
	if (a->n == GIT_REQUEST_NAMES_MAX)
		return margo_error_set(err, MARGO_ELIMIT, "more than %d %s arguments",
				       GIT_REQUEST_NAMES_MAX, what);
	a->names[a->n] = strdup(name);
	if (a->names[a->n] == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	a->n++;
	return 0;
}

static int parse_depth(const char *arg, int *depth, struct margo_error *err)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 || v <= 0 || v > INT_MAX)
		return margo_error_set(err, MARGO_EINVAL, "invalid deepen: %.40s", arg);
	*depth = (int)v;
	return 0;
}

static int parse_since(const char *arg, int64_t *since, struct margo_error *err)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 || v <= 0)
		return margo_error_set(err, MARGO_EINVAL, "invalid deepen-since: %.40s", arg);
	*since = v;
	return 0;
}

/* The shallow arguments both protocol versions share: 1 when line was one, 0 when not. */
static int parse_shallow_arg(const char *line, struct git_request *req, struct margo_error *err)
{
	int rc;

	if (strncmp(line, "shallow ", 8) == 0)
		rc = oids_add(&req->shallows, line + 8, "shallow", err);
	else if (strncmp(line, "deepen ", 7) == 0)
		rc = parse_depth(line + 7, &req->depth, err);
	else if (strncmp(line, "deepen-since ", 13) == 0)
		rc = parse_since(line + 13, &req->deepen_since, err);
	else if (strncmp(line, "deepen-not ", 11) == 0)
		rc = names_add(&req->deepen_not, line + 11, "deepen-not", err);
	else
		return 0;
	return rc < 0 ? rc : 1;
}

/* The capabilities after the object id of a v0 want line; unknown ones are ignored, as
 * upload-pack does (a client only asks for what was advertised). */
static void parse_caps(const char *s, unsigned *caps)
{
	static const struct { const char *name; unsigned cap; } known[] = {
		{ "multi_ack_detailed", GIT_CAP_MULTI_ACK_DETAILED },
		{ "no-done", GIT_CAP_NO_DONE },
		{ "side-band", GIT_CAP_SIDE_BAND },
		{ "side-band-64k", GIT_CAP_SIDE_BAND_64K },
		{ "no-progress", GIT_CAP_NO_PROGRESS },
		{ "deepen-relative", GIT_CAP_DEEPEN_RELATIVE },
	};

	while (*s != '\0') {
		size_t n;

		while (*s == ' ')
			s++;
		n = strcspn(s, " ");
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
			if (strlen(known[i].name) == n && strncmp(s, known[i].name, n) == 0)
				*caps |= known[i].cap;
		}
		s += n;
	}
}

/* The deepen arguments that exclude each other. */
static int check_deepen(const struct git_request *req, struct margo_error *err)
{
	if (req->depth > 0 && (req->deepen_since > 0 || req->deepen_not.n > 0))
		return margo_error_set(err, MARGO_EINVAL, "deepen and deepen-since (or "
				       "deepen-not) cannot be used together");
	if ((req->caps & GIT_CAP_DEEPEN_RELATIVE) && req->depth == 0)
		return margo_error_set(err, MARGO_EINVAL, "deepen-relative without deepen");
	return 0;
}

/* v0: want/shallow/deepen lines up to a flush, have lines, then a flush or done. */
static int parse_v0(struct git_pkt_reader *r, struct git_pkt *pkt, struct git_request *req,
		    struct margo_error *err)
{
	int rc, section = 0;

	while ((rc = git_pkt_read(r, pkt, err)) > 0) {
		const char *line = pkt->line;

		if (req->done)
			return margo_error_set(err, MARGO_EINVAL, "data after done");
		if (pkt->kind == GIT_PKT_FLUSH) {
			if (section++ == 1) {
				req->round = 1;
				break;
			}
			continue;
		}
		if (pkt->kind != GIT_PKT_DATA)
			return margo_error_set(err, MARGO_EINVAL, "unexpected delimiter");
		if (section == 0 && strncmp(line, "want ", 5) == 0) {
			if ((rc = oids_add(&req->wants, line + 5, "want", err)) < 0)
				return rc;
			parse_caps(line + 5 + GIT_OID_HEX, &req->caps);
		} else if (section == 0 && (rc = parse_shallow_arg(line, req, err)) != 0) {
			if (rc < 0)
				return rc;
		} else if (section == 1 && strncmp(line, "have ", 5) == 0) {
			if ((rc = oids_add(&req->haves, line + 5, "have", err)) < 0)
				return rc;
		} else if (section == 1 && strcmp(line, "done") == 0) {
			req->done = 1;
		} else {
			return margo_error_set(err, MARGO_EINVAL, "unexpected line: %.40s", line);
		}
	}
	if (rc < 0)
		return rc;
	if (r->off != r->len)
		return margo_error_set(err, MARGO_EINVAL, "data after the final flush");
	if (section == 0 && req->wants.n > 0)
		return margo_error_set(err, MARGO_EINVAL, "want lines without a flush");
	return check_deepen(req, err);
}

/* One v2 fetch argument. */
static int parse_fetch_arg(const char *line, struct git_request *req, struct margo_error *err)
{
	int rc;

	if (strncmp(line, "want ", 5) == 0)
		return oids_add(&req->wants, line + 5, "want", err);
	if (strncmp(line, "have ", 5) == 0)
		return oids_add(&req->haves, line + 5, "have", err);
	if (strcmp(line, "done") == 0)
		req->done = 1;
	else if (strcmp(line, "no-progress") == 0)
		req->caps |= GIT_CAP_NO_PROGRESS;
	else if (strcmp(line, "deepen-relative") == 0)
		req->caps |= GIT_CAP_DEEPEN_RELATIVE;
	else if (strcmp(line, "thin-pack") == 0 || strcmp(line, "ofs-delta") == 0 ||
		 strcmp(line, "include-tag") == 0)
		; /* allowances for the server: wfmd sends whole objects and has no tags */
	else if ((rc = parse_shallow_arg(line, req, err)) != 0)
		return rc < 0 ? rc : 0;
	else
		return margo_error_set(err, MARGO_EINVAL, "unsupported fetch argument: %.40s",
				       line);
	return 0;
}

static int parse_ls_refs_arg(const char *line, struct git_request *req, struct margo_error *err)
{
	if (strcmp(line, "peel") == 0)
		req->peel = 1;
	else if (strcmp(line, "symrefs") == 0)
		req->symrefs = 1;
	else if (strcmp(line, "unborn") == 0)
		req->unborn = 1;
	else if (strncmp(line, "ref-prefix ", 11) == 0)
		return names_add(&req->ref_prefixes, line + 11, "ref-prefix", err);
	else
		return margo_error_set(err, MARGO_EINVAL, "unsupported ls-refs argument: %.40s",
				       line);
	return 0;
}

/* A v2 capability line of a command request. */
static int parse_v2_cap(const char *line, struct margo_error *err)
{
	if (strncmp(line, "agent=", 6) == 0 || strncmp(line, "server-option=", 14) == 0 ||
	    strncmp(line, "session-id=", 11) == 0 || strcmp(line, "object-format=sha1") == 0)
		return 0;
	return margo_error_set(err, MARGO_EINVAL, "unsupported capability: %.40s", line);
}

/* v2: command=..., capabilities, a delimiter, arguments, a flush. */
static int parse_v2(struct git_pkt_reader *r, struct git_pkt *pkt, struct git_request *req,
		    struct margo_error *err)
{
	int rc, args = 0;

	if ((rc = git_pkt_read(r, pkt, err)) <= 0 || pkt->kind != GIT_PKT_DATA)
		return rc < 0 ? rc : margo_error_set(err, MARGO_EINVAL, "no command");
	if (strcmp(pkt->line, "command=fetch") == 0)
		req->command = GIT_COMMAND_FETCH;
	else if (strcmp(pkt->line, "command=ls-refs") == 0)
		req->command = GIT_COMMAND_LS_REFS;
	else
		return margo_error_set(err, MARGO_EINVAL, "unsupported command: %.40s", pkt->line);
	for (;;) {
		if ((rc = git_pkt_read(r, pkt, err)) <= 0)
			return rc < 0 ? rc : margo_error_set(err, MARGO_EINVAL, "no flush");
		if (pkt->kind == GIT_PKT_FLUSH)
			break;
		if (pkt->kind == GIT_PKT_DELIM && !args) {
			args = 1;
			continue;
		}
		if (pkt->kind != GIT_PKT_DATA)
			return margo_error_set(err, MARGO_EINVAL, "unexpected delimiter");
		if (!args)
			rc = parse_v2_cap(pkt->line, err);
		else if (req->command == GIT_COMMAND_FETCH)
			rc = parse_fetch_arg(pkt->line, req, err);
		else
			rc = parse_ls_refs_arg(pkt->line, req, err);
		if (rc < 0)
			return rc;
	}
	if (r->off != r->len)
		return margo_error_set(err, MARGO_EINVAL, "data after the command's flush");
	return check_deepen(req, err);
}

int git_request_parse(const void *body, size_t len, int v2, struct git_request *req,
		      struct margo_error *err)
{
	struct git_pkt_reader r;
	struct git_pkt *pkt = malloc(sizeof(*pkt));
	int rc;

	memset(req, 0, sizeof(*req));
	req->v2 = v2;
	if (pkt == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	git_pkt_reader_init(&r, body, len);
	rc = v2 ? parse_v2(&r, pkt, req, err) : parse_v0(&r, pkt, req, err);
	free(pkt);
	return rc;
}

static void names_free(struct git_names *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->names[i]);
	a->n = 0;
}

void git_request_free(struct git_request *req)
{
	free(req->wants.ids);
	free(req->haves.ids);
	free(req->shallows.ids);
	names_free(&req->ref_prefixes);
	names_free(&req->deepen_not);
	memset(req, 0, sizeof(*req));
}
