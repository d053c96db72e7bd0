/* pkt-line framing of the Git protocol (gitprotocol-common(5), gitprotocol-v2(5)): a reader
 * over a request body, and a growable output buffer that writes pkt-lines. */
#ifndef WFMD_GIT_PKT_H
#define WFMD_GIT_PKT_H

#include <stddef.h>

#include "margo/error.h"

#define GIT_PKT_MAX 65520                       /* a pkt-line with its 4-byte length */
#define GIT_PKT_DATA_MAX (GIT_PKT_MAX - 4)
#define GIT_SIDEBAND_MAX (GIT_PKT_DATA_MAX - 1)  /* side-band-64k data per pkt-line */
#define GIT_SIDEBAND_SMALL_MAX 995              /* side-band (1000-byte pkt-lines) */
#define GIT_PKT_LINE_MAX 1023                   /* a text line wfmd writes */

enum git_pkt_kind {
	GIT_PKT_DATA = 0,
	GIT_PKT_FLUSH,                          /* "0000" */
	GIT_PKT_DELIM,                          /* "0001" (v2) */
	GIT_PKT_END,                            /* "0002" (v2 response-end) */
};

struct git_pkt_reader {
	const char *p;
	size_t len;
	size_t off;
};

struct git_pkt {
	enum git_pkt_kind kind;
	/* GIT_PKT_DATA: the payload without a trailing LF, NUL-terminated (a copy inside the
	 * reader's line buffer, valid until the next read). */
	char line[GIT_PKT_DATA_MAX + 1];
	size_t len;
};

void git_pkt_reader_init(struct git_pkt_reader *r, const void *data, size_t len);

/* Reads the next pkt-line into pkt: 1, 0 at the end of the input, or MARGO_EINVAL for a
 * malformed length, a truncated line or a NUL inside a text line. */
int git_pkt_read(struct git_pkt_reader *r, struct git_pkt *pkt, struct margo_error *err);

/* An output buffer, NUL-terminated past len once written to; an allocation failure is
 * remembered (failed) and later writes do nothing, so a sequence of writes is checked once.
 * Zero-initialised is empty. */
struct git_buf {
	char *data;
	size_t len;
	size_t cap;
	int failed;
};

/* Appends len raw bytes. */
void git_buf_add(struct git_buf *b, const void *data, size_t len);
/* Appends one pkt-line with the printf-formatted payload (at most GIT_PKT_LINE_MAX bytes:
 * references, acknowledgments, capabilities; longer sets failed). */
void git_buf_pkt(struct git_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends one pkt-line with a binary payload of len bytes (at most GIT_PKT_DATA_MAX). */
void git_buf_pkt_raw(struct git_buf *b, const void *data, size_t len);
void git_buf_flush(struct git_buf *b);
void git_buf_delim(struct git_buf *b);
/* Frees the data and empties b. */
void git_buf_free(struct git_buf *b);

#endif
