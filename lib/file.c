/* Files: atomic writes, bounded reads, directory creation. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "margo/error.h"
#include "margo/file.h"

/* Directory part of path ("." when none) into dir. */
static int dir_of(const char *path, char *dir, size_t size)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL) {
		snprintf(dir, size, ".");
		return 0;
	}
	n = (size_t)(slash - path);
	if (n == 0)
		n = 1; /* "/name" */
	if (n >= size)
		return -1;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
}

static int fsync_dir(const char *path)
{
	char dir[PATH_MAX];
	int fd, rc;

	if (dir_of(path, dir, sizeof(dir)) != 0)
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int margo_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
			    struct margo_error *err)
{
	char tmp[PATH_MAX];
	unsigned char rnd[8];
	unsigned long long r;
	const unsigned char *p = data;
	size_t off = 0;
	int fd = -1, rc = MARGO_OK, created = 0, n;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		rc = margo_error_set(err, MARGO_ECRYPTO, "random number generator failed");
		goto out;
	}
	memcpy(&r, rnd, sizeof(r));
	n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%016llx", path, (long)getpid(), r);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		rc = margo_error_set(err, MARGO_EINVAL, "path too long: %s", path);
		goto out;
	}
	fd = open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);
	if (fd < 0) {
		rc = margo_error_set(err, MARGO_EIO, "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	created = 1;
	/* The umask may have cleared bits of mode; it may never add any. */
	if (fchmod(fd, mode) != 0) {
		rc = margo_error_set(err, MARGO_EIO, "cannot chmod %s: %s", tmp, strerror(errno));
		goto out;
	}
	while (off < len) {
		ssize_t w = write(fd, p + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			rc = margo_error_set(err, MARGO_EIO, "cannot write %s: %s", tmp,
					     strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		rc = margo_error_set(err, MARGO_EIO, "cannot fsync %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = margo_error_set(err, MARGO_EIO, "cannot close %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		rc = margo_error_set(err, MARGO_EIO, "cannot rename %s to %s: %s", tmp, path,
				     strerror(errno));
		goto out;
	}
	created = 0;
	if (fsync_dir(path) != 0) {
		rc = margo_error_set(err, MARGO_EIO, "cannot fsync directory of %s: %s", path,
				     strerror(errno));
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(tmp);
	return rc;
}

int margo_file_read(const char *path, size_t max, char **data, size_t *len,
		    struct margo_error *err)
{
	char *buf = NULL;
	size_t cap, used = 0;
	int fd, rc = MARGO_OK;
	struct stat st;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return margo_error_set(err, MARGO_ENOTFOUND, "%s does not exist", path);
		return margo_error_set(err, MARGO_EIO, "cannot open %s: %s", path,
				       strerror(errno));
	}
	if (fstat(fd, &st) != 0) {
		rc = margo_error_set(err, MARGO_EIO, "cannot stat %s: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = margo_error_set(err, MARGO_EIO, "%s is a directory", path);
		goto out;
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) {
		rc = margo_error_set(err, MARGO_ETOOBIG, "%s is larger than %zu bytes", path, max);
		goto out;
	}
	/* Read up to max+1 bytes so a file that grew (or a pipe) is still bounded. */
	cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 4096;
	if (cap > max + 1)
		cap = max + 1;
	buf = malloc(cap + 1);
	if (buf == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t r;

		if (used == cap) {
			char *nb;

			if (cap > max) {
				rc = margo_error_set(err, MARGO_ETOOBIG,
						     "%s is larger than %zu bytes", path, max);
				goto out;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			nb = realloc(buf, cap + 1);
			if (nb == NULL) {
				rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
				goto out;
			}
			buf = nb;
		}
		r = read(fd, buf + used, cap - used);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = margo_error_set(err, MARGO_EIO, "cannot read %s: %s", path,
					     strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		used += (size_t)r;
	}
	if (used > max) {
		rc = margo_error_set(err, MARGO_ETOOBIG, "%s is larger than %zu bytes", path, max);
		goto out;
	}
	buf[used] = '\0';
	*data = buf;
	*len = used;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

int margo_dir_create(const char *path, mode_t mode, struct margo_error *err)
{
	char buf[PATH_MAX];
	size_t n = strlen(path), i;
	struct stat st;

	if (n == 0 || n >= sizeof(buf))
		return margo_error_set(err, MARGO_EINVAL, "bad directory path");
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		if (buf[i - 1] == '/')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) != 0) {
			if (errno != EEXIST)
				return margo_error_set(err, MARGO_EIO, "cannot create %s: %s", buf,
						       strerror(errno));
			if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
				return margo_error_set(err, MARGO_EIO, "%s exists and is not a directory",
						       buf);
		}
		if (i < n)
			buf[i] = '/';
	}
	return MARGO_OK;
}
