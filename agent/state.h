/* The agent's state directory (mode 0700):
 *   state.json  onboarding result and run bookkeeping (0600, replaced atomically)
 *   ca.crt      the pinned WFM root CA (0600)
 *   device.key  the device's private key (0600)
 *   device.crt  the device's certificate (0600)
 *   lock        held (flock) by the one `run` or `onboard` working on the directory
 * Every file is written with margo_file_write_atomic(), so a crash leaves the old or the new
 * version, never a mix. */
#ifndef AGENT_STATE_H
#define AGENT_STATE_H

#include <stdint.h>

#include "margo/error.h"
#include "margo/token.h"

#define AGENT_STATE_FILE "state.json"
#define AGENT_CA_FILE "ca.crt"
#define AGENT_KEY_FILE "device.key"
#define AGENT_CERT_FILE "device.crt"
#define AGENT_LOCK_FILE "lock"
#define AGENT_STATE_MAX (256 * 1024)

struct agent_state {
	char *url;                 /* WFM root URL the device onboarded with */
	char *ca_fingerprint;      /* "sha256:..." of ca.crt */
	/* onboarding result (client_id set once onboarded) */
	char *client_id;
	char *client_secret;       /* secret */
	char *token_endpoint;
	char *device_id;
	char *git_repository_url;
	char *git_branch;
	char *git_username;
	char *git_access_token;    /* secret */
	int64_t git_access_token_expires_at;
	int64_t git_access_token_issued_at; /* when the agent received it (rotation timing) */
	char *desired_etag;        /* ETag of the last desired-state answer */
	char *desired_revision;    /* revision the WFM wants (applied or not) */
	char *git_credentials_url;
	/* identity given to `onboard` with --vendor/--model/--serial (they keep overriding) */
	char *vendor;
	char *model_number;
	char *serial_number;
	/* a pending onboarding request, kept so `onboard` resumes polling it */
	char *pending_request_id;
	char *pending_poll_token;  /* secret */
	int64_t pending_since;
	/* cached OAuth access token */
	char *access_token;        /* secret */
	int64_t access_token_expires_at;
	/* run bookkeeping (0: never) */
	int64_t onboarded_at;
	int64_t last_contact;
	int64_t last_capabilities_report;
	char capabilities_hash[MARGO_TOKEN_HASH_LEN];
	int64_t next_poll;
	int64_t failures;
	char *last_error;
};

/* Newly allocated "DIR/NAME" (caller frees), NULL when out of memory. */
char *agent_state_path(const char *dir, const char *name);

/* Creates the state directory (0700) when missing and tightens its mode. */
int agent_state_dir_prepare(const char *dir, struct margo_error *err);

/* Removes temporary files ("NAME.tmp.PID.RANDOM") left by writers that were killed before
 * their rename (they may hold secrets). Files of live processes are kept. Best effort. */
void agent_state_cleanup(const char *dir);

/* Takes the state directory's lock (DIR/lock, 0600, flock) so that two agents never write
 * one state. *fd is the lock's descriptor (close it to release). MARGO_ECONFLICT when another
 * process holds it. */
int agent_state_lock(const char *dir, int *fd, struct margo_error *err);

/* Loads DIR/state.json into st (zeroed first). MARGO_ENOTFOUND when there is none. */
int agent_state_load(const char *dir, struct agent_state *st, struct margo_error *err);

/* Parses the text of a state file (len bytes; name is used in messages) into st (zeroed
 * first). MARGO_EINVAL when it is not a margo-agent state file; st is freed on failure. */
int agent_state_parse(const char *text, size_t len, const char *name, struct agent_state *st,
		      struct margo_error *err);

/* Writes st to DIR/state.json atomically, mode 0600. */
int agent_state_save(const char *dir, const struct agent_state *st, struct margo_error *err);

/* Frees (and wipes the secrets of) the members of st. */
void agent_state_free(struct agent_state *st);

/* Replaces *slot with a copy of value (NULL allowed); the old value is wiped. */
int agent_state_set(char **slot, const char *value);

/* Forgets the onboarding result and the cached token (before re-onboarding). */
void agent_state_clear_onboarding(struct agent_state *st);

/* Writes a file of the state directory atomically with mode 0600. */
int agent_state_write_file(const char *dir, const char *name, const char *data, size_t len,
			   struct margo_error *err);

/* Reads a file of the state directory (NUL-terminated). MARGO_ENOTFOUND when missing. */
int agent_state_read_file(const char *dir, const char *name, char **data, size_t *len,
			  struct margo_error *err);

#endif
