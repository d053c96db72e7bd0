/* The desired-state repository: a bare clone at <state_dir>/repo kept current with libgit2.
 * Network operations run in a child process with a hard time limit (libgit2 1.5 has no
 * timeouts), verify the server against the pinned CA themselves (Debian's libgit2 uses mbedTLS,
 * which neither knows our CA nor matches IP SANs) and authenticate with the git token, which
 * never appears in a URL or argv. */
#ifndef AGENT_GITSYNC_H
#define AGENT_GITSYNC_H

#include <jansson.h>

#include "margo/error.h"

#define AGENT_REPO_DIR "repo"
#define AGENT_GIT_TIMEOUT_S 120

struct agent_git_remote {
	const char *url;       /* gitRepositoryUrl */
	const char *username;  /* gitUsername */
	const char *token;     /* gitAccessToken (secret) */
	const char *ca_pem;    /* the pinned WFM CA */
	const char *proxy;     /* https_proxy or NULL */
	int timeout_s;         /* 0: AGENT_GIT_TIMEOUT_S */
};

/* Clones (first time, or when the clone is unusable) or fetches into repo_dir.
 * MARGO_EAUTH when the server refused the token (rotate it and retry), MARGO_ENET for
 * transport, TLS or time-out failures, with the reason in err. */
int agent_git_sync(const char *repo_dir, const struct agent_git_remote *remote,
		   struct margo_error *err);

/* The deployment files of commit revision (hex id) in repo_dir: *out is a new object
 * {"<deploymentId>": {"hash": "<sha256 hex of the content>", "content": "<yaml>"}} for each
 * deployments/<deploymentId>.yaml. MARGO_ENOTFOUND when the commit is not in the clone. */
int agent_git_read_deployments(const char *repo_dir, const char *revision, json_t **out,
			       struct margo_error *err);

#endif
