/* Answers of `git upload-pack --stateless-rpc` that need no process: the reference
 * advertisement (protocol v0, and the capability advertisement of protocol v2) and the v2
 * ls-refs command, generated from the repository's references (git_refs.h) byte for byte as
 * upload-pack writes them. This covers a no-change `git ls-remote` or `git fetch`, and the
 * first fetch of a repository wfmd has just created; any other fetch runs git upload-pack.
 *
 * The repository-independent parts (the v0 capability list, the v2 capability advertisement)
 * are learned once from git upload-pack's own answers for a probe repository, then checked by
 * generating the same answers natively and comparing; until git_serve_learn succeeded every
 * call is declined. Learning happens before the server threads start; afterwards the state
 * is read-only. */
#ifndef WFMD_GIT_SERVE_H
#define WFMD_GIT_SERVE_H

#include <stddef.h>

#include "margo/error.h"

/* Returned (positive) when the request is not one this module answers: ask git. */
#define GIT_SERVE_DECLINED 1

/* Learns from upload-pack's answers for probe_dir (a repository with HEAD -> a branch at one
 * commit and no other reference): v0 = `--advertise-refs` output without GIT_PROTOCOL, v2 =
 * the same with GIT_PROTOCOL=version=2. Checks that git_serve_advertise gives both back for
 * probe_dir. On failure native answers stay off (MARGO_EUNSUPPORTED says why). */
int git_serve_learn(const char *probe_dir, const char *v0, size_t v0_len, const char *v2,
		    size_t v2_len, struct margo_error *err);

/* Checks one v2 request (req, as a client POSTs it) against upload-pack's answer (expected)
 * for probe_dir; on a difference native answers are switched off and MARGO_EUNSUPPORTED
 * returned. A request git_serve_request declines is not checked (0). */
int git_serve_check(const char *probe_dir, const void *req, size_t req_len,
		    const char *expected, size_t expected_len, struct margo_error *err);

/* Forgets what was learned (native answers off). */
void git_serve_reset(void);

/* 1 when native answers are on. */
int git_serve_enabled(void);

/* The reference advertisement of upload-pack --stateless-rpc --advertise-refs for git_dir
 * (v2: GIT_PROTOCOL=version=2, else protocol v0). *out is newly allocated (caller frees).
 * 0, GIT_SERVE_DECLINED, or a negative error (MARGO_ENOTFOUND: no repository). */
int git_serve_advertise(const char *git_dir, int v2, char **out, size_t *out_len,
			struct margo_error *err);

/* Answers an upload-pack request body (v2: GIT_PROTOCOL=version=2, else protocol v0) when it
 * is a v2 ls-refs command, or the first fetch of a new repository, v2 or v0 (one commit
 * wanted, no "have": main's initial commit, whose pack is that commit and the empty tree;
 * sent without progress messages, so not byte-identical to upload-pack's, which carries the
 * same objects). Anything else (other fetches, unknown capabilities, malformed input) is
 * GIT_SERVE_DECLINED. *out is newly allocated (caller frees). */
int git_serve_request(const char *git_dir, int v2, const void *in, size_t in_len, char **out,
		      size_t *out_len, struct margo_error *err);

#endif
