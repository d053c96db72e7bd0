/* A fresh SQLite store in a temporary directory for each cmocka test: store_fixture_setup
 * opens DIR/wfmd.db (DIR from the template, "/tmp/<name>.XXXXXX"), store_fixture_teardown
 * closes it and removes DIR. Include after <cmocka.h> and "store.h". */
#ifndef TESTS_STORE_FIXTURE_H
#define TESTS_STORE_FIXTURE_H

struct fixture {
	char dir[64];
	char path[128];
	store *st;
};

static inline int store_fixture_setup(void **state, const char *dir_template)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct margo_error err;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s", dir_template);
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/wfmd.db", f->dir);
	assert_int_equal(store_open(f->path, &f->st, &err), 0);
	*state = f;
	return 0;
}

static inline int store_fixture_teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[256];

	store_close(f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

#endif
