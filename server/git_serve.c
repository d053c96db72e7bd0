#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>
#include <zlib.h>

#include "git_object.h"
#include "git_refs.h"
#include "git_serve.h"

#define PKT_MAX 65520
#define PREFIXES_MAX 256
#define SIDEBAND_MAX (PKT_MAX - 5)     /* data bytes of one side-band-64k pkt-line */
#define SIDEBAND_SMALL_MAX (1000 - 5)  /* ... of one side-band pkt-line */
#define COMMIT_MAX (64u * 1024u)
#define EMPTY_TREE "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

/* What was learned from upload-pack; read-only once enabled. */
static struct {
	int enabled;
	char *v0_caps_pre;      /* v0 capabilities before " symref=HEAD:<target>" */
	char *v0_caps_post;     /* ... after it (" object-format=sha1 agent=git/...") */
	char *v2_adv;           /* the v2 capability advertisement, verbatim */
	size_t v2_adv_len;
	int allow_unborn;       /* "ls-refs=unborn" advertised */
	int server_option;      /* "server-option" advertised */
	int fetch;              /* "fetch" advertised: the initial commit's pack (git_serve_check) */
} learned;

struct out_buf {
	char *p;
	size_t len, cap;
	int failed;
};

static void buf_add(struct out_buf *b, const void *data, size_t len)
{
	if (b->failed)
		return;
	if (b->len + len + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 512;
		char *np;

		while (ncap < b->len + len + 1)
			ncap *= 2;
		np = realloc(b->p, ncap);
		if (np == NULL) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

/* A part of a pkt-line that stands for one NUL byte (before the v0 capabilities). */
static const char nul_part[] = "";

static size_t part_len(const char *part)
{
	return part == nul_part ? 1 : strlen(part);
}

/* One pkt-line: four hex digits of length (its own four included), then the parts. */
static void pkt_add(struct out_buf *b, const char *const *parts, size_t nparts)
{
	char hdr[5];
	size_t len = 4;

	for (size_t i = 0; i < nparts; i++)
		len += part_len(parts[i]);
	if (len > PKT_MAX) {
		b->failed = 1;
		return;
	}
	snprintf(hdr, sizeof(hdr), "%04zx", len);
	buf_add(b, hdr, 4);
	for (size_t i = 0; i < nparts; i++)
		buf_add(b, parts[i], part_len(parts[i]));
}

static int buf_finish(struct out_buf *b, char **out, size_t *out_len, struct margo_error *err)
{
	buf_add(b, "0000", 4);
	if (b->failed) {
		free(b->p);
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	}
	*out = b->p;
	*out_len = b->len;
	return 0;
}

/* Reads the references; MARGO_EUNSUPPORTED (a shape git must answer) becomes DECLINED. */
static int refs_load(const char *git_dir, struct git_refs *refs, struct margo_error *err)
{
	int rc = git_refs_read(git_dir, refs, err);

	if (rc == MARGO_EUNSUPPORTED) {
		git_refs_free(refs);
		return GIT_SERVE_DECLINED;
	}
	if (rc < 0)
		git_refs_free(refs);
	return rc;
}

/* One v0 line; the first carries the capabilities after a NUL. */
static void v0_line(struct out_buf *b, const char *oid, const char *name, const char *symref,
		    int *first)
{
	if (*first) {
		const char *parts[] = { oid, " ", name, nul_part, learned.v0_caps_pre, symref,
					learned.v0_caps_post, "\n" };
		pkt_add(b, parts, 8);
		*first = 0;
	} else {
		const char *parts[] = { oid, " ", name, "\n" };
		pkt_add(b, parts, 4);
	}
}

/* v0: HEAD (when born), then every reference, a flush. Branches name commits, so there are
 * no peeled "^{}" lines. A repository without references is declined (git versions differ
 * there: a bare flush, or a "capabilities^{}" line). */
static int advertise_v0(const struct git_refs *refs, char **out, size_t *out_len,
			struct margo_error *err)
{
	struct out_buf b = { 0 };
	char symref[GIT_REFNAME_MAX + 16] = "";
	int first = 1;

	if (refs->head_oid[0] != '\0') {
		snprintf(symref, sizeof(symref), " symref=HEAD:%s", refs->head_target);
		v0_line(&b, refs->head_oid, "HEAD", symref, &first);
	}
	for (size_t i = 0; i < refs->n; i++)
		v0_line(&b, refs->refs[i].oid, refs->refs[i].name, symref, &first);
	return buf_finish(&b, out, out_len, err);
}

int git_serve_advertise(const char *git_dir, int v2, char **out, size_t *out_len,
			struct margo_error *err)
{
	struct git_refs refs;
	int rc;

	if (!learned.enabled)
		return GIT_SERVE_DECLINED;
	if ((rc = refs_load(git_dir, &refs, err)) != 0)
		return rc;
	if (v2) {
		/* Repository-independent, but only for a repository git_refs can read. */
		*out = malloc(learned.v2_adv_len + 1);
		if (*out == NULL) {
			rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
			goto out;
		}
		memcpy(*out, learned.v2_adv, learned.v2_adv_len + 1);
		*out_len = learned.v2_adv_len;
	} else if (refs.shallow || refs.n == 0) {
		rc = GIT_SERVE_DECLINED;        /* "shallow" lines; see advertise_v0 */
	} else {
		rc = advertise_v0(&refs, out, out_len, err);
	}
out:
	git_refs_free(&refs);
	return rc;
}

/* A pkt-line reader over a request body, as git's packet_reader with CHOMP_NEWLINE. */
enum pkt_kind { PKT_DATA, PKT_FLUSH, PKT_DELIM, PKT_BAD };

struct pkt_reader {
	const char *p, *end;
	char line[PKT_MAX];
	size_t len;
};

static enum pkt_kind pkt_read(struct pkt_reader *r)
{
	unsigned len = 0;

	if (r->end - r->p < 4)
		return PKT_BAD;
	for (int i = 0; i < 4; i++) {
		char c = r->p[i];
		unsigned v = c >= '0' && c <= '9' ? (unsigned)(c - '0') :
			c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) :
			c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16u;
		if (v == 16)
			return PKT_BAD;
		len = len * 16 + v;
	}
	r->p += 4;
	if (len == 0)
		return PKT_FLUSH;
	if (len == 1)
		return PKT_DELIM;
	if (len < 5 || len > PKT_MAX || (size_t)(r->end - r->p) < len - 4)
		return PKT_BAD;
	r->len = len - 4;
	memcpy(r->line, r->p, r->len);
	r->p += r->len;
	if (r->line[r->len - 1] == '\n')
		r->len--;
	r->line[r->len] = '\0';
	/* A NUL inside a line or an error packet: leave it to git. */
	if (strlen(r->line) != r->len || strncmp(r->line, "ERR ", 4) == 0)
		return PKT_BAD;
	return PKT_DATA;
}

struct ls_refs_args {
	int peel, symrefs, unborn;
	char *prefixes[PREFIXES_MAX];
	size_t nprefixes;
};

static int ref_match(const struct ls_refs_args *a, const char *name)
{
	if (a->nprefixes == 0)
		return 1;
	for (size_t i = 0; i < a->nprefixes; i++)
		if (strncmp(name, a->prefixes[i], strlen(a->prefixes[i])) == 0)
			return 1;
	return 0;
}

/* The first section of a v2 request: "command=<name>" with the capabilities upload-pack
 * accepts, up to a delimiter (arguments follow: *args = 1) or a flush. 0 or DECLINED. */
static int request_head(struct pkt_reader *r, char command[16], int *args)
{
	enum pkt_kind k;

	command[0] = '\0';
	while ((k = pkt_read(r)) == PKT_DATA) {
		if (strncmp(r->line, "command=", 8) == 0 && command[0] == '\0' &&
		    strlen(r->line + 8) < 16 && r->line[8] != '\0')
			strcpy(command, r->line + 8);
		else if (strncmp(r->line, "agent=", 6) == 0 ||
			 strcmp(r->line, "object-format=sha1") == 0 ||
			 (learned.server_option && strncmp(r->line, "server-option=", 14) == 0))
			continue;
		else
			return GIT_SERVE_DECLINED;
	}
	if (command[0] == '\0' || (k != PKT_DELIM && k != PKT_FLUSH))
		return GIT_SERVE_DECLINED;
	*args = k == PKT_DELIM;
	return 0;
}

/* The ls-refs arguments, a flush and nothing after: 0, or GIT_SERVE_DECLINED. */
static int ls_refs_parse(struct pkt_reader *r, int args, struct ls_refs_args *a)
{
	enum pkt_kind k;

	if (args) {
		while ((k = pkt_read(r)) == PKT_DATA) {
			if (strcmp(r->line, "peel") == 0) {
				a->peel = 1;
			} else if (strcmp(r->line, "symrefs") == 0) {
				a->symrefs = 1;
			} else if (strcmp(r->line, "unborn") == 0) {
				a->unborn = learned.allow_unborn;
			} else if (strncmp(r->line, "ref-prefix ", 11) == 0 &&
				   a->nprefixes < PREFIXES_MAX) {
				a->prefixes[a->nprefixes] = strdup(r->line + 11);
				if (a->prefixes[a->nprefixes] == NULL)
					return MARGO_ENOMEM;
				a->nprefixes++;
			} else {
				return GIT_SERVE_DECLINED;
			}
		}
		if (k != PKT_FLUSH)
			return GIT_SERVE_DECLINED;
	}
	return r->p == r->end ? 0 : GIT_SERVE_DECLINED;
}

/* ls-refs: HEAD first (or "unborn HEAD" when asked with symrefs), then the matching
 * references in name order; symrefs adds HEAD's target; branches name commits, so peel adds
 * nothing. */
static int ls_refs(const struct git_refs *refs, const struct ls_refs_args *a, char **out,
		   size_t *out_len, struct margo_error *err)
{
	struct out_buf b = { 0 };
	const char *target = a->symrefs ? " symref-target:" : "";
	const char *target_name = a->symrefs ? refs->head_target : "";

	if (ref_match(a, "HEAD")) {
		if (refs->head_oid[0] != '\0') {
			const char *parts[] = { refs->head_oid, " HEAD", target, target_name, "\n" };
			pkt_add(&b, parts, 5);
		} else if (a->unborn && a->symrefs) {
			const char *parts[] = { "unborn HEAD", target, target_name, "\n" };
			pkt_add(&b, parts, 4);
		}
	}
	for (size_t i = 0; i < refs->n; i++) {
		if (ref_match(a, refs->refs[i].name)) {
			const char *parts[] = { refs->refs[i].oid, " ", refs->refs[i].name, "\n" };
			pkt_add(&b, parts, 4);
		}
	}
	return buf_finish(&b, out, out_len, err);
}

/* The fetch arguments this module answers: "want" of one commit and no "have", with the
 * flags a git client adds (no progress is sent either way); a flush and nothing after. The
 * wanted id goes into want. 0 or GIT_SERVE_DECLINED (shallow, filters, negotiation: git). */
static int fetch_parse(struct pkt_reader *r, int args, char want[GIT_OID_HEXLEN + 1])
{
	enum pkt_kind k;

	want[0] = '\0';
	if (!args)
		return GIT_SERVE_DECLINED;
	while ((k = pkt_read(r)) == PKT_DATA) {
		/* git clone asks for the same commit twice (HEAD and main). */
		if (strncmp(r->line, "want ", 5) == 0 && strlen(r->line + 5) == GIT_OID_HEXLEN &&
		    git_oid_hex(r->line + 5) &&
		    (want[0] == '\0' || strcmp(want, r->line + 5) == 0))
			memcpy(want, r->line + 5, GIT_OID_HEXLEN + 1);
		else if (strcmp(r->line, "thin-pack") != 0 && strcmp(r->line, "no-progress") != 0 &&
			 strcmp(r->line, "include-tag") != 0 && strcmp(r->line, "ofs-delta") != 0 &&
			 strcmp(r->line, "done") != 0)
			return GIT_SERVE_DECLINED;
	}
	if (k != PKT_FLUSH || want[0] == '\0' || r->p != r->end)
		return GIT_SERVE_DECLINED;
	return 0;
}

/* The pack object header: type in bits 4-6 of the first byte, the size in 4 bits there and
 * 7 bits per following byte, low bits first, the top bit saying another byte follows. */
static void pack_object(struct out_buf *b, unsigned type, const void *data, size_t len,
			int *failed)
{
	unsigned char hdr[16], *z;
	size_t n = 0, size = len;
	uLongf zlen;

	hdr[n++] = (unsigned char)((type << 4) | (size & 15));
	size >>= 4;
	while (size > 0) {
		hdr[n - 1] |= 0x80;
		hdr[n++] = (unsigned char)(size & 0x7f);
		size >>= 7;
	}
	buf_add(b, hdr, n);
	zlen = compressBound((uLong)len);
	z = malloc(zlen);
	if (z == NULL || compress2(z, &zlen, data, (uLong)len, Z_BEST_SPEED) != Z_OK)
		*failed = 1;
	else
		buf_add(b, z, zlen);
	free(z);
}

/* The v0 request of a first fetch: "want" lines of one commit (capabilities on them, as
 * libgit2 and git send them), a flush, "done", nothing after. band_max gets the side-band
 * data size asked for (0: none). 0 or GIT_SERVE_DECLINED (haves, shallow, filters: git). */
static int fetch_v0_parse(struct pkt_reader *r, char want[GIT_OID_HEXLEN + 1],
			  size_t *band_max)
{
	static const char *const harmless[] = { "multi_ack", "multi_ack_detailed", "thin-pack",
						"ofs-delta", "include-tag", "no-progress",
						"no-done", "object-format=sha1" };
	enum pkt_kind k;
	char *tok, *save;

	want[0] = '\0';
	*band_max = 0;
	while ((k = pkt_read(r)) == PKT_DATA) {
		if (strncmp(r->line, "want ", 5) != 0 || !git_oid_hex(r->line + 5) ||
		    (r->line[5 + GIT_OID_HEXLEN] != '\0' && r->line[5 + GIT_OID_HEXLEN] != ' ') ||
		    (want[0] != '\0' && strncmp(want, r->line + 5, GIT_OID_HEXLEN) != 0))
			return GIT_SERVE_DECLINED;
		memcpy(want, r->line + 5, GIT_OID_HEXLEN);
		want[GIT_OID_HEXLEN] = '\0';
		for (tok = strtok_r(r->line + 5 + GIT_OID_HEXLEN, " ", &save); tok != NULL;
		     tok = strtok_r(NULL, " ", &save)) {
			size_t i = 0;

			if (strcmp(tok, "side-band-64k") == 0)
				*band_max = SIDEBAND_MAX;
			else if (strcmp(tok, "side-band") == 0 && *band_max == 0)
				*band_max = SIDEBAND_SMALL_MAX;
			else if (strncmp(tok, "agent=", 6) == 0 || strcmp(tok, "side-band") == 0)
				continue;
			else {
				while (i < sizeof(harmless) / sizeof(harmless[0]) &&
				       strcmp(tok, harmless[i]) != 0)
					i++;
				if (i == sizeof(harmless) / sizeof(harmless[0]))
					return GIT_SERVE_DECLINED;
			}
		}
	}
	if (k != PKT_FLUSH || want[0] == '\0' || pkt_read(r) != PKT_DATA ||
	    strcmp(r->line, "done") != 0 || r->p != r->end)
		return GIT_SERVE_DECLINED;
	return 0;
}

/* The first fetch of a repository wfmd has just created: main is the initial commit, whose
 * closure is that commit and the empty tree. Answers with a two-object pack as upload-pack
 * would after "done" with no "have" (v2: the "packfile" section; v0: "NAK"), in side-band 1
 * packets of at most band_max bytes (0: the bare pack), without progress messages. DECLINED
 * for any other commit (git builds the pack). */
static int fetch_initial(const char *git_dir, const struct git_refs *refs, const char *want,
			 int v2, size_t band_max, char **out, size_t *out_len,
			 struct margo_error *err)
{
	static const char commit_start[] = "tree " EMPTY_TREE "\nauthor ";
	struct out_buf pack = { 0 }, b = { 0 };
	unsigned char md[20] = { 0 };
	char objects[4300], type[16], *commit = NULL;
	size_t len = 0, i;
	int known = 0, failed = 0, rc;

	for (i = 0; i < refs->n; i++)
		known |= strcmp(refs->refs[i].oid, want) == 0;
	if (!known)
		return GIT_SERVE_DECLINED;
	snprintf(objects, sizeof(objects), "%s/objects", git_dir);
	rc = git_object_read(objects, want, type, &commit, &len, COMMIT_MAX, err);
	if (rc == MARGO_ENOTFOUND || rc == MARGO_ETOOBIG)
		return GIT_SERVE_DECLINED;
	if (rc < 0)
		return rc;
	if (strcmp(type, "commit") != 0 || len < sizeof(commit_start) - 1 ||
	    memcmp(commit, commit_start, sizeof(commit_start) - 1) != 0) {
		free(commit);
		return GIT_SERVE_DECLINED;     /* has a parent or a non-empty tree */
	}
	buf_add(&pack, "PACK\0\0\0\2\0\0\0\2", 12);
	pack_object(&pack, 1, commit, len, &failed);
	pack_object(&pack, 2, "", 0, &failed);
	free(commit);
	if (!pack.failed && !failed)
		SHA1((const unsigned char *)pack.p, pack.len, md);
	buf_add(&pack, md, sizeof(md));
	{
		const char *parts[] = { v2 ? "packfile\n" : "NAK\n" };
		pkt_add(&b, parts, 1);
	}
	if (band_max == 0)
		buf_add(&b, pack.p, pack.len);
	for (i = 0; band_max > 0 && !pack.failed && i < pack.len; i += band_max) {
		size_t n = pack.len - i < band_max ? pack.len - i : band_max;
		char hdr[6];

		snprintf(hdr, sizeof(hdr), "%04zx\1", n + 5);
		buf_add(&b, hdr, 5);
		buf_add(&b, pack.p + i, n);
	}
	b.failed |= pack.failed | failed;
	free(pack.p);
	if (band_max > 0)
		return buf_finish(&b, out, out_len, err);       /* flush after side-band data */
	if (b.failed) {
		free(b.p);
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	}
	*out = b.p;
	*out_len = b.len;
	return 0;
}

int git_serve_request(const char *git_dir, int v2, const void *in, size_t in_len, char **out,
		      size_t *out_len, struct margo_error *err)
{
	struct ls_refs_args a;
	struct pkt_reader *r;
	struct git_refs refs;
	char command[16] = "fetch", want[GIT_OID_HEXLEN + 1];
	size_t band_max = SIDEBAND_MAX;
	int rc, args = 0, fetch;

	if (!learned.enabled || in == NULL)
		return GIT_SERVE_DECLINED;
	r = malloc(sizeof(*r));
	if (r == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	memset(&a, 0, sizeof(a));
	r->p = in;
	r->end = r->p + in_len;
	if (v2 && (rc = request_head(r, command, &args)) != 0)
		goto out;
	fetch = strcmp(command, "fetch") == 0;
	if (!v2)
		rc = learned.fetch ? fetch_v0_parse(r, want, &band_max) : GIT_SERVE_DECLINED;
	else if (fetch)
		rc = learned.fetch ? fetch_parse(r, args, want) : GIT_SERVE_DECLINED;
	else if (strcmp(command, "ls-refs") == 0)
		rc = ls_refs_parse(r, args, &a);
	else
		rc = GIT_SERVE_DECLINED;
	if (rc == MARGO_ENOMEM)
		rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
	if (rc != 0)
		goto out;
	if ((rc = refs_load(git_dir, &refs, err)) != 0)
		goto out;
	if (fetch)
		rc = fetch_initial(git_dir, &refs, want, v2, band_max, out, out_len, err);
	else
		rc = ls_refs(&refs, &a, out, out_len, err);
	git_refs_free(&refs);
out:
	for (size_t i = 0; i < a.nprefixes; i++)
		free(a.prefixes[i]);
	free(r);
	return rc;
}

void git_serve_reset(void)
{
	free(learned.v0_caps_pre);
	free(learned.v0_caps_post);
	free(learned.v2_adv);
	memset(&learned, 0, sizeof(learned));
}

int git_serve_enabled(void)
{
	return learned.enabled;
}

/* Compares a native answer with upload-pack's; switches native answers off on a difference. */
static int same_answer(const char *what, int rc, char *got, size_t got_len, const char *want,
		       size_t want_len, struct margo_error *err)
{
	int same = rc == 0 && got_len == want_len && memcmp(got, want, want_len) == 0;

	if (rc == 0)
		free(got);
	if (same)
		return 0;
	git_serve_reset();
	return margo_error_set(err, MARGO_EUNSUPPORTED, "native %s differs from git upload-pack",
			       what);
}

int git_serve_learn(const char *probe_dir, const char *v0, size_t v0_len, const char *v2,
		    size_t v2_len, struct margo_error *err)
{
	struct git_refs refs;
	char symref[GIT_REFNAME_MAX + 16], *caps, *at, *got = NULL;
	size_t got_len = 0, first_len;
	int rc;

	git_serve_reset();
	if ((rc = git_refs_read(probe_dir, &refs, err)) < 0) {
		git_refs_free(&refs);
		return rc;
	}
	snprintf(symref, sizeof(symref), " symref=HEAD:%s", refs.head_target);
	git_refs_free(&refs);
	/* The first pkt-line: "<oid> HEAD" NUL capabilities LF. */
	if (v0_len < 4 + GIT_OID_HEXLEN + 6 || sscanf(v0, "%4zx", &first_len) != 1 ||
	    first_len > v0_len || v0[first_len - 1] != '\n' ||
	    memcmp(v0 + 4 + GIT_OID_HEXLEN, " HEAD", 6) != 0)
		return margo_error_set(err, MARGO_EUNSUPPORTED, "unexpected v0 advertisement");
	caps = strndup(v0 + 4 + GIT_OID_HEXLEN + 6, first_len - (4 + GIT_OID_HEXLEN + 6) - 1);
	if (caps == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	at = strstr(caps, symref);
	if (at == NULL || strlen(caps) != first_len - (4 + GIT_OID_HEXLEN + 6) - 1) {
		free(caps);
		return margo_error_set(err, MARGO_EUNSUPPORTED, "no %s in the v0 capabilities",
				       symref + 1);
	}
	learned.v0_caps_post = strdup(at + strlen(symref));
	*at = '\0';
	learned.v0_caps_pre = caps;
	learned.v2_adv = malloc(v2_len + 1);
	if (learned.v0_caps_post == NULL || learned.v2_adv == NULL) {
		git_serve_reset();
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	}
	memcpy(learned.v2_adv, v2, v2_len);
	learned.v2_adv[v2_len] = '\0';
	learned.v2_adv_len = v2_len;
	if (v2_len < 14 || memcmp(v2, "000eversion 2\n", 14) != 0 ||
	    strstr(v2, "object-format=sha1\n") == NULL || strstr(v2, "ls-refs") == NULL) {
		git_serve_reset();
		return margo_error_set(err, MARGO_EUNSUPPORTED, "unexpected v2 advertisement");
	}
	learned.allow_unborn = strstr(v2, "ls-refs=unborn\n") != NULL;
	learned.server_option = strstr(v2, "server-option\n") != NULL;
	learned.fetch = strstr(v2, "fetch=") != NULL || strstr(v2, "fetch\n") != NULL;
	learned.enabled = 1;
	rc = git_serve_advertise(probe_dir, 0, &got, &got_len, err);
	if ((rc = same_answer("v0 advertisement", rc, got, got_len, v0, v0_len, err)) < 0)
		return rc;
	rc = git_serve_advertise(probe_dir, 1, &got, &got_len, err);
	return same_answer("v2 advertisement", rc, got, got_len, v2, v2_len, err);
}

int git_serve_check(const char *probe_dir, const void *req, size_t req_len,
		    const char *expected, size_t expected_len, struct margo_error *err)
{
	char *got = NULL;
	size_t got_len = 0;
	int rc = git_serve_request(probe_dir, 1, req, req_len, &got, &got_len, err);

	if (rc == GIT_SERVE_DECLINED)
		return 0;
	return same_answer("ls-refs", rc, got, got_len, expected, expected_len, err);
}
