#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "git_pkt.h"

void git_pkt_reader_init(struct git_pkt_reader *r, const void *data, size_t len)
{
	r->p = data;
	r->len = data != NULL ? len : 0;
	r->off = 0;
}

static int hex4(const char *s, size_t *out)
{
	size_t v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

		if (d < 0)
			return -1;
		v = v << 4 | (size_t)d;
	}
	*out = v;
	return 0;
}

int git_pkt_read(struct git_pkt_reader *r, struct git_pkt *pkt, struct margo_error *err)
{
	size_t n, left = r->len - r->off;

	if (left == 0)
		return 0;
	if (left < 4 || hex4(r->p + r->off, &n) < 0)
		return margo_error_set(err, MARGO_EINVAL, "malformed pkt-line length");
	if (n < 4) {
		if (n == 3)
			return margo_error_set(err, MARGO_EINVAL, "malformed pkt-line length");
		pkt->kind = n == 0 ? GIT_PKT_FLUSH : n == 1 ? GIT_PKT_DELIM : GIT_PKT_END;
		pkt->len = 0;
		pkt->line[0] = '\0';
		r->off += 4;
		return 1;
	}
	if (n > GIT_PKT_MAX || n > left)
		return margo_error_set(err, MARGO_EINVAL, "truncated or oversized pkt-line");
	n -= 4;
	memcpy(pkt->line, r->p + r->off + 4, n);
	r->off += n + 4;
	if (n > 0 && pkt->line[n - 1] == '\n')
		n--;
	pkt->line[n] = '\0';
	if (memchr(pkt->line, '\0', n) != NULL)
		return margo_error_set(err, MARGO_EINVAL, "NUL byte in a pkt-line");
	pkt->kind = GIT_PKT_DATA;
	pkt->len = n;
	return 1;
}

static int reserve(struct git_buf *b, size_t more)
{
	size_t cap;
	char *nd;

	if (b->failed)
		return -1;
	if (b->len + more <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + more)
		cap *= 2;
	nd = realloc(b->data, cap);
	if (nd == NULL) {
		b->failed = 1;
		return -1;
	}
	b->data = nd;
	b->cap = cap;
	return 0;
}

void git_buf_add(struct git_buf *b, const void *data, size_t len)
{
	if (len == 0 || reserve(b, len + 1) < 0)
		return;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void git_buf_pkt_raw(struct git_buf *b, const void *data, size_t len)
{
	char hdr[5];

	if (len > GIT_PKT_DATA_MAX) {
		b->failed = 1;
		return;
	}
	snprintf(hdr, sizeof(hdr), "%04zx", len + 4);
	git_buf_add(b, hdr, 4);
	git_buf_add(b, data, len);
}

void git_buf_pkt(struct git_buf *b, const char *fmt, ...)
{
	char line[GIT_PKT_LINE_MAX + 1];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		b->failed = 1;
		return;
	}
	git_buf_pkt_raw(b, line, (size_t)n);
}

void git_buf_flush(struct git_buf *b)
{
	git_buf_add(b, "0000", 4);
}

void git_buf_delim(struct git_buf *b)
{
	git_buf_add(b, "0001", 4);
}

void git_buf_free(struct git_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}
