/* fleet-sim: the git phase. A device reads its desired-state repository the way git does over
 * smart HTTP, protocol v2 (no git process): GET info/refs?service=git-upload-pack with
 * Git-Protocol: version=2, then POST git-upload-pack with command=ls-refs, and for a fetch of
 * a commit it does not have, command=fetch (want, done) whose packfile is checked object by
 * object. HTTP Basic with the git credentials of the OnboardingResponse. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "fleet-sim.h"

#define OID_HEX 40
#define OID_RAW 20
#define PKT_MAX 65520
#define MAIN_REF "refs/heads/main"

#define ROUTE_ADV "GET /git/{id}.git/info/refs?service=git-upload-pack"
#define ROUTE_LS "POST /git/{id}.git/git-upload-pack (ls-refs)"
#define ROUTE_FETCH "POST /git/{id}.git/git-upload-pack (fetch)"
#define CHECK_ADV "check: info/refs is not a protocol v2 advertisement with ls-refs and fetch"
#define CHECK_LS "check: ls-refs answer without " MAIN_REF
#define CHECK_REV "check: ls-refs " MAIN_REF " differs from the desired-state revision"
#define CHECK_PACK "check: fetch answer is not a valid packfile with the wanted commit"

enum { PKT_END = -2, PKT_BAD = -1, PKT_FLUSH = 0, PKT_DELIM = 1, PKT_RESPONSE_END = 2,
       PKT_DATA = 3 };

/* Reads the pkt-line at *off of b: PKT_DATA with its payload in *line, *line_len, a special
 * packet (flush, delim, response-end), PKT_END at the end of b, PKT_BAD when malformed. */
static int pkt_next(const struct fs_buf *b, size_t *off, const char **line, size_t *line_len)
{
	unsigned len = 0;

	if (*off == b->len)
		return PKT_END;
	if (b->len - *off < 4)
		return PKT_BAD;
	for (int i = 0; i < 4; i++) {
		char c = b->data[*off + i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (v < 0)
			return PKT_BAD;
		len = len * 16 + (unsigned)v;
	}
	if (len < 4) {
		*off += 4;
		return len == 0 ? PKT_FLUSH : len == 1 ? PKT_DELIM : len == 2 ? PKT_RESPONSE_END :
		       PKT_BAD;
	}
	if (len == 4 || len > b->len - *off)
		return PKT_BAD;
	*line = b->data + *off + 4;
	*line_len = len - 4;
	*off += len;
	return PKT_DATA;
}

/* Appends one pkt-line holding s to out (size cap); -1 when it does not fit. */
static int pkt_put(char *out, size_t cap, size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (n + 4 > PKT_MAX || *len + n + 5 > cap)
		return -1;
	snprintf(out + *len, 5, "%04zx", n + 4);
	memcpy(out + *len + 4, s, n);
	*len += n + 4;
	out[*len] = '\0';
	return 0;
}

static int raw_put(char *out, size_t cap, size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (*len + n + 1 > cap)
		return -1;
	memcpy(out + *len, s, n + 1);
	*len += n;
	return 0;
}

static int line_is(const char *line, size_t len, const char *word)
{
	size_t n = strlen(word);

	return len >= n && memcmp(line, word, n) == 0 &&
	       (len == n || line[n] == '\n' || line[n] == '=');
}

/* Checks a protocol v2 capability advertisement: an optional "# service=" preamble, then
 * "version 2", capabilities including ls-refs and fetch, and a flush at the end. */
static int check_advertisement(const struct fs_buf *b)
{
	const char *line;
	size_t off = 0, len;
	int t, caps = 0;

	t = pkt_next(b, &off, &line, &len);
	if (t == PKT_DATA && line_is(line, len, "# service=git-upload-pack")) {
		if (pkt_next(b, &off, &line, &len) != PKT_FLUSH)
			return -1;
		t = pkt_next(b, &off, &line, &len);
	}
	if (t != PKT_DATA || !line_is(line, len, "version 2"))
		return -1;
	while ((t = pkt_next(b, &off, &line, &len)) == PKT_DATA) {
		if (line_is(line, len, "ls-refs"))
			caps |= 1;
		else if (line_is(line, len, "fetch"))
			caps |= 2;
	}
	return t == PKT_FLUSH && off == b->len && caps == 3 ? 0 : -1;
}

static int is_hex_oid(const char *p, size_t len)
{
	if (len < OID_HEX)
		return 0;
	for (size_t i = 0; i < OID_HEX; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	return 1;
}

/* Finds "<oid> refs/heads/main" in an ls-refs answer (ends with a flush). */
static int parse_ls_refs(const struct fs_buf *b, char oid[OID_HEX + 1])
{
	static const char want[] = " " MAIN_REF;
	const char *line;
	size_t off = 0, len, n = sizeof(want) - 1;
	int t, found = 0;

	while ((t = pkt_next(b, &off, &line, &len)) == PKT_DATA) {
		if (is_hex_oid(line, len) && len >= OID_HEX + n &&
		    memcmp(line + OID_HEX, want, n) == 0 &&
		    (len == OID_HEX + n || line[OID_HEX + n] == '\n' || line[OID_HEX + n] == ' ')) {
			memcpy(oid, line, OID_HEX);
			oid[OID_HEX] = '\0';
			found = 1;
		}
	}
	return t == PKT_FLUSH && off == b->len && found ? 0 : -1;
}

/* Reads a fetch answer sent after "done": a "packfile" section of side-band pkt-lines (band
 * 1 pack data, 2 progress, 3 error) ending with a flush; parses the pack into *pk and checks
 * that the commit want is in it. */
static int fetch_answer_pack(const struct fs_buf *b, const char *want, struct fs_pack *pk)
{
	struct fs_buf pack = { 0 };
	const char *line;
	size_t off = 0, len;
	int t, rc = -1;

	t = pkt_next(b, &off, &line, &len);
	if (t != PKT_DATA || !line_is(line, len, "packfile"))
		return -1;
	pack.data = malloc(b->len);
	if (pack.data == NULL)
		return -1;
	while ((t = pkt_next(b, &off, &line, &len)) == PKT_DATA) {
		if (len < 1 || line[0] == 3)
			goto out;
		if (line[0] == 1) {
			memcpy(pack.data + pack.len, line + 1, len - 1);
			pack.len += len - 1;
		} else if (line[0] != 2) {
			goto out;
		}
	}
	if (t != PKT_FLUSH || off != b->len ||
	    fs_pack_parse((const unsigned char *)pack.data, pack.len, pk) != 0)
		goto out;
	rc = fs_pack_find(pk, want, 1) != NULL ? 0 : -1;
	if (rc != 0)
		fs_pack_free(pk);
out:
	fs_buf_free(&pack, 0);
	return rc;
}

struct git_visit {
	struct fs_sim *s;
	struct fs_device *d;
	CURL *h;
	struct curl_slist *adv_hdrs, *post_hdrs;
	char adv_path[160], post_path[160];
	int moving; /* deployments change during the run (act): git may be ahead of the poll */
};

/* Records a failed check of an answer as an error of its own (status 0, named route). */
static int fail_check(struct git_visit *v, const char *check)
{
	fs_stats_request(v->s->stats, check, 0, 0, 0);
	return -1;
}

/* GET info/refs with Git-Protocol: version=2 and the check of the advertisement. */
static int advertisement(struct git_visit *v)
{
	struct fs_buf resp = { 0 };
	struct fs_req r = { .route = ROUTE_ADV, .method = "GET", .path = v->adv_path,
			    .hdrs = v->adv_hdrs, .want = 200, .want2 = 200,
			    .user = v->d->git_username, .secret = v->d->git_token, .resp = &resp };
	int rc = fs_request(v->s, v->h, &r, NULL);

	if (rc == 0 && check_advertisement(&resp) != 0)
		rc = fail_check(v, CHECK_ADV);
	fs_buf_free(&resp, 0);
	return rc;
}

static int upload_pack(struct git_visit *v, const char *route, const char *body,
		       struct fs_buf *resp)
{
	struct fs_req r = { .route = route, .method = "POST", .path = v->post_path,
			    .hdrs = v->post_hdrs, .body = body, .body_len = strlen(body),
			    .want = 200, .want2 = 200, .user = v->d->git_username,
			    .secret = v->d->git_token, .resp = resp };

	return fs_request(v->s, v->h, &r, NULL);
}

/* command=ls-refs; for_fetch limits it to HEAD and branches, as git fetch does (git
 * ls-remote asks for every ref). Sets oid to main's commit. */
static int ls_refs(struct git_visit *v, int for_fetch, char oid[OID_HEX + 1])
{
	struct fs_buf resp = { 0 };
	char body[512];
	size_t len = 0;
	int rc;

	body[0] = '\0';
	if (pkt_put(body, sizeof(body), &len, "command=ls-refs\n") != 0 ||
	    pkt_put(body, sizeof(body), &len, "agent=fleet-sim\n") != 0 ||
	    raw_put(body, sizeof(body), &len, "0001") != 0 ||
	    pkt_put(body, sizeof(body), &len, "peel\n") != 0 ||
	    pkt_put(body, sizeof(body), &len, "symrefs\n") != 0 ||
	    (for_fetch && (pkt_put(body, sizeof(body), &len, "ref-prefix HEAD\n") != 0 ||
			   pkt_put(body, sizeof(body), &len, "ref-prefix refs/heads/\n") != 0)) ||
	    raw_put(body, sizeof(body), &len, "0000") != 0)
		return fail_check(v, ROUTE_LS " (request too long)");
	rc = upload_pack(v, ROUTE_LS, body, &resp);
	if (rc == 0 && parse_ls_refs(&resp, oid) != 0)
		rc = fail_check(v, CHECK_LS);
	/* Nobody deploys during the git phase: git and desired-state agree on the revision. */
	if (rc == 0 && !v->moving && v->d->etag != NULL && strlen(v->d->etag) == OID_HEX + 2 &&
	    memcmp(v->d->etag + 1, oid, OID_HEX) != 0)
		rc = fail_check(v, CHECK_REV);
	fs_buf_free(&resp, 0);
	return rc;
}

/* command=fetch with want oid (and have, when not NULL) and done: the packfile, parsed into
 * *pk (the caller frees it) and checked. */
static int fetch_pack(struct git_visit *v, const char *oid, const char *have, struct fs_pack *pk)
{
	struct fs_buf resp = { 0 };
	char body[512], want[64], have_line[64];
	size_t len = 0;
	int rc;

	body[0] = '\0';
	snprintf(want, sizeof(want), "want %s\n", oid);
	snprintf(have_line, sizeof(have_line), "have %s\n", have != NULL ? have : "");
	if (pkt_put(body, sizeof(body), &len, "command=fetch\n") != 0 ||
	    pkt_put(body, sizeof(body), &len, "agent=fleet-sim\n") != 0 ||
	    raw_put(body, sizeof(body), &len, "0001") != 0 ||
	    pkt_put(body, sizeof(body), &len, "ofs-delta\n") != 0 ||
	    pkt_put(body, sizeof(body), &len, "no-progress\n") != 0 ||
	    pkt_put(body, sizeof(body), &len, want) != 0 ||
	    (have != NULL && pkt_put(body, sizeof(body), &len, have_line) != 0) ||
	    pkt_put(body, sizeof(body), &len, "done\n") != 0 ||
	    raw_put(body, sizeof(body), &len, "0000") != 0)
		return fail_check(v, ROUTE_FETCH " (request too long)");
	rc = upload_pack(v, ROUTE_FETCH, body, &resp);
	if (rc == 0 && fetch_answer_pack(&resp, oid, pk) != 0)
		rc = fail_check(v, CHECK_PACK);
	fs_buf_free(&resp, 0);
	return rc;
}

/* git ls-remote: the advertisement, then every ref. */
static int op_ls_remote(struct git_visit *v)
{
	char oid[OID_HEX + 1];
	double t0 = fs_now();
	int rc = advertisement(v) == 0 && ls_refs(v, 0, oid) == 0 ? 0 : -1;

	fs_stats_unit(v->s->stats, "ls-remote", rc == 0, (fs_now() - t0) * 1000.0);
	return rc;
}

/* git fetch: the advertisement, HEAD and branches, and the pack when main moved. */
static int op_fetch(struct git_visit *v)
{
	char oid[OID_HEX + 1];
	double t0 = fs_now();
	int rc, fetched = 0;

	rc = advertisement(v) == 0 && ls_refs(v, 1, oid) == 0 ? 0 : -1;
	if (rc == 0 && strcmp(oid, v->d->git_oid) != 0) {
		struct fs_pack pk;

		rc = fetch_pack(v, oid, NULL, &pk);
		if (rc == 0) {
			memcpy(v->d->git_oid, oid, sizeof(oid));
			fs_pack_free(&pk);
		}
		fetched = 1;
	}
	fs_stats_unit(v->s->stats, fetched ? "fetch" : "fetch (no change)", rc == 0,
		      (fs_now() - t0) * 1000.0);
	return rc;
}

/* Paths and headers of a visit to d's repository; 0, or -1 (recorded) when out of memory. */
static int visit_init(struct git_visit *v)
{
	const char *id = v->d->client_id;

	snprintf(v->adv_path, sizeof(v->adv_path), "/git/%s.git/info/refs?service=git-upload-pack",
		 id);
	snprintf(v->post_path, sizeof(v->post_path), "/git/%s.git/git-upload-pack", id);
	(void)fs_header_add(&v->adv_hdrs, "Git-Protocol: version=2");
	if (fs_header_add(&v->post_hdrs, "Git-Protocol: version=2") == 0 &&
	    fs_header_add(&v->post_hdrs, "Content-Type: application/x-git-upload-pack-request") == 0)
		(void)fs_header_add(&v->post_hdrs, "Accept: application/x-git-upload-pack-result");
	if (v->h == NULL || v->adv_hdrs == NULL || v->post_hdrs == NULL) {
		fs_stats_request(v->s->stats, "(client setup)", 0, 0, 0);
		return -1;
	}
	return 0;
}

void fs_git_visit(struct fs_sim *s, struct fs_device *d)
{
	struct git_visit v = { .s = s, .d = d };
	int first = d->git_oid[0] == '\0';

	if (d->git_username == NULL || d->git_token == NULL)
		return;
	v.h = fs_conn_new(s);
	if (visit_init(&v) != 0) {
		fs_stats_unit(s->stats, NULL, 0, 0);
		goto out;
	}
	/* A device that has fetched once makes a no-change fetch; the first visit makes both. */
	if (op_ls_remote(&v) == 0 && op_fetch(&v) == 0 && first)
		(void)op_fetch(&v);
out:
	curl_slist_free_all(v.adv_hdrs);
	curl_slist_free_all(v.post_hdrs);
	curl_easy_cleanup(v.h);
}

int fs_git_fetch(struct fs_sim *s, struct fs_device *d, CURL *h, char oid[41], struct fs_pack *pk)
{
	struct git_visit v = { .s = s, .d = d, .h = h, .moving = 1 };
	int rc = -1;

	if (d->git_username == NULL || d->git_token == NULL) {
		fs_stats_request(s->stats, "check: device without git credentials", 0, 0, 0);
		return -1;
	}
	if (visit_init(&v) != 0 || advertisement(&v) != 0 || ls_refs(&v, 1, oid) != 0)
		goto out;
	rc = 0;
	if (strcmp(oid, d->git_oid) != 0)
		rc = fetch_pack(&v, oid, d->git_oid[0] != '\0' ? d->git_oid : NULL, pk) == 0 ? 1 : -1;
out:
	curl_slist_free_all(v.adv_hdrs);
	curl_slist_free_all(v.post_hdrs);
	return rc;
}
