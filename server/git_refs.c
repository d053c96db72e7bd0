#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "git_refs.h"

#define PACKED_REFS_MAX (1024u * 1024u)
#define REF_FILE_MAX 512
#define REF_DEPTH_MAX 8

/* Reads a small file relative to dirfd into buf (NUL-terminated). 0, MARGO_ENOTFOUND,
 * MARGO_EUNSUPPORTED (larger than size - 1) or MARGO_EIO. */
static int read_small(int dirfd, const char *name, char *buf, size_t size, size_t *len,
		      struct margo_error *err)
{
	size_t n = 0;
	ssize_t r;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		if (errno == ENOENT)
			return MARGO_ENOTFOUND;
		return margo_error_set(err, MARGO_EIO, "%s: %s", name, strerror(errno));
	}
	while (n < size - 1 && (r = read(fd, buf + n, size - 1 - n)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return margo_error_set(err, MARGO_EIO, "%s: %s", name, strerror(errno));
		}
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	if (n == size - 1)
		return margo_error_set(err, MARGO_EUNSUPPORTED, "%s is too large", name);
	return 0;
}

int git_oid_hex(const char *s)
{
	return strspn(s, "0123456789abcdef") == GIT_OID_HEXLEN;
}

/* Names git would list and wfmd can answer for: branches of plain characters. */
static int branch_name_ok(const char *name)
{
	size_t n = strlen(name);

	return strncmp(name, "refs/heads/", 11) == 0 && n > 11 && n < GIT_REFNAME_MAX &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./")
	       == n && strstr(name, "..") == NULL && strstr(name, "//") == NULL &&
	       strstr(name, "/.") == NULL && name[n - 1] != '/' && name[n - 1] != '.';
}

static int refs_add(struct git_refs *refs, const char *name, const char *oid,
		    struct margo_error *err)
{
	struct git_ref *nr;

	if (!branch_name_ok(name))
		return margo_error_set(err, MARGO_EUNSUPPORTED, "reference %s", name);
	if (refs->n == GIT_REFS_MAX)
		return margo_error_set(err, MARGO_EUNSUPPORTED, "more than %d references",
				       GIT_REFS_MAX);
	nr = realloc(refs->refs, (refs->n + 1) * sizeof(*nr));
	if (nr == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	refs->refs = nr;
	snprintf(nr[refs->n].name, GIT_REFNAME_MAX, "%s", name);
	memcpy(nr[refs->n].oid, oid, GIT_OID_HEXLEN);
	nr[refs->n].oid[GIT_OID_HEXLEN] = '\0';
	refs->n++;
	return 0;
}

/* A loose reference file: "<oid>" and optional trailing white space. */
static int loose_ref(int dirfd, const char *file, const char *name, struct git_refs *refs,
		     struct margo_error *err)
{
	char buf[REF_FILE_MAX];
	size_t len;
	int rc = read_small(dirfd, file, buf, sizeof(buf), &len, err);

	if (rc == MARGO_ENOTFOUND)
		return 0;       /* renamed or pruned meanwhile: packed-refs has it */
	if (rc < 0)
		return rc;
	if (!git_oid_hex(buf) || strspn(buf + GIT_OID_HEXLEN, " \t\r\n") != len - GIT_OID_HEXLEN)
		return margo_error_set(err, MARGO_EUNSUPPORTED, "loose reference %s", name);
	return refs_add(refs, name, buf, err);
}

/* Walks the loose references under the directory dirfd (named prefix, "refs/..."). */
static int loose_dir(int dirfd, const char *prefix, int depth, struct git_refs *refs,
		     struct margo_error *err)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *de;
	char name[GIT_REFNAME_MAX];
	int rc = 0;

	if (d == NULL) {
		close(dirfd);
		return margo_error_set(err, MARGO_EIO, "%s: %s", prefix, strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		unsigned char type = de->d_type;

		/* git skips dot files and lock files (an update in progress). */
		if (de->d_name[0] == '.' || (n >= 5 && strcmp(de->d_name + n - 5, ".lock") == 0))
			continue;
		if ((size_t)snprintf(name, sizeof(name), "%s%s", prefix, de->d_name) >=
		    sizeof(name) - 1) {
			rc = margo_error_set(err, MARGO_EUNSUPPORTED, "reference name too long");
			break;
		}
		if (type == DT_UNKNOWN) {
			struct stat sb;
			if (fstatat(dirfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			type = S_ISDIR(sb.st_mode) ? DT_DIR : S_ISREG(sb.st_mode) ? DT_REG : DT_LNK;
		}
		if (type == DT_DIR) {
			int sub;
			if (depth == REF_DEPTH_MAX) {
				rc = margo_error_set(err, MARGO_EUNSUPPORTED, "references too deep");
				break;
			}
			sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
				     O_NOFOLLOW);
			if (sub < 0) {
				if (errno == ENOENT)
					continue;
				rc = margo_error_set(err, MARGO_EIO, "%s: %s", name, strerror(errno));
				break;
			}
			strcat(name, "/");
			if ((rc = loose_dir(sub, name, depth + 1, refs, err)) < 0)
				break;
		} else if (type == DT_REG) {
			if ((rc = loose_ref(dirfd, de->d_name, name, refs, err)) < 0)
				break;
		} else {
			rc = margo_error_set(err, MARGO_EUNSUPPORTED, "%s is not a file", name);
			break;
		}
	}
	closedir(d);
	return rc;
}

/* packed-refs: an optional "# pack-refs with: ..." header, then "<oid> <name>" lines; a
 * peeled line ("^<oid>", annotated tags) is declined. Loose references win. */
static int packed_refs(int gitfd, struct git_refs *refs, struct margo_error *err)
{
	char *buf = NULL, *line, *next;
	size_t len = 0;
	struct stat sb;
	int fd, rc = 0;
	ssize_t r;

	fd = openat(gitfd, "packed-refs", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 :
			margo_error_set(err, MARGO_EIO, "packed-refs: %s", strerror(errno));
	if (fstat(fd, &sb) < 0 || (size_t)sb.st_size > PACKED_REFS_MAX) {
		close(fd);
		return margo_error_set(err, MARGO_EUNSUPPORTED, "packed-refs too large");
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (buf == NULL) {
		close(fd);
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	}
	while (len < (size_t)sb.st_size && (r = read(fd, buf + len, (size_t)sb.st_size - len))) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = margo_error_set(err, MARGO_EIO, "packed-refs: %s", strerror(errno));
			goto out;
		}
		len += (size_t)r;
	}
	buf[len] = '\0';
	for (line = buf; rc == 0 && *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next == NULL) {
			rc = margo_error_set(err, MARGO_EUNSUPPORTED, "packed-refs: unterminated line");
			break;
		}
		*next++ = '\0';
		if (line == buf && strncmp(line, "# pack-refs with:", 17) == 0)
			continue;
		if (!git_oid_hex(line) || line[GIT_OID_HEXLEN] != ' ') {
			rc = margo_error_set(err, MARGO_EUNSUPPORTED, "packed-refs: unsupported line");
			break;
		}
		if (git_refs_find(refs, line + GIT_OID_HEXLEN + 1) != NULL)
			continue;
		rc = refs_add(refs, line + GIT_OID_HEXLEN + 1, line, err);
	}
out:
	close(fd);
	free(buf);
	return rc;
}

static int ref_cmp(const void *a, const void *b)
{
	return strcmp(((const struct git_ref *)a)->name, ((const struct git_ref *)b)->name);
}

int git_refs_read(const char *git_dir, struct git_refs *refs, struct margo_error *err)
{
	char head[REF_FILE_MAX];
	const struct git_ref *h;
	size_t len, tlen;
	int gitfd, fd, rc;
	struct stat sb;

	memset(refs, 0, sizeof(*refs));
	gitfd = open(git_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (gitfd < 0)
		return errno == ENOENT ? margo_error_set(err, MARGO_ENOTFOUND, "no repository") :
			margo_error_set(err, MARGO_EIO, "%s: %s", git_dir, strerror(errno));
	rc = read_small(gitfd, "HEAD", head, sizeof(head), &len, err);
	if (rc == MARGO_ENOTFOUND)
		rc = margo_error_set(err, MARGO_ENOTFOUND, "no repository");
	if (rc < 0)
		goto out;
	tlen = len > 5 ? strcspn(head + 5, "\n") : 0;
	if (strncmp(head, "ref: ", 5) != 0 || tlen >= GIT_REFNAME_MAX || 5 + tlen + 1 != len ||
	    head[len - 1] != '\n') {
		rc = margo_error_set(err, MARGO_EUNSUPPORTED, "HEAD is not a symbolic reference");
		goto out;
	}
	memcpy(refs->head_target, head + 5, tlen);
	refs->head_target[tlen] = '\0';
	if (!branch_name_ok(refs->head_target)) {
		rc = margo_error_set(err, MARGO_EUNSUPPORTED, "HEAD points outside refs/heads");
		goto out;
	}
	refs->shallow = fstatat(gitfd, "shallow", &sb, 0) == 0;
	fd = openat(gitfd, "refs", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		if ((rc = loose_dir(fd, "refs/", 1, refs, err)) < 0)
			goto out;
	} else if (errno != ENOENT) {
		rc = margo_error_set(err, MARGO_EIO, "refs: %s", strerror(errno));
		goto out;
	}
	if ((rc = packed_refs(gitfd, refs, err)) < 0)
		goto out;
	if (refs->n > 1)
		qsort(refs->refs, refs->n, sizeof(*refs->refs), ref_cmp);
	h = git_refs_find(refs, refs->head_target);
	if (h != NULL)
		memcpy(refs->head_oid, h->oid, sizeof(refs->head_oid));
	rc = 0;
out:
	close(gitfd);
	return rc;
}

const struct git_ref *git_refs_find(const struct git_refs *refs, const char *name)
{
	for (size_t i = 0; i < refs->n; i++)
		if (strcmp(refs->refs[i].name, name) == 0)
			return &refs->refs[i];
	return NULL;
}

void git_refs_free(struct git_refs *refs)
{
	if (refs == NULL)
		return;
	free(refs->refs);
	refs->refs = NULL;
	refs->n = 0;
}
