#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "margo/hex.h"
#include "git_object.h"
#include "git_refs.h"

#define HEADER_MAX 32

static int header(const char *type, size_t len, char *out)
{
	return snprintf(out, HEADER_MAX, "%s %zu", type, len) + 1;  /* with its NUL */
}

int git_object_id(const char *type, const void *data, size_t len, char oid[41],
		  struct margo_error *err)
{
	char hdr[HEADER_MAX];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int hlen = header(type, len, hdr), ok;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1 &&
		EVP_DigestUpdate(ctx, hdr, (size_t)hlen) == 1 &&
		(len == 0 || EVP_DigestUpdate(ctx, data, len) == 1) &&
		EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 20;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return margo_error_set(err, MARGO_ECRYPTO, "SHA-1 failed");
	margo_hex_lower(md, 20, oid);
	return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int git_fsync_path(const char *path, struct margo_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return margo_error_set(err, MARGO_EIO, "%s: %s", path, strerror(errno));
	if (fsync(fd) < 0)
		rc = margo_error_set(err, MARGO_EIO, "fsync %s: %s", path, strerror(errno));
	close(fd);
	return rc;
}

int git_object_write(const char *objects_dir, const char *type, const void *data, size_t len,
		     int sync, char oid[41], struct margo_error *err)
{
	char hdr[HEADER_MAX], dir[4200], path[4300], tmp[4300];
	int hlen = header(type, len, hdr), fd = -1, rc;
	unsigned char *z = NULL;
	z_stream zs;
	uLong zcap;

	if ((rc = git_object_id(type, data, len, oid, err)) < 0)
		return rc;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/%.2s", objects_dir, oid) >= sizeof(dir))
		return margo_error_set(err, MARGO_EINVAL, "path too long");
	snprintf(path, sizeof(path), "%s/%s", dir, oid + 2);
	snprintf(tmp, sizeof(tmp), "%s/tmp_obj_XXXXXX", dir);
	if (access(path, F_OK) == 0)
		return 0;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return margo_error_set(err, MARGO_EIO, "mkdir %s: %s", dir, strerror(errno));

	/* zlib stream of header and content; git writes loose objects at Z_BEST_SPEED. */
	memset(&zs, 0, sizeof(zs));
	if (deflateInit(&zs, Z_BEST_SPEED) != Z_OK)
		return margo_error_set(err, MARGO_ENOMEM, "deflateInit failed");
	zcap = deflateBound(&zs, (uLong)(hlen + len));
	z = malloc(zcap);
	if (z == NULL) {
		deflateEnd(&zs);
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	}
	zs.next_out = z;
	zs.avail_out = (uInt)zcap;
	zs.next_in = (Bytef *)hdr;
	zs.avail_in = (uInt)hlen;
	rc = deflate(&zs, Z_NO_FLUSH);
	if (rc == Z_OK) {
		zs.next_in = (Bytef *)(uintptr_t)data;
		zs.avail_in = (uInt)len;
		rc = deflate(&zs, Z_FINISH);
	}
	deflateEnd(&zs);
	if (rc != Z_STREAM_END) {
		rc = margo_error_set(err, MARGO_EIO, "deflate failed");
		goto out;
	}

	/* A temporary name, then link: a crash never leaves a truncated object in place. */
	fd = mkstemp(tmp);
	if (fd < 0) {
		rc = margo_error_set(err, MARGO_EIO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (write_all(fd, z, zs.total_out) < 0 || (sync && fsync(fd) < 0) || fchmod(fd, 0444) < 0) {
		rc = margo_error_set(err, MARGO_EIO, "write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (rename(tmp, path) < 0) {
		rc = margo_error_set(err, MARGO_EIO, "rename %s: %s", path, strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	rc = sync ? git_fsync_path(dir, err) : 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0] != '\0')
		unlink(tmp);
	free(z);
	return rc;
}

int git_object_read(const char *objects_dir, const char *oid, char type[16], char **data,
		    size_t *len, size_t max, struct margo_error *err)
{
	char path[4300], zbuf[4096], check[41], *buf = NULL, *nul;
	size_t cap = max + HEADER_MAX + 1, got = 0;
	int fd, zr = Z_OK, rc = 0;
	z_stream zs;
	ssize_t n;

	if (!git_oid_hex(oid) || oid[GIT_OID_HEXLEN] != '\0')
		return margo_error_set(err, MARGO_EINVAL, "not an object id");
	snprintf(path, sizeof(path), "%s/%.2s/%s", objects_dir, oid, oid + 2);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? margo_error_set(err, MARGO_ENOTFOUND, "no loose object") :
			margo_error_set(err, MARGO_EIO, "%s: %s", path, strerror(errno));
	buf = malloc(cap);
	memset(&zs, 0, sizeof(zs));
	if (buf == NULL || inflateInit(&zs) != Z_OK) {
		close(fd);
		free(buf);
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	}
	while (zr == Z_OK && (n = read(fd, zbuf, sizeof(zbuf))) > 0) {
		zs.next_in = (Bytef *)zbuf;
		zs.avail_in = (uInt)n;
		while (zr == Z_OK && zs.avail_in > 0) {
			if (got == cap - 1) {
				rc = margo_error_set(err, MARGO_ETOOBIG, "object too large");
				goto out;
			}
			zs.next_out = (Bytef *)buf + got;
			zs.avail_out = (uInt)(cap - 1 - got);
			zr = inflate(&zs, Z_NO_FLUSH);
			got = cap - 1 - zs.avail_out;
		}
	}
	if (zr != Z_STREAM_END) {
		rc = margo_error_set(err, MARGO_EIO, "%s does not inflate", path);
		goto out;
	}
	buf[got] = '\0';
	nul = memchr(buf, '\0', got);
	if (nul == NULL || sscanf(buf, "%15s %zu", type, len) != 2 ||
	    *len != got - (size_t)(nul + 1 - buf)) {
		rc = margo_error_set(err, MARGO_EIO, "%s: bad object header", path);
		goto out;
	}
	if ((rc = git_object_id(type, nul + 1, *len, check, err)) < 0)
		goto out;
	if (strcmp(check, oid) != 0) {
		rc = margo_error_set(err, MARGO_EIO, "%s does not hash to its id", path);
		goto out;
	}
	memmove(buf, nul + 1, *len + 1);
	*data = buf;
	buf = NULL;
out:
	inflateEnd(&zs);
	close(fd);
	free(buf);
	return rc;
}
