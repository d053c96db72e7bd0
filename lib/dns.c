/* DNS message building and parsing for DNS-SD discovery (see margo/dns.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "margo/dns.h"

#define HEADER_LEN 12
#define LABEL_MAX 63
#define WIRE_NAME_MAX 255
#define QUESTIONS_MAX 64
/* More compression pointers than a 255-byte name can hold labels means a loop. */
#define POINTER_HOPS_MAX 128

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Appends one label byte in presentation form; -1 when it does not fit. */
static int put_char(char *out, size_t cap, size_t *o, uint8_t c)
{
	char tmp[5];
	int n;

	if (c == '.' || c == '\\')
		n = snprintf(tmp, sizeof(tmp), "\\%c", c);
	else if (c < 0x21 || c > 0x7e)
		n = snprintf(tmp, sizeof(tmp), "\\%03u", c);
	else
		n = snprintf(tmp, sizeof(tmp), "%c", c);
	if (*o + (size_t)n >= cap)
		return -1;
	memcpy(out + *o, tmp, (size_t)n);
	*o += (size_t)n;
	out[*o] = '\0';
	return 0;
}

/* Reads the (possibly compressed) name at *off into out. *off moves past the name as it
 * appears at *off. Each compression pointer must point before the segment that holds it, so
 * reading always ends. */
static int read_name(const uint8_t *m, size_t len, size_t *off, char *out, size_t cap,
		     struct margo_error *err)
{
	size_t pos = *off, limit = *off, end = 0, wire = 0, o = 0;
	int hops = 0;

	out[0] = '\0';
	for (;;) {
		uint8_t l;

		if (pos >= len)
			return margo_error_set(err, MARGO_EINVAL, "name at %zu runs past the message",
					       *off);
		l = m[pos];
		if ((l & 0xc0) == 0xc0) {
			size_t ptr;

			if (pos + 1 >= len)
				return margo_error_set(err, MARGO_EINVAL, "truncated pointer at %zu", pos);
			ptr = (size_t)(l & 0x3f) << 8 | m[pos + 1];
			if (ptr >= limit || ++hops > POINTER_HOPS_MAX)
				return margo_error_set(err, MARGO_EINVAL,
						       "compression pointer at %zu does not point back", pos);
			if (end == 0)
				end = pos + 2;
			pos = limit = ptr;
			continue;
		}
		if ((l & 0xc0) != 0)
			return margo_error_set(err, MARGO_EINVAL, "reserved label type at %zu", pos);
		wire += (size_t)l + 1;
		if (wire > WIRE_NAME_MAX)
			return margo_error_set(err, MARGO_EINVAL, "name at %zu longer than 255 bytes",
					       *off);
		if (l == 0)
			break;
		if (pos + 1 + l > len)
			return margo_error_set(err, MARGO_EINVAL, "label at %zu runs past the message",
					       pos);
		if (o > 0) {
			if (o + 1 >= cap)
				return margo_error_set(err, MARGO_EINVAL, "name at %zu too long", *off);
			out[o++] = '.';
			out[o] = '\0';
		}
		for (size_t i = 0; i < l; i++)
			if (put_char(out, cap, &o, m[pos + 1 + i]) != 0)
				return margo_error_set(err, MARGO_EINVAL, "name at %zu too long", *off);
		pos += (size_t)l + 1;
	}
	if (o == 0)
		snprintf(out, cap, ".");
	*off = end != 0 ? end : pos + 1;
	return MARGO_OK;
}

/* Presentation form to wire form. */
static int write_name(const char *name, uint8_t *buf, size_t cap, size_t *len)
{
	size_t o = 0, lab = 0, n = 0;
	const char *p = name;

	if (strcmp(name, ".") == 0 || *name == '\0')
		goto root;
	if (cap < 1)
		return MARGO_ETOOBIG;
	lab = o++;
	for (; *p != '\0'; p++) {
		int c = (unsigned char)*p;

		if (c == '.') {
			if (n == 0)
				return MARGO_EINVAL;
			buf[lab] = (uint8_t)n;
			if (p[1] == '\0')
				goto root;
			if (o >= cap)
				return MARGO_ETOOBIG;
			lab = o++;
			n = 0;
			continue;
		}
		if (c == '\\') {
			if (isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) &&
			    isdigit((unsigned char)p[3])) {
				c = (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
				if (c > 255)
					return MARGO_EINVAL;
				p += 3;
			} else if (p[1] != '\0') {
				c = (unsigned char)*++p;
			} else {
				return MARGO_EINVAL;
			}
		}
		if (++n > LABEL_MAX)
			return MARGO_EINVAL;
		if (o >= cap)
			return MARGO_ETOOBIG;
		buf[o++] = (uint8_t)c;
	}
	if (n == 0)
		return MARGO_EINVAL;
	buf[lab] = (uint8_t)n;
root:
	if (o >= cap)
		return MARGO_ETOOBIG;
	buf[o++] = 0;
	if (o > WIRE_NAME_MAX)
		return MARGO_EINVAL;
	*len = o;
	return MARGO_OK;
}

int margo_dns_query_build(uint16_t id, int rd, const char *name, uint16_t type, int qu,
			  uint8_t *buf, size_t cap, size_t *len, struct margo_error *err)
{
	size_t nlen = 0;
	int rc;

	if (cap < HEADER_LEN + 4)
		return margo_error_set(err, MARGO_ETOOBIG, "query buffer too small");
	memset(buf, 0, HEADER_LEN);
	put16(buf, id);
	put16(buf + 2, rd ? MARGO_DNS_FLAG_RD : 0);
	put16(buf + 4, 1);
	rc = write_name(name, buf + HEADER_LEN, cap - HEADER_LEN - 4, &nlen);
	if (rc != 0)
		return margo_error_set(err, rc, "cannot encode the name %s", name);
	put16(buf + HEADER_LEN + nlen, type);
	put16(buf + HEADER_LEN + nlen + 2,
	      (uint16_t)(MARGO_DNS_CLASS_IN | (qu ? MARGO_DNS_CLASS_TOP_BIT : 0)));
	*len = HEADER_LEN + nlen + 4;
	return MARGO_OK;
}

/* The RDATA of one record; rdata at [start, start + rdlen). */
static int parse_rdata(const uint8_t *m, size_t len, size_t start, size_t rdlen,
		       struct margo_dns_rr *rr, struct margo_error *err)
{
	size_t off = start, end = start + rdlen;
	int rc;

	switch (rr->type) {
	case MARGO_DNS_A:
	case MARGO_DNS_AAAA:
		if (rdlen != (rr->type == MARGO_DNS_A ? 4u : 16u))
			return margo_error_set(err, MARGO_EINVAL, "address record of %zu bytes", rdlen);
		memcpy(rr->addr, m + start, rdlen);
		return MARGO_OK;
	case MARGO_DNS_SRV:
		if (rdlen < 7)
			return margo_error_set(err, MARGO_EINVAL, "SRV record of %zu bytes", rdlen);
		rr->priority = get16(m + start);
		rr->weight = get16(m + start + 2);
		rr->port = get16(m + start + 4);
		off += 6;
		/* fall through */
	case MARGO_DNS_PTR:
		rc = read_name(m, len, &off, rr->target, sizeof(rr->target), err);
		if (rc == 0 && off != end)
			rc = margo_error_set(err, MARGO_EINVAL, "name does not fill the record at %zu",
					     start);
		return rc;
	case MARGO_DNS_TXT:
		if (rdlen > sizeof(rr->txt))
			return margo_error_set(err, MARGO_EINVAL, "TXT record of %zu bytes", rdlen);
		for (off = start; off < end; off += (size_t)m[off] + 1)
			;
		if (off != end)
			return margo_error_set(err, MARGO_EINVAL, "TXT strings overrun their record");
		memcpy(rr->txt, m + start, rdlen);
		rr->txt_len = (uint16_t)rdlen;
		return MARGO_OK;
	}
	return MARGO_OK;
}

static int wanted(uint16_t type)
{
	return type == MARGO_DNS_A || type == MARGO_DNS_AAAA || type == MARGO_DNS_PTR ||
	       type == MARGO_DNS_SRV || type == MARGO_DNS_TXT;
}

/* One resource record at *off; *keep tells whether rr now holds a record worth keeping. */
static int parse_rr(const uint8_t *m, size_t len, size_t *off, struct margo_dns_rr *rr,
		    int *keep, struct margo_error *err)
{
	size_t rdlen;
	int rc;

	*keep = 0;
	memset(rr, 0, sizeof(*rr));
	rc = read_name(m, len, off, rr->name, sizeof(rr->name), err);
	if (rc != 0)
		return rc;
	if (*off + 10 > len)
		return margo_error_set(err, MARGO_EINVAL, "record header at %zu truncated", *off);
	rr->type = get16(m + *off);
	rr->rclass = get16(m + *off + 2) & (uint16_t)~MARGO_DNS_CLASS_TOP_BIT;
	rr->ttl = get32(m + *off + 4);
	rdlen = get16(m + *off + 8);
	*off += 10;
	if (rdlen > len - *off)
		return margo_error_set(err, MARGO_EINVAL, "record data at %zu runs past the message",
				       *off);
	if (wanted(rr->type) && rr->rclass == MARGO_DNS_CLASS_IN) {
		rc = parse_rdata(m, len, *off, rdlen, rr, err);
		if (rc != 0)
			return rc;
		*keep = 1;
	}
	*off += rdlen;
	return MARGO_OK;
}

int margo_dns_parse(const uint8_t *m, size_t len, struct margo_dns_msg *msg,
		    struct margo_error *err)
{
	struct margo_dns_rr *tmp = NULL;
	char qname[MARGO_DNS_NAME_MAX];
	size_t off = HEADER_LEN, qd, total;
	int rc = MARGO_OK, keep;

	memset(msg, 0, sizeof(*msg));
	if (len < HEADER_LEN || len > MARGO_DNS_MSG_MAX)
		return margo_error_set(err, MARGO_EINVAL, "message of %zu bytes", len);
	msg->id = get16(m);
	msg->flags = get16(m + 2);
	if (!(msg->flags & MARGO_DNS_FLAG_QR))
		return margo_error_set(err, MARGO_EPROTO, "not a response");
	qd = get16(m + 4);
	total = (size_t)get16(m + 6) + get16(m + 8) + get16(m + 10);
	if (qd > QUESTIONS_MAX)
		return margo_error_set(err, MARGO_EINVAL, "%zu questions", qd);
	for (size_t i = 0; i < qd; i++) {
		rc = read_name(m, len, &off, qname, sizeof(qname), err);
		if (rc != 0)
			return rc;
		if (off + 4 > len)
			return margo_error_set(err, MARGO_EINVAL, "question %zu truncated", i);
		off += 4;
	}
	tmp = malloc(sizeof(*tmp));
	msg->rr = calloc(total < MARGO_DNS_RR_MAX ? (total > 0 ? total : 1) : MARGO_DNS_RR_MAX,
			 sizeof(*msg->rr));
	if (tmp == NULL || msg->rr == NULL) {
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < total; i++) {
		rc = parse_rr(m, len, &off, tmp, &keep, err);
		if (rc != 0)
			goto out;
		if (keep && msg->nrr < MARGO_DNS_RR_MAX)
			msg->rr[msg->nrr++] = *tmp;
	}
out:
	free(tmp);
	if (rc != 0)
		margo_dns_msg_free(msg);
	return rc;
}

void margo_dns_msg_free(struct margo_dns_msg *msg)
{
	if (msg == NULL)
		return;
	free(msg->rr);
	msg->rr = NULL;
	msg->nrr = 0;
}

int margo_dns_name_equal(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

int margo_dns_txt_get(const struct margo_dns_rr *rr, const char *key, char *out, size_t cap)
{
	size_t klen = strlen(key);

	for (size_t off = 0; off < rr->txt_len; off += (size_t)rr->txt[off] + 1) {
		const char *s = (const char *)rr->txt + off + 1;
		size_t slen = rr->txt[off];

		if (off + 1 + slen > rr->txt_len)
			return 0;
		if (slen > klen && s[klen] == '=' && strncasecmp(s, key, klen) == 0) {
			size_t vlen = slen - klen - 1;

			if (vlen >= cap || memchr(s + klen + 1, '\0', vlen) != NULL)
				return 0;
			memcpy(out, s + klen + 1, vlen);
			out[vlen] = '\0';
			return 1;
		}
	}
	return 0;
}

int margo_dns_first_label(const char *name, char *out, size_t cap)
{
	size_t o = 0;

	for (const char *p = name; *p != '\0' && *p != '.'; p++) {
		int c = (unsigned char)*p;

		if (c == '\\') {
			if (isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) &&
			    isdigit((unsigned char)p[3])) {
				c = (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
				p += 3;
			} else if (p[1] != '\0') {
				c = (unsigned char)*++p;
			} else {
				return MARGO_EINVAL;
			}
			if (c == 0 || c > 255)
				return MARGO_EINVAL;
		}
		if (o + 1 >= cap)
			return MARGO_EINVAL;
		out[o++] = (char)c;
	}
	if (o == 0)
		return MARGO_EINVAL;
	out[o] = '\0';
	return MARGO_OK;
}
