#include <stdlib.h>
#include <string.h>

#include "git_fetch.h"
#include "git_parse.h"

enum {
	C_COMMON = 1u << 0,             /* a "have" found here */
	C_CLIENT_SHALLOW = 1u << 1,     /* the client lacks its parents */
	C_NOT_SHALLOW = 1u << 2,        /* inside the requested depth */
	C_SHALLOW = 1u << 3,            /* the new boundary: its parents are not sent */
	C_UNSHALLOW = 1u << 4,          /* a client shallow commit whose parents are sent now */
	C_SEEN = 1u << 5,               /* pushed onto the walk's queue once */
	C_QUEUED = 1u << 6,
	C_POPPED = 1u << 7,
	C_UNINTERESTING = 1u << 8,      /* the client has it */
	C_EXCLUDED = 1u << 9,           /* reachable from a deepen-not reference */
	C_MARK = 1u << 10,              /* scratch mark of one walk */
};

struct git_fetch_commit {
	unsigned char oid[GIT_SOURCE_OID_LEN];
	unsigned char tree[GIT_SOURCE_OID_LEN];
	int64_t time;
	uint32_t parent0;               /* its first parent in git_fetch.parents */
	uint32_t nparents;
	uint32_t flags;
	uint32_t depth;
};

/* Reads oid, which must be of want_type; data newly allocated. MARGO_ENOTFOUND when absent
 * or of another type. */
static int read_typed(struct git_fetch *f, const unsigned char *oid, int want_type,
		      unsigned char **data, size_t *len, struct margo_error *err)
{
	char hex[GIT_OID_HEX + 1];
	int type = 0, rc;

	*data = NULL;
	rc = f->src->read(f->src->ctx, oid, &type, data, len, err);
	if (rc < 0)
		return rc;
	if (type != want_type) {
		free(*data);
		*data = NULL;
		git_oid_to_hex(oid, hex);
		return margo_error_set(err, MARGO_ENOTFOUND, "%s is not a %s", hex,
				       want_type == GIT_SOURCE_COMMIT ? "commit" : "tree");
	}
	return 0;
}

/* The walk's record of commit oid, read and parsed on first use: *idx its position. */
static int load(struct git_fetch *f, const unsigned char *oid, size_t *idx,
		struct margo_error *err)
{
	struct git_commit_info ci;
	struct git_fetch_commit *c;
	unsigned char *data = NULL;
	uint32_t *slot = git_oidmap_get(&f->index, oid);
	size_t len = 0;
	int rc;

	if (slot != NULL) {
		*idx = *slot - 1;
		return 0;
	}
	if ((rc = read_typed(f, oid, GIT_SOURCE_COMMIT, &data, &len, err)) < 0)
		return rc;
	rc = git_commit_parse(data, len, &ci, err);
	free(data);
	if (rc < 0)
		return rc;
	if (f->ncommits == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 64;
		void *nc = realloc(f->commits, cap * sizeof(*f->commits));

		if (nc == NULL)
			return margo_error_set(err, MARGO_ENOMEM, "out of memory");
		f->commits = nc;
		f->cap = cap;
	}
	c = &f->commits[f->ncommits];
	memset(c, 0, sizeof(*c));
	memcpy(c->oid, oid, GIT_SOURCE_OID_LEN);
	memcpy(c->tree, ci.tree, GIT_SOURCE_OID_LEN);
	c->time = ci.time;
	c->parent0 = (uint32_t)f->parents.n;
	c->nparents = (uint32_t)ci.nparents;
	for (size_t i = 0; i < ci.nparents; i++)
		if ((rc = git_oids_push(&f->parents, ci.parents[i], err)) < 0)
			return rc;
	slot = git_oidmap_put(&f->index, oid, NULL);
	if (slot == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	*slot = (uint32_t)++f->ncommits;
	*idx = f->ncommits - 1;
	return 0;
}

/* The i-th parent of commit idx, loaded. */
static int load_parent(struct git_fetch *f, size_t idx, uint32_t i, size_t *pidx,
		       struct margo_error *err)
{
	unsigned char oid[GIT_SOURCE_OID_LEN];

	memcpy(oid, f->parents.ids[f->commits[idx].parent0 + i], GIT_SOURCE_OID_LEN);
	return load(f, oid, pidx, err);
}

/* A stack (or FIFO) of commit positions. */
struct idx_list {
	size_t *v;
	size_t n;
	size_t cap;
	size_t head;                    /* FIFO: next to take */
};

static int list_push(struct idx_list *l, size_t idx, struct margo_error *err)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		void *nv = realloc(l->v, cap * sizeof(*l->v));

		if (nv == NULL)
			return margo_error_set(err, MARGO_ENOMEM, "out of memory");
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = idx;
	return 0;
}

/* Clears the scratch mark of every commit walked so far. */
static void unmark_all(struct git_fetch *f)
{
	for (size_t i = 0; i < f->ncommits; i++)
		f->commits[i].flags &= ~(uint32_t)C_MARK;
}

/* 1 when target is found walking back from start (at most GIT_WANT_SEARCH_MAX commits). */
static int reachable(struct git_fetch *f, size_t start, const unsigned char *target,
		     struct margo_error *err)
{
	struct idx_list st = { 0 };
	size_t walked = 0, idx, p;
	int rc = 0;

	unmark_all(f);
	f->commits[start].flags |= C_MARK;
	if ((rc = list_push(&st, start, err)) < 0)
		goto out;
	while (st.n > 0 && walked++ < GIT_WANT_SEARCH_MAX) {
		idx = st.v[--st.n];
		if (memcmp(f->commits[idx].oid, target, GIT_SOURCE_OID_LEN) == 0) {
			rc = 1;
			break;
		}
		for (uint32_t i = 0; i < f->commits[idx].nparents; i++) {
			if ((rc = load_parent(f, idx, i, &p, err)) < 0)
				goto out;
			if (!(f->commits[p].flags & C_MARK)) {
				f->commits[p].flags |= C_MARK;
				if ((rc = list_push(&st, p, err)) < 0)
					goto out;
			}
		}
	}
out:
	free(st.v);
	return rc;
}

/* main's commit: *idx, or MARGO_ENOTFOUND for an empty repository. */
static int load_tip(struct git_fetch *f, size_t *idx, struct margo_error *err)
{
	unsigned char tip[GIT_SOURCE_OID_LEN];
	int rc = f->src->ref(f->src->ctx, "main", tip, err);

	return rc < 0 ? rc : load(f, tip, idx, err);
}

/* Every want must be a commit reachable from main (a tip that moved since the client's
 * info/refs is still served, as upload-pack does for stateless clients). */
static int check_wants(struct git_fetch *f, struct margo_error *err)
{
	char hex[GIT_OID_HEX + 1];
	size_t tip = 0, idx;
	int rc = 0, have_tip = 0;

	for (size_t i = 0; i < f->req->wants.n; i++) {
		const unsigned char *w = f->req->wants.ids[i];

		if (!have_tip) {
			if ((rc = load_tip(f, &tip, err)) < 0 && rc != MARGO_ENOTFOUND)
				return rc;
			have_tip = rc == 0 ? 1 : -1;
		}
		rc = 0;
		if (have_tip > 0 && load(f, w, &idx, NULL) == 0)
			rc = idx == tip ? 1 : reachable(f, tip, w, err);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			git_oid_to_hex(w, hex);
			return margo_error_set(err, MARGO_EINVAL, "not our ref %s", hex);
		}
	}
	return 0;
}

int git_fetch_negotiate(struct git_fetch *f, struct git_source *src,
			const struct git_request *req, struct margo_error *err)
{
	size_t idx, n = req->haves.n < GIT_HAVES_CHECKED_MAX ? req->haves.n :
		GIT_HAVES_CHECKED_MAX;
	int rc;

	memset(f, 0, sizeof(*f));
	f->src = src;
	f->req = req;
	if ((rc = check_wants(f, err)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		rc = load(f, req->haves.ids[i], &idx, err);
		if (rc == MARGO_ENOTFOUND)
			continue;       /* the client has what we do not */
		if (rc < 0)
			return rc;
		if (f->commits[idx].flags & C_COMMON)
			continue;
		f->commits[idx].flags |= C_COMMON;
		if ((rc = git_oids_push(&f->common, req->haves.ids[i], err)) < 0)
			return rc;
	}
	f->ready = f->common.n > 0;
	return 0;
}

/* deepen N: breadth first from heads, commits closer than depth are inside, those at depth
 * with parents are the new boundary. */
static int shallow_by_depth(struct git_fetch *f, struct idx_list *heads, uint32_t depth,
			    struct margo_error *err)
{
	struct idx_list q = { 0 };
	size_t idx, p;
	int rc = 0;

	for (size_t i = 0; i < f->ncommits; i++)
		f->commits[i].depth = 0;
	for (size_t i = 0; i < heads->n; i++) {
		if (f->commits[heads->v[i]].depth == 0) {
			f->commits[heads->v[i]].depth = 1;
			if ((rc = list_push(&q, heads->v[i], err)) < 0)
				goto out;
		}
	}
	while (q.head < q.n) {
		idx = q.v[q.head++];
		if (f->commits[idx].depth >= depth) {
			if (f->commits[idx].nparents > 0)
				f->commits[idx].flags |= C_SHALLOW;
			continue;
		}
		f->commits[idx].flags |= C_NOT_SHALLOW;
		for (uint32_t i = 0; i < f->commits[idx].nparents; i++) {
			if ((rc = load_parent(f, idx, i, &p, err)) < 0)
				goto out;
			if (f->commits[p].depth == 0) {
				f->commits[p].depth = f->commits[idx].depth + 1;
				if ((rc = list_push(&q, p, err)) < 0)
					goto out;
			}
		}
	}
out:
	free(q.v);
	return rc;
}

/* Marks every commit reachable from main C_EXCLUDED (deepen-not main). */
static int exclude_from(struct git_fetch *f, const char *name, struct margo_error *err)
{
	struct idx_list st = { 0 };
	size_t idx, p;
	int rc;

	if (strcmp(name, "main") != 0 && strcmp(name, "refs/heads/main") != 0 &&
	    strcmp(name, "HEAD") != 0)
		return margo_error_set(err, MARGO_EINVAL, "deepen-not: no such reference: %.64s",
				       name);
	if ((rc = load_tip(f, &idx, err)) < 0)
		return rc;
	f->commits[idx].flags |= C_EXCLUDED;
	rc = list_push(&st, idx, err);
	while (rc == 0 && st.n > 0) {
		idx = st.v[--st.n];
		for (uint32_t i = 0; rc == 0 && i < f->commits[idx].nparents; i++) {
			if ((rc = load_parent(f, idx, i, &p, err)) < 0)
				break;
			if (!(f->commits[p].flags & C_EXCLUDED)) {
				f->commits[p].flags |= C_EXCLUDED;
				rc = list_push(&st, p, err);
			}
		}
	}
	free(st.v);
	return rc;
}

static int included(const struct git_fetch *f, size_t idx)
{
	const struct git_fetch_commit *c = &f->commits[idx];

	return !(c->flags & C_EXCLUDED) &&
		(f->req->deepen_since == 0 || c->time >= f->req->deepen_since);
}

/* deepen-since / deepen-not: the commits from the wants that are newer than the date and not
 * reachable from the excluded references; those with a parent outside are the boundary. */
static int shallow_by_rev(struct git_fetch *f, struct idx_list *heads, struct margo_error *err)
{
	struct idx_list st = { 0 };
	size_t idx, p;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < f->req->deepen_not.n; i++)
		rc = exclude_from(f, f->req->deepen_not.names[i], err);
	unmark_all(f);
	for (size_t i = 0; rc == 0 && i < heads->n; i++) {
		if (!included(f, heads->v[i]))
			rc = margo_error_set(err, MARGO_EINVAL,
					     "no commits selected for shallow requests");
		else if (!(f->commits[heads->v[i]].flags & C_MARK)) {
			f->commits[heads->v[i]].flags |= C_MARK;
			rc = list_push(&st, heads->v[i], err);
		}
	}
	while (rc == 0 && st.n > 0) {
		idx = st.v[--st.n];
		for (uint32_t i = 0; rc == 0 && i < f->commits[idx].nparents; i++) {
			if ((rc = load_parent(f, idx, i, &p, err)) < 0)
				break;
			if (!included(f, p))
				f->commits[idx].flags |= C_SHALLOW;
			else if (!(f->commits[p].flags & C_MARK)) {
				f->commits[p].flags |= C_MARK;
				rc = list_push(&st, p, err);
			}
		}
		if (!(f->commits[idx].flags & C_SHALLOW))
			f->commits[idx].flags |= C_NOT_SHALLOW;
	}
	free(st.v);
	return rc;
}

/* The shallow and unshallow lines from the flags the boundary walk left. */
static int shallow_lines(struct git_fetch *f, struct margo_error *err)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < f->ncommits; i++) {
		struct git_fetch_commit *c = &f->commits[i];

		if ((c->flags & C_SHALLOW) && !(c->flags & C_CLIENT_SHALLOW))
			rc = git_oids_push(&f->shallow, c->oid, err);
		else if ((c->flags & C_CLIENT_SHALLOW) && (c->flags & C_NOT_SHALLOW) &&
			 !(c->flags & C_SHALLOW)) {
			c->flags |= C_UNSHALLOW;
			rc = git_oids_push(&f->unshallow, c->oid, err);
		}
	}
	return rc;
}

int git_fetch_shallow(struct git_fetch *f, struct margo_error *err)
{
	const struct git_request *req = f->req;
	struct idx_list heads = { 0 };
	size_t idx;
	int rc = 0, relative = (req->caps & GIT_CAP_DEEPEN_RELATIVE) != 0;

	for (size_t i = 0; i < req->shallows.n; i++) {
		rc = load(f, req->shallows.ids[i], &idx, NULL);
		if (rc == MARGO_ENOTFOUND) {
			rc = 0;         /* not ours: nothing to say about it */
			continue;
		}
		if (rc < 0)
			goto out;
		f->commits[idx].flags |= C_CLIENT_SHALLOW;
		if (relative && (rc = list_push(&heads, idx, err)) < 0)
			goto out;
	}
	for (size_t i = 0; !relative && i < req->wants.n; i++) {
		if ((rc = load(f, req->wants.ids[i], &idx, err)) < 0 ||
		    (rc = list_push(&heads, idx, err)) < 0)
			goto out;
	}
	if (req->depth > 0)
		rc = shallow_by_depth(f, &heads, relative && req->depth < INT32_MAX ?
				      (uint32_t)req->depth + 1 : (uint32_t)req->depth, err);
	else if (req->deepen_since > 0 || req->deepen_not.n > 0)
		rc = shallow_by_rev(f, &heads, err);
	if (rc == 0)
		rc = shallow_lines(f, err);
out:
	free(heads.v);
	return rc;
}

/* ---- the pack's commits: a walk newest first from the wants and the common commits ---- */

/* A binary max-heap of commit positions by committer time. */
static int heap_push(struct git_fetch *f, struct idx_list *h, size_t idx,
		     struct margo_error *err)
{
	size_t i;
	int rc;

	if (f->commits[idx].flags & C_SEEN)
		return 0;
	f->commits[idx].flags |= C_SEEN | C_QUEUED;
	if (!(f->commits[idx].flags & C_UNINTERESTING))
		f->queued++;
	if ((rc = list_push(h, idx, err)) < 0)
		return rc;
	for (i = h->n - 1; i > 0; i = (i - 1) / 2) {
		size_t up = (i - 1) / 2;

		if (f->commits[h->v[up]].time >= f->commits[h->v[i]].time)
			break;
		h->v[i] = h->v[up];
		h->v[up] = idx;
	}
	return 0;
}

static size_t heap_pop(struct git_fetch *f, struct idx_list *h)
{
	size_t top = h->v[0], i = 0;

	h->v[0] = h->v[--h->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i, t;

		if (l < h->n && f->commits[h->v[l]].time > f->commits[h->v[m]].time)
			m = l;
		if (r < h->n && f->commits[h->v[r]].time > f->commits[h->v[m]].time)
			m = r;
		if (m == i)
			break;
		t = h->v[i];
		h->v[i] = h->v[m];
		h->v[m] = t;
		i = m;
	}
	f->commits[top].flags &= ~(uint32_t)C_QUEUED;
	if (!(f->commits[top].flags & C_UNINTERESTING))
		f->queued--;
	return top;
}

/* The client has idx, so it has its ancestors down to its own shallow boundary: marks them,
 * through the commits the walk already passed. */
static int mark_uninteresting(struct git_fetch *f, size_t idx, struct margo_error *err)
{
	struct idx_list st = { 0 };
	int rc = list_push(&st, idx, err);

	while (rc == 0 && st.n > 0) {
		struct git_fetch_commit *c = &f->commits[st.v[--st.n]];

		if (c->flags & C_UNINTERESTING)
			continue;
		c->flags |= C_UNINTERESTING;
		if (c->flags & C_QUEUED)
			f->queued--;
		if (!(c->flags & C_POPPED) || (c->flags & C_CLIENT_SHALLOW))
			continue;
		for (uint32_t i = 0; rc == 0 && i < c->nparents; i++) {
			uint32_t *slot = git_oidmap_get(&f->index, f->parents.ids[c->parent0 + i]);

			if (slot != NULL)
				rc = list_push(&st, *slot - 1, err);
		}
	}
	free(st.v);
	return rc;
}

/* Parents not sent: the new boundary, and the client's boundary where it stays. */
static int cut(const struct git_fetch_commit *c)
{
	return (c->flags & C_SHALLOW) ||
		((c->flags & C_CLIENT_SHALLOW) && !(c->flags & C_UNSHALLOW));
}

/* One step of the walk: an uninteresting commit passes that on to its parents, an
 * interesting one is sent and queues its parents. */
static int walk_step(struct git_fetch *f, struct idx_list *h, struct idx_list *sent,
		     struct margo_error *err)
{
	size_t idx = heap_pop(f, h), p;
	int rc = 0, unint = (f->commits[idx].flags & C_UNINTERESTING) != 0;

	f->commits[idx].flags |= C_POPPED;
	if (unint && (f->commits[idx].flags & C_CLIENT_SHALLOW))
		return 0;
	if (!unint && ((rc = list_push(sent, idx, err)) < 0 || cut(&f->commits[idx])))
		return rc;
	for (uint32_t i = 0; rc == 0 && i < f->commits[idx].nparents; i++) {
		if ((rc = load_parent(f, idx, i, &p, err)) < 0)
			break;
		if (unint)
			rc = mark_uninteresting(f, p, err);
		if (rc == 0)
			rc = heap_push(f, h, p, err);
	}
	return rc;
}

/* The commits to send, newest first, into sent. */
static int walk(struct git_fetch *f, struct idx_list *sent, struct margo_error *err)
{
	struct idx_list h = { 0 };
	size_t idx, p;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < f->common.n; i++) {
		if ((rc = load(f, f->common.ids[i], &idx, err)) == 0 &&
		    (rc = mark_uninteresting(f, idx, err)) == 0)
			rc = heap_push(f, &h, idx, err);
	}
	for (size_t i = 0; rc == 0 && i < f->req->wants.n; i++) {
		if ((rc = load(f, f->req->wants.ids[i], &idx, err)) == 0)
			rc = heap_push(f, &h, idx, err);
	}
	/* Deepened: the parents of the client's old boundary are wanted too. */
	for (size_t i = 0; rc == 0 && i < f->unshallow.n; i++) {
		if ((rc = load(f, f->unshallow.ids[i], &idx, err)) < 0)
			break;
		for (uint32_t j = 0; rc == 0 && j < f->commits[idx].nparents; j++) {
			if ((rc = load_parent(f, idx, j, &p, err)) == 0)
				rc = heap_push(f, &h, p, err);
		}
	}
	while (rc == 0 && h.n > 0 && f->queued > 0)
		rc = walk_step(f, &h, sent, err);
	free(h.v);
	return rc;
}

/* ---- the pack's trees and blobs ---- */

/* Adds tree oid and everything under it to set (what the client has at the edge). With list,
 * also appends each object new to set to list (what the pack sends), skipping anything in
 * skip (the edge). */
static int add_tree(struct git_fetch *f, const unsigned char *oid, struct git_oidmap *set,
		    const struct git_oidmap *skip, struct git_oids *list, int depth,
		    struct margo_error *err)
{
	struct git_tree_iter it;
	struct git_tree_entry e;
	unsigned char *data = NULL;
	size_t len = 0;
	int rc, added = 0;

	if (skip != NULL && git_oidmap_get(skip, oid) != NULL)
		return 0;
	if (git_oidmap_put(set, oid, &added) == NULL)
		return margo_error_set(err, MARGO_ENOMEM, "out of memory");
	if (!added)
		return 0;
	if (depth > GIT_TREE_DEPTH_MAX)
		return margo_error_set(err, MARGO_EINVAL, "trees nested too deep");
	if (list != NULL && (rc = git_oids_push(list, oid, err)) < 0)
		return rc;
	if ((rc = read_typed(f, oid, GIT_SOURCE_TREE, &data, &len, err)) < 0)
		return rc;
	git_tree_iter_init(&it, data, len);
	while ((rc = git_tree_next(&it, &e, err)) > 0) {
		if (e.mode == GIT_MODE_GITLINK)
			continue;       /* a submodule's commit lives elsewhere */
		if (e.mode == GIT_MODE_TREE) {
			if ((rc = add_tree(f, e.oid, set, skip, list, depth + 1, err)) < 0)
				break;
			continue;
		}
		if (skip != NULL && git_oidmap_get(skip, e.oid) != NULL)
			continue;
		if (git_oidmap_put(set, e.oid, &added) == NULL) {
			rc = margo_error_set(err, MARGO_ENOMEM, "out of memory");
			break;
		}
		if (added && list != NULL && (rc = git_oids_push(list, e.oid, err)) < 0)
			break;
	}
	free(data);
	return rc;
}

/* The trees of the common commits next to the sent ones: their objects are not sent. */
static int edge_objects(struct git_fetch *f, const struct idx_list *sent,
			struct git_oidmap *edge, struct margo_error *err)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < sent->n; i++) {
		const struct git_fetch_commit *c = &f->commits[sent->v[i]];

		if ((c->flags & C_UNINTERESTING) || cut(c))
			continue;
		for (uint32_t j = 0; rc == 0 && j < c->nparents; j++) {
			uint32_t *slot = git_oidmap_get(&f->index, f->parents.ids[c->parent0 + j]);
			const struct git_fetch_commit *p = slot != NULL ? &f->commits[*slot - 1] :
				NULL;

			if (p != NULL && (p->flags & C_UNINTERESTING))
				rc = add_tree(f, p->tree, edge, NULL, NULL, 0, err);
		}
	}
	return rc;
}

int git_fetch_objects(struct git_fetch *f, struct margo_error *err)
{
	struct idx_list sent = { 0 };
	struct git_oidmap edge = { 0 }, added = { 0 };
	int rc;

	if ((rc = walk(f, &sent, err)) < 0 || (rc = edge_objects(f, &sent, &edge, err)) < 0)
		goto out;
	for (size_t i = 0; rc == 0 && i < sent.n; i++) {
		const struct git_fetch_commit *c = &f->commits[sent.v[i]];

		if (c->flags & C_UNINTERESTING)
			continue;
		if ((rc = git_oids_push(&f->objects, c->oid, err)) == 0)
			rc = add_tree(f, c->tree, &added, &edge, &f->objects, 0, err);
	}
out:
	free(sent.v);
	git_oidmap_free(&edge);
	git_oidmap_free(&added);
	return rc;
}

void git_fetch_free(struct git_fetch *f)
{
	free(f->common.ids);
	free(f->shallow.ids);
	free(f->unshallow.ids);
	free(f->objects.ids);
	free(f->parents.ids);
	free(f->commits);
	git_oidmap_free(&f->index);
	memset(f, 0, sizeof(*f));
}
