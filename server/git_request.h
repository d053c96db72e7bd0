/* The requests a Git client POSTs to git-upload-pack, parsed: protocol v0 (want/shallow/
 * deepen lines, a flush, have lines, then a flush or "done"; capabilities on the want lines)
 * and the protocol v2 commands ls-refs and fetch (gitprotocol-v2(5)). Only what wfmd
 * advertises is accepted: an argument or capability wfmd does not implement is refused. */
#ifndef WFMD_GIT_REQUEST_H
#define WFMD_GIT_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "margo/error.h"
#include "git_oid.h"
#include "git_source.h"

#define GIT_REQUEST_OIDS_MAX 65536      /* want, have or shallow lines in one request, each */
#define GIT_REQUEST_NAMES_MAX 64        /* ref-prefix or deepen-not arguments */
#define GIT_REQUEST_NAME_MAX 255        /* length of one of them */

enum git_command {
	GIT_COMMAND_FETCH = 0,          /* v0 upload-pack request or v2 command=fetch */
	GIT_COMMAND_LS_REFS,            /* v2 command=ls-refs */
};

/* Client capabilities (v0: on the want lines) and v2 fetch arguments of the same meaning. */
#define GIT_CAP_MULTI_ACK_DETAILED 0x01u
#define GIT_CAP_NO_DONE 0x02u
#define GIT_CAP_SIDE_BAND 0x04u
#define GIT_CAP_SIDE_BAND_64K 0x08u
#define GIT_CAP_NO_PROGRESS 0x10u
#define GIT_CAP_DEEPEN_RELATIVE 0x20u

struct git_names {
	char *names[GIT_REQUEST_NAMES_MAX];     /* owned */
	size_t n;
};

struct git_request {
	int v2;
	enum git_command command;
	unsigned caps;                  /* GIT_CAP_* */
	/* ls-refs */
	int peel;
	int symrefs;
	int unborn;
	struct git_names ref_prefixes;
	/* fetch */
	struct git_oids wants;
	struct git_oids haves;
	struct git_oids shallows;       /* the client's shallow boundary commits */
	int depth;                      /* deepen N; 0: none */
	int64_t deepen_since;           /* deepen-since; 0: none */
	struct git_names deepen_not;
	int done;                       /* the client sent "done" */
	int round;                      /* v0: the have lines ended with a flush (a negotiation
					 * round); without it or done, only shallow lines are due */
};

/* Parses a request body (v2: a protocol v2 command, else a v0 upload-pack request) into req
 * (free with git_request_free even on failure). MARGO_EINVAL with the reason for malformed or
 * unsupported input, MARGO_ELIMIT past the limits above, MARGO_ENOMEM. */
int git_request_parse(const void *body, size_t len, int v2, struct git_request *req,
		      struct margo_error *err);

void git_request_free(struct git_request *req);

#endif
