/* git-upload-pack as wfmd serves it over stateless smart HTTP, answered from a git_source
 * without any subprocess: the reference advertisement (protocol v0, and the capability
 * advertisement of protocol v2), the v2 ls-refs command, and fetch in both protocols with
 * want/have negotiation (v0 multi_ack_detailed with no-done, v2 acknowledgments/ready),
 * shallow fetches (deepen, deepen-relative, deepen-since, deepen-not; shallow/unshallow) and
 * the pack multiplexed on side-band-64k (v0: side-band or none, as negotiated).
 *
 * The answer to a POST is produced in pieces (git_upload_read): the acknowledgments and
 * shallow lines first, then the pack, object by object (git_pack.h), so a fetch holds one
 * object and one 64 KiB frame at a time besides what git_fetch.h keeps. */
#ifndef WFMD_GIT_UPLOAD_H
#define WFMD_GIT_UPLOAD_H

#include <stddef.h>
#include <sys/types.h>

#include "margo/error.h"
#include "git_pkt.h"
#include "git_source.h"

#define GIT_UPLOAD_AGENT "wfmd/" MARGO_VERSION
/* What wfmd implements, and so advertises. */
#define GIT_UPLOAD_CAPS_V0 "multi_ack_detailed no-done side-band side-band-64k shallow " \
	"deepen-since deepen-not deepen-relative no-progress symref=HEAD:refs/heads/main " \
	"object-format=sha1 agent=" GIT_UPLOAD_AGENT

/* Appends the reference advertisement of src to out: v0 (HEAD and refs/heads/main, the
 * capabilities on the first line; without the smart HTTP "# service" preamble) or the v2
 * capability advertisement. */
int git_upload_advertise(struct git_source *src, int v2, struct git_buf *out,
			 struct margo_error *err);

struct git_upload;

/* Parses and answers one request body (v2: a protocol v2 command): ls-refs or fetch. Takes
 * src over (closed by git_upload_free, also on failure). MARGO_EINVAL (the reason in err) for
 * a request no client should send (malformed, or asking for what wfmd did not advertise);
 * a well-formed request that cannot be served (a want that is not ours, a shallow request
 * selecting no commit) is answered with an "ERR" pkt-line, which git shows. Other codes from
 * the source. */
int git_upload_new(struct git_source *src, const void *body, size_t len, int v2,
		   struct git_upload **out, struct margo_error *err);

/* Copies the next at most max bytes of the answer into buf: the number copied, 0 at the end,
 * a negative error when the answer cannot be completed (the response must be aborted). */
ssize_t git_upload_read(struct git_upload *u, char *buf, size_t max, struct margo_error *err);

/* Objects and pack bytes sent so far (0 when no pack). */
void git_upload_stats(const struct git_upload *u, size_t *objects, size_t *pack_bytes);

/* NULL: no-op. */
void git_upload_free(struct git_upload *u);

#endif
