#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "margo/file.h"
#include "margo/log.h"
#include "margo/timeutil.h"
#include "state.h"

#define STATE_KIND "MargoAgentState"
#define STATE_VERSION 1

struct str_field {
	const char *name;
	size_t offset;
};

struct int_field {
	const char *name;
	size_t offset;
	int is_time; /* stored as RFC 3339 text */
};

#define S(n, m) { n, offsetof(struct agent_state, m) }
static const struct str_field str_fields[] = {
	S("url", url), S("caFingerprint", ca_fingerprint), S("clientId", client_id),
	S("clientSecret", client_secret), S("tokenEndpointUrl", token_endpoint),
	S("deviceId", device_id), S("gitRepositoryUrl", git_repository_url),
	S("gitBranch", git_branch), S("gitUsername", git_username),
	S("gitAccessToken", git_access_token), S("gitCredentialsUrl", git_credentials_url),
	S("pendingRequestId", pending_request_id), S("pendingPollToken", pending_poll_token),
	S("accessToken", access_token), S("lastError", last_error), S("vendor", vendor),
	S("modelNumber", model_number), S("serialNumber", serial_number),
	S("desiredEtag", desired_etag), S("desiredRevision", desired_revision),
};
#undef S

#define I(n, m, t) { n, offsetof(struct agent_state, m), t }
static const struct int_field int_fields[] = {
	I("gitAccessTokenExpiresAt", git_access_token_expires_at, 1),
	I("gitAccessTokenIssuedAt", git_access_token_issued_at, 1),
	I("pendingSince", pending_since, 1),
	I("accessTokenExpiresAt", access_token_expires_at, 1),
	I("onboardedAt", onboarded_at, 1),
	I("lastContact", last_contact, 1),
	I("lastCapabilitiesReport", last_capabilities_report, 1),
	I("nextPoll", next_poll, 1),
	I("failures", failures, 0),
};
#undef I

#define STR_AT(st, f) ((char **)((char *)(st) + (f).offset))
#define INT_AT(st, f) ((int64_t *)((char *)(st) + (f).offset))

char *agent_state_path(const char *dir, const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

int agent_state_dir_prepare(const char *dir, struct margo_error *err)
{
	struct stat st;
	int rc;

	rc = margo_dir_create(dir, 0700, err);
	if (rc != 0)
		return rc;
	if (stat(dir, &st) != 0)
		return margo_error_set(err, MARGO_EIO, "%s: %s", dir, strerror(errno));
	if ((st.st_mode & 077) != 0 && chmod(dir, 0700) != 0)
		return margo_error_set(err, MARGO_EIO, "%s: chmod: %s", dir, strerror(errno));
	return MARGO_OK;
}

void agent_state_cleanup(const char *dir)
{
	static const char *const names[] = {
		AGENT_STATE_FILE, AGENT_CA_FILE, AGENT_KEY_FILE, AGENT_CERT_FILE,
	};
	struct dirent *d;
	DIR *dp = opendir(dir);

	if (dp == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			size_t n = strlen(names[i]);
			char *end;
			long pid;

			if (strncmp(d->d_name, names[i], n) != 0 || strncmp(d->d_name + n, ".tmp.", 5) != 0)
				continue;
			pid = strtol(d->d_name + n + 5, &end, 10);
			if (*end != '.' || pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {
				if (unlinkat(dirfd(dp), d->d_name, 0) == 0)
					margo_log_info("removed a temporary file left by a crash", "file=%s",
						       d->d_name);
			}
		}
	}
	closedir(dp);
}

int agent_state_lock(const char *dir, int *fd, struct margo_error *err)
{
	char *path = agent_state_path(dir, AGENT_LOCK_FILE);
	int rc = MARGO_OK;

	*fd = -1;
	if (path == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (*fd < 0) {
		rc = margo_error_set(err, MARGO_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
		rc = margo_error_set(err, errno == EWOULDBLOCK ? MARGO_ECONFLICT : MARGO_EIO,
				     "%s: %s", dir, errno == EWOULDBLOCK
				     ? "another margo-agent (run or onboard) is working on this state directory"
				     : strerror(errno));
		close(*fd);
		*fd = -1;
	}
out:
	free(path);
	return rc;
}

int agent_state_set(char **slot, const char *value)
{
	char *copy = NULL;

	if (value != NULL) {
		copy = strdup(value);
		if (copy == NULL)
			return MARGO_ENOMEM;
	}
	margo_secret_free(*slot);
	*slot = copy;
	return MARGO_OK;
}

void agent_state_free(struct agent_state *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < sizeof(str_fields) / sizeof(str_fields[0]); i++)
		margo_secret_free(*STR_AT(st, str_fields[i]));
	memset(st, 0, sizeof(*st));
}

void agent_state_clear_onboarding(struct agent_state *st)
{
	char **clear[] = {
		&st->client_id, &st->client_secret, &st->token_endpoint, &st->device_id,
		&st->git_repository_url, &st->git_branch, &st->git_username,
		&st->git_access_token, &st->git_credentials_url, &st->access_token,
		&st->pending_request_id, &st->pending_poll_token, &st->desired_etag,
	};

	for (size_t i = 0; i < sizeof(clear) / sizeof(clear[0]); i++) {
		margo_secret_free(*clear[i]);
		*clear[i] = NULL;
	}
	st->git_access_token_expires_at = 0;
	st->git_access_token_issued_at = 0;
	st->access_token_expires_at = 0;
	st->pending_since = 0;
	st->onboarded_at = 0;
	st->last_capabilities_report = 0;
	st->capabilities_hash[0] = '\0';
}

int agent_state_parse(const char *text, size_t len, const char *name, struct agent_state *st,
		      struct margo_error *err)
{
	json_t *doc, *v;
	json_error_t jerr;
	int rc = 0;

	memset(st, 0, sizeof(*st));
	doc = json_loadb(text, len, 0, &jerr);
	if (doc == NULL || !json_is_object(doc)) {
		rc = margo_error_set(err, MARGO_EINVAL, "%s: not a state file (line %d: %s)", name,
				     jerr.line, doc == NULL ? jerr.text : "not an object");
		goto out;
	}
	v = json_object_get(doc, "kind");
	if (!json_is_string(v) || strcmp(json_string_value(v), STATE_KIND) != 0) {
		rc = margo_error_set(err, MARGO_EINVAL, "%s: not a margo-agent state file", name);
		goto out;
	}
	for (size_t i = 0; i < sizeof(str_fields) / sizeof(str_fields[0]); i++) {
		v = json_object_get(doc, str_fields[i].name);
		if (json_is_string(v) && agent_state_set(STR_AT(st, str_fields[i]),
							 json_string_value(v)) != 0) {
			rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
			goto out;
		}
	}
	for (size_t i = 0; i < sizeof(int_fields) / sizeof(int_fields[0]); i++) {
		v = json_object_get(doc, int_fields[i].name);
		if (int_fields[i].is_time && json_is_string(v))
			(void)margo_time_parse(json_string_value(v), INT_AT(st, int_fields[i]));
		else if (json_is_integer(v))
			*INT_AT(st, int_fields[i]) = json_integer_value(v);
	}
	v = json_object_get(doc, "capabilitiesHash");
	if (json_is_string(v) && strlen(json_string_value(v)) == MARGO_TOKEN_HASH_LEN - 1)
		memcpy(st->capabilities_hash, json_string_value(v), MARGO_TOKEN_HASH_LEN);
out:
	if (rc != 0)
		agent_state_free(st);
	json_decref(doc);
	return rc;
}

int agent_state_load(const char *dir, struct agent_state *st, struct margo_error *err)
{
	char *path = agent_state_path(dir, AGENT_STATE_FILE), *text = NULL;
	size_t len;
	int rc;

	memset(st, 0, sizeof(*st));
	if (path == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	rc = margo_file_read(path, AGENT_STATE_MAX, &text, &len, err);
	if (rc == 0)
		rc = agent_state_parse(text, len, path, st, err);
	if (text != NULL) {
		OPENSSL_cleanse(text, len);
		free(text);
	}
	free(path);
	return rc;
}

int agent_state_save(const char *dir, const struct agent_state *st, struct margo_error *err)
{
	char *path = agent_state_path(dir, AGENT_STATE_FILE), *text = NULL;
	char when[MARGO_TIME_LEN];
	json_t *doc = NULL;
	int rc = MARGO_OK;

	doc = json_pack("{s:s, s:i}", "kind", STATE_KIND, "version", STATE_VERSION);
	if (path == NULL || doc == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < sizeof(str_fields) / sizeof(str_fields[0]); i++) {
		const char *s = *STR_AT(st, str_fields[i]);

		if (s != NULL && json_object_set_new(doc, str_fields[i].name, json_string(s)) != 0) {
			rc = margo_error_set(err, MARGO_ENOMEM, "cannot store %s", str_fields[i].name);
			goto out;
		}
	}
	for (size_t i = 0; i < sizeof(int_fields) / sizeof(int_fields[0]); i++) {
		int64_t x = *INT_AT(st, int_fields[i]);
		json_t *v;

		if (x == 0)
			continue;
		if (int_fields[i].is_time) {
			margo_time_format(x, when);
			v = json_string(when);
		} else {
			v = json_integer(x);
		}
		if (json_object_set_new(doc, int_fields[i].name, v) != 0) {
			rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (st->capabilities_hash[0] != '\0' &&
	    json_object_set_new(doc, "capabilitiesHash", json_string(st->capabilities_hash)) != 0) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (text == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	rc = margo_file_write_atomic(path, text, strlen(text), 0600, err);
out:
	margo_secret_free(text);
	json_decref(doc);
	free(path);
	return rc;
}

int agent_state_write_file(const char *dir, const char *name, const char *data, size_t len,
			   struct margo_error *err)
{
	char *path = agent_state_path(dir, name);
	int rc;

	if (path == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	rc = margo_file_write_atomic(path, data, len, 0600, err);
	free(path);
	return rc;
}

int agent_state_read_file(const char *dir, const char *name, char **data, size_t *len,
			  struct margo_error *err)
{
	char *path = agent_state_path(dir, name);
	int rc;

	if (path == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	rc = margo_file_read(path, AGENT_STATE_MAX, data, len, err);
	free(path);
	return rc;
}
