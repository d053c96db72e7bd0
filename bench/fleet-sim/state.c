/* fleet-sim: the devices' credentials kept between runs (--state FILE), so that the poll, git
 * and status phases can run alone against devices onboarded by an earlier run. One JSON object
 * per line: clientId, clientSecret, gitUsername, gitAccessToken, serialNumber. The file holds
 * secrets: mode 0600, written atomically, buffers wiped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "fleet-sim.h"
#include "margo/error.h"
#include "margo/file.h"
#include "margo/token.h"

#define STATE_MAX (256u * 1024u * 1024u)

int fs_state_save(const struct fs_sim *s, const char *path)
{
	struct margo_error err;
	struct fs_buf out = { 0 };
	size_t saved = 0;
	int rc = -1;

	for (size_t i = 0; i < s->ndev; i++) {
		const struct fs_device *d = &s->dev[i];
		json_t *doc;
		char *line;
		size_t len;
		char *p;

		if (d->client_id == NULL || d->client_secret == NULL || d->git_username == NULL ||
		    d->git_token == NULL)
			continue;
		doc = json_pack("{s:s, s:s, s:s, s:s, s:s}", "clientId", d->client_id,
				"clientSecret", d->client_secret, "gitUsername", d->git_username,
				"gitAccessToken", d->git_token, "serialNumber", d->serial);
		line = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
		json_decref(doc);
		if (line == NULL)
			goto out;
		len = strlen(line);
		p = realloc(out.data, out.len + len + 2);
		if (p == NULL) {
			margo_secret_free(line);
			goto out;
		}
		out.data = p;
		memcpy(out.data + out.len, line, len);
		out.len += len;
		out.data[out.len++] = '\n';
		margo_secret_free(line);
		saved++;
	}
	if (margo_file_write_atomic(path, out.data != NULL ? out.data : "", out.len, 0600,
				    &err) != 0) {
		fprintf(stderr, "fleet-sim: %s: %s\n", path, err.message);
		goto out;
	}
	printf("state saved=%zu file=%s\n", saved, path);
	rc = 0;
out:
	fs_buf_free(&out, 1);
	return rc;
}

static int device_from_json(struct fs_device *d, json_t *doc)
{
	static const char *const names[] = { "clientId", "clientSecret", "gitUsername",
					     "gitAccessToken", "serialNumber" };
	const char *v[5];

	for (size_t i = 0; i < 5; i++)
		if ((v[i] = json_string_value(json_object_get(doc, names[i]))) == NULL)
			return -1;
	if (strchr(v[0], '/') != NULL || strlen(v[0]) >= 64 || strlen(v[4]) >= sizeof(d->serial))
		return -1;
	d->client_id = strdup(v[0]);
	d->client_secret = strdup(v[1]);
	d->git_username = strdup(v[2]);
	d->git_token = strdup(v[3]);
	strcpy(d->serial, v[4]);
	return d->client_id && d->client_secret && d->git_username && d->git_token ? 0 : -1;
}

int fs_state_load(struct fs_sim *s, const char *path, size_t max)
{
	struct margo_error err;
	char *data = NULL, *line, *next;
	size_t len = 0, n = 0, lines = 0;
	int rc = -1;

	if (margo_file_read(path, STATE_MAX, &data, &len, &err) != 0) {
		fprintf(stderr, "fleet-sim: %s: %s\n", path, err.message);
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		lines += data[i] == '\n';
	if (max > 0 && lines > max)
		lines = max;
	s->dev = calloc(lines > 0 ? lines : 1, sizeof(*s->dev));
	if (s->dev == NULL)
		goto out;
	for (line = data; n < lines && line < data + len; line = next) {
		json_t *doc;

		next = memchr(line, '\n', (size_t)(data + len - line));
		if (next == NULL)
			break;
		*next++ = '\0';
		doc = json_loads(line, 0, NULL);
		s->ndev = n + 1; /* so that a half-filled device is freed */
		if (doc == NULL || device_from_json(&s->dev[n], doc) != 0) {
			json_decref(doc);
			fprintf(stderr, "fleet-sim: %s: line %zu is not a device\n", path, n + 1);
			goto out;
		}
		json_decref(doc);
		n++;
	}
	s->ndev = n;
	if (n == 0) {
		fprintf(stderr, "fleet-sim: %s: no device\n", path);
		goto out;
	}
	printf("state loaded=%zu file=%s\n", n, path);
	rc = 0;
out:
	OPENSSL_cleanse(data, len);
	free(data);
	return rc;
}
