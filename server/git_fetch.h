/* The fetch of upload-pack, decided from a git_source: which "have"s are common
 * (acknowledgments), whether the server is ready to send, the shallow boundary for deepen
 * requests (shallow/unshallow), and the objects of the pack: every commit reachable from the
 * wants and not from the common commits (nor past a shallow boundary), with the trees and
 * blobs of those commits minus what the common commits next to them already hold (as
 * upload-pack does without bitmaps: the client may get an object it had further back).
 *
 * Memory: the commits walked (between the wants and the common commits or the shallow
 * boundary), the ids of the objects the pack will hold, and the ids in the trees of the
 * common commits at the edge; not the history before them. */
#ifndef WFMD_GIT_FETCH_H
#define WFMD_GIT_FETCH_H

#include <stddef.h>

#include "margo/error.h"
#include "git_oid.h"
#include "git_request.h"
#include "git_source.h"

#define GIT_HAVES_CHECKED_MAX 4096      /* "have" lines looked up per request */
#define GIT_WANT_SEARCH_MAX 100000      /* commits walked to find a want that is not a tip */
#define GIT_TREE_DEPTH_MAX 64

struct git_fetch_commit;

struct git_fetch {
	struct git_source *src;
	const struct git_request *req;
	/* Results. */
	struct git_oids common;         /* haves found here, in request order */
	int ready;                      /* enough is common to send a pack */
	struct git_oids shallow;        /* shallow-info lines */
	struct git_oids unshallow;
	struct git_oids objects;        /* the pack's objects, in pack order */
	/* The walk's commits. */
	struct git_oidmap index;        /* commit id -> 1 + its position in commits */
	struct git_fetch_commit *commits;
	size_t ncommits;
	size_t cap;
	struct git_oids parents;        /* every commit's parents, one after the other */
	size_t queued;                  /* interesting commits in the walk's queue */
};

/* Checks the wants (commits reachable from refs/heads/main) and finds the common haves:
 * fills common and ready. MARGO_EINVAL for a want that is not ours (the message says
 * which), other codes from the source. Free f with git_fetch_free even on failure. */
int git_fetch_negotiate(struct git_fetch *f, struct git_source *src,
			const struct git_request *req, struct margo_error *err);

/* After git_fetch_negotiate: computes the shallow boundary (shallow, unshallow) when the
 * request deepens or the client is shallow. */
int git_fetch_shallow(struct git_fetch *f, struct margo_error *err);

/* After git_fetch_shallow: lists the pack's objects. */
int git_fetch_objects(struct git_fetch *f, struct margo_error *err);

void git_fetch_free(struct git_fetch *f);

#endif
