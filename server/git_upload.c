#include <stdlib.h>
#include <string.h>

#include "git_fetch.h"
#include "git_oid.h"
#include "git_pack.h"
#include "git_request.h"
#include "git_upload.h"

#define MAIN_REF "refs/heads/main"

struct git_upload {
	struct git_source src;
	struct git_buf head;            /* what comes before the pack */
	size_t head_off;
	struct git_pack *pack;          /* NULL: no pack */
	size_t band_max;                /* sideband data per pkt-line; 0: the raw pack */
	int pack_done;
	unsigned char *frame;           /* one pkt-line (or raw chunk) being copied out */
	size_t frame_len;
	size_t frame_off;
	int ended;
};

/* main's id in hex, or "" when the repository has no main yet. */
static int main_hex(struct git_source *src, char hex[GIT_OID_HEX + 1], struct margo_error *err)
{
	unsigned char oid[GIT_SOURCE_OID_LEN];
	int rc = src->ref(src->ctx, "main", oid, err);

	hex[0] = '\0';
	if (rc == MARGO_ENOTFOUND)
		return 0;
	if (rc == 0)
		git_oid_to_hex(oid, hex);
	return rc;
}

int git_upload_advertise(struct git_source *src, int v2, struct git_buf *out,
			 struct margo_error *err)
{
	char hex[GIT_OID_HEX + 1];
	int rc;

	if (v2) {
		git_buf_pkt(out, "version 2\n");
		git_buf_pkt(out, "agent=" GIT_UPLOAD_AGENT "\n");
		git_buf_pkt(out, "ls-refs=unborn\n");
		git_buf_pkt(out, "fetch=shallow\n");
		git_buf_pkt(out, "server-option\n");
		git_buf_pkt(out, "object-format=sha1\n");
	} else {
		if ((rc = main_hex(src, hex, err)) < 0)
			return rc;
		if (hex[0] == '\0') {
			git_buf_pkt(out, "%040d capabilities^{}%c%s\n", 0, '\0', GIT_UPLOAD_CAPS_V0);
		} else {
			git_buf_pkt(out, "%s HEAD%c%s\n", hex, '\0', GIT_UPLOAD_CAPS_V0);
			git_buf_pkt(out, "%s " MAIN_REF "\n", hex);
		}
	}
	git_buf_flush(out);
	return out->failed ? margo_error_set(err, MARGO_ENOMEM, "out of memory") : 0;
}

static int prefix_match(const struct git_request *req, const char *name)
{
	if (req->ref_prefixes.n == 0)
		return 1;
	for (size_t i = 0; i < req->ref_prefixes.n; i++) {
		const char *p = req->ref_prefixes.names[i];

		if (strncmp(name, p, strlen(p)) == 0)
			return 1;
	}
	return 0;
}

/* v2 ls-refs: HEAD (a symbolic reference to main) and main. */
static int ls_refs(struct git_upload *u, const struct git_request *req, struct margo_error *err)
{
	char hex[GIT_OID_HEX + 1];
	const char *sym = req->symrefs ? " symref-target:" MAIN_REF : "";
	int rc;

	if ((rc = main_hex(&u->src, hex, err)) < 0)
		return rc;
	if (prefix_match(req, "HEAD")) {
		if (hex[0] != '\0')
			git_buf_pkt(&u->head, "%s HEAD%s\n", hex, sym);
		else if (req->unborn)
			git_buf_pkt(&u->head, "unborn HEAD%s\n", sym);
	}
	if (hex[0] != '\0' && prefix_match(req, MAIN_REF))
		git_buf_pkt(&u->head, "%s " MAIN_REF "\n", hex);
	git_buf_flush(&u->head);
	return 0;
}

static void oid_lines(struct git_buf *b, const char *word, const struct git_oids *ids)
{
	char hex[GIT_OID_HEX + 1];

	for (size_t i = 0; i < ids->n; i++) {
		git_oid_to_hex(ids->ids[i], hex);
		git_buf_pkt(b, "%s %s\n", word, hex);
	}
}

static int deepens(const struct git_request *req)
{
	return req->depth > 0 || req->deepen_since > 0 || req->deepen_not.n > 0;
}

/* Lists the pack's objects and sets up its writer. */
static int start_pack(struct git_upload *u, struct git_fetch *f, size_t band_max,
		      struct margo_error *err)
{
	int rc = git_fetch_objects(f, err);

	if (rc == 0)
		rc = git_pack_new(&u->src, &f->objects, &u->pack, err);
	u->band_max = band_max;
	return rc;
}

/* v2 fetch: acknowledgments unless done (and nothing more when not ready), shallow-info,
 * then the packfile section. */
static int fetch_v2(struct git_upload *u, const struct git_request *req, struct git_fetch *f,
		    struct margo_error *err)
{
	char hex[GIT_OID_HEX + 1];
	int rc;

	if (req->wants.n == 0)
		return 0;       /* nothing wanted: nothing to say (as upload-pack) */
	if ((rc = git_fetch_negotiate(f, &u->src, req, err)) < 0)
		return rc;
	if (!req->done) {
		git_buf_pkt(&u->head, "acknowledgments\n");
		for (size_t i = 0; i < f->common.n; i++) {
			git_oid_to_hex(f->common.ids[i], hex);
			git_buf_pkt(&u->head, "ACK %s\n", hex);
		}
		if (f->common.n == 0)
			git_buf_pkt(&u->head, "NAK\n");
		if (!f->ready) {
			git_buf_flush(&u->head);
			return 0;
		}
		git_buf_pkt(&u->head, "ready\n");
		git_buf_delim(&u->head);
	}
	if ((rc = git_fetch_shallow(f, err)) < 0)
		return rc;
	if (deepens(req) || req->shallows.n > 0) {
		git_buf_pkt(&u->head, "shallow-info\n");
		oid_lines(&u->head, "shallow", &f->shallow);
		oid_lines(&u->head, "unshallow", &f->unshallow);
		git_buf_delim(&u->head);
	}
	git_buf_pkt(&u->head, "packfile\n");
	return start_pack(u, f, GIT_SIDEBAND_MAX, err);
}

/* v0: shallow lines (when deepening), acknowledgments as multi_ack_detailed or single ACK,
 * and the pack after "done", or at once after "ready" with no-done. */
static int fetch_v0(struct git_upload *u, const struct git_request *req, struct git_fetch *f,
		    struct margo_error *err)
{
	int multi = (req->caps & GIT_CAP_MULTI_ACK_DETAILED) != 0, rc;
	char hex[GIT_OID_HEX + 1] = "";
	size_t band = (req->caps & GIT_CAP_SIDE_BAND_64K) ? GIT_SIDEBAND_MAX :
		(req->caps & GIT_CAP_SIDE_BAND) ? GIT_SIDEBAND_SMALL_MAX : 0;

	if (req->wants.n == 0)
		return 0;
	if ((rc = git_fetch_negotiate(f, &u->src, req, err)) < 0 ||
	    (rc = git_fetch_shallow(f, err)) < 0)
		return rc;
	if (deepens(req)) {
		oid_lines(&u->head, "shallow", &f->shallow);
		oid_lines(&u->head, "unshallow", &f->unshallow);
		git_buf_flush(&u->head);
	}
	if (!req->done && !req->round)
		return 0;       /* wants only: the client reads the shallow lines, then asks again */
	for (size_t i = 0; i < f->common.n && (multi || i == 0); i++) {
		git_oid_to_hex(f->common.ids[i], hex);
		git_buf_pkt(&u->head, multi ? "ACK %s common\n" : "ACK %s\n", hex);
	}
	if (f->common.n > 0)
		git_oid_to_hex(f->common.ids[f->common.n - 1], hex);
	if (req->done) {
		if (f->common.n == 0)
			git_buf_pkt(&u->head, "NAK\n");
		else if (multi)
			git_buf_pkt(&u->head, "ACK %s\n", hex);
		return start_pack(u, f, band, err);
	}
	if (multi && f->ready)
		git_buf_pkt(&u->head, "ACK %s ready\n", hex);
	if (f->common.n == 0 || multi)
		git_buf_pkt(&u->head, "NAK\n");
	if (!(multi && f->ready && (req->caps & GIT_CAP_NO_DONE)))
		return 0;
	git_buf_pkt(&u->head, "ACK %s\n", hex);
	return start_pack(u, f, band, err);
}

int git_upload_new(struct git_source *src, const void *body, size_t len, int v2,
		   struct git_upload **out, struct margo_error *err)
{
	struct git_upload *u = calloc(1, sizeof(*u));
	struct git_request req;
	struct git_fetch f;
	int rc;

	*out = NULL;
	memset(&f, 0, sizeof(f));
	if (u == NULL) {
		git_source_close(src);
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	}
	u->src = *src;
	memset(src, 0, sizeof(*src));
	if ((rc = git_request_parse(body, len, v2, &req, err)) < 0)
		goto out;
	if (req.command == GIT_COMMAND_LS_REFS)
		rc = ls_refs(u, &req, err);
	else
		rc = v2 ? fetch_v2(u, &req, &f, err) : fetch_v0(u, &req, &f, err);
	if (rc == MARGO_EINVAL) {
		/* A well-formed request wfmd cannot answer (a want that is not ours, a shallow
		 * request selecting nothing): git's error pkt-line, which clients show. */
		git_buf_free(&u->head);
		git_pack_free(u->pack);
		u->pack = NULL;
		git_buf_pkt(&u->head, "ERR upload-pack: %s\n", err != NULL ? err->message : "refused");
		rc = 0;
	}
	if (rc == 0 && u->head.failed)
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
out:
	git_fetch_free(&f);
	git_request_free(&req);
	if (rc < 0) {
		git_upload_free(u);
		return rc;
	}
	*out = u;
	return 0;
}

/* Fills the frame with the next pkt-line of sideband data (band 1), or the flush after the
 * pack; raw pack bytes without sideband. */
static int next_frame(struct git_upload *u, struct margo_error *err)
{
	size_t hdr = u->band_max > 0 ? 5 : 0, room = u->band_max > 0 ? u->band_max : GIT_PKT_MAX;
	ssize_t n;

	if (u->frame == NULL && (u->frame = malloc(GIT_PKT_MAX)) == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	u->frame_off = u->frame_len = 0;
	if (u->pack_done) {
		u->ended = 1;
		if (u->band_max > 0) {
			memcpy(u->frame, "0000", 4);
			u->frame_len = 4;
		}
		return 0;
	}
	n = git_pack_read(u->pack, u->frame + hdr, room, err);
	if (n < 0)
		return (int)n;
	if (n == 0) {
		u->pack_done = 1;
		return next_frame(u, err);
	}
	if (hdr > 0) {
		static const char digits[] = "0123456789abcdef";
		size_t total = (size_t)n + hdr;

		for (int i = 3; i >= 0; i--, total >>= 4)
			u->frame[i] = (unsigned char)digits[total & 15];
		u->frame[4] = 1;
	}
	u->frame_len = (size_t)n + hdr;
	return 0;
}

ssize_t git_upload_read(struct git_upload *u, char *buf, size_t max, struct margo_error *err)
{
	size_t n = 0, k;
	int rc;

	while (n < max) {
		if (u->head_off < u->head.len) {
			k = u->head.len - u->head_off;
			k = k < max - n ? k : max - n;
			memcpy(buf + n, u->head.data + u->head_off, k);
			u->head_off += k;
			n += k;
			continue;
		}
		if (u->frame_off < u->frame_len) {
			k = u->frame_len - u->frame_off;
			k = k < max - n ? k : max - n;
			memcpy(buf + n, u->frame + u->frame_off, k);
			u->frame_off += k;
			n += k;
			continue;
		}
		if (u->pack == NULL || u->ended)
			break;
		if ((rc = next_frame(u, err)) < 0)
			return rc;
	}
	return (ssize_t)n;
}

void git_upload_stats(const struct git_upload *u, size_t *objects, size_t *pack_bytes)
{
	*objects = u->pack != NULL ? git_pack_objects_done(u->pack) : 0;
	*pack_bytes = u->pack != NULL ? git_pack_bytes_done(u->pack) : 0;
}

void git_upload_free(struct git_upload *u)
{
	if (u == NULL)
		return;
	git_pack_free(u->pack);
	git_source_close(&u->src);
	git_buf_free(&u->head);
	free(u->frame);
	free(u);
}
