#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "margo/error.h"
#include "margo/file.h"

static int setup(void **state)
{
	char *dir = strdup("/tmp/margo-test-file-XXXXXX");

	if (dir == NULL || mkdtemp(dir) == NULL)
		return -1;
	*state = dir;
	return 0;
}

static int teardown(void **state)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (char *)*state);
	if (system(cmd) != 0)
		return -1;
	free(*state);
	return 0;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void test_write_read(void **state)
{
	const char *dir = *state;
	struct margo_error err;
	char path[512], *data;
	size_t len;
	struct stat st;
	mode_t old;

	snprintf(path, sizeof(path), "%s/secret", dir);
	old = umask(0);
	assert_int_equal(margo_file_write_atomic(path, "hello\n", 6, 0600, &err), 0);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(margo_file_read(path, 100, &data, &len, &err), 0);
	assert_int_equal(len, 6);
	assert_string_equal(data, "hello\n");
	free(data);

	/* replace, with a different mode: the new file carries it */
	assert_int_equal(margo_file_write_atomic(path, "x", 1, 0644, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(margo_file_read(path, 100, &data, &len, &err), 0);
	assert_int_equal(len, 1);
	assert_string_equal(data, "x");
	free(data);

	/* empty file */
	assert_int_equal(margo_file_write_atomic(path, "", 0, 0600, &err), 0);
	assert_int_equal(margo_file_read(path, 100, &data, &len, &err), 0);
	assert_int_equal(len, 0);
	assert_int_equal(data[0], 0);
	free(data);
	/* no temporary file stays behind */
	assert_int_equal(count_entries(dir), 1);
}

static void test_read_limits(void **state)
{
	const char *dir = *state;
	struct margo_error err;
	char path[512], *data = NULL;
	size_t len;

	snprintf(path, sizeof(path), "%s/big", dir);
	assert_int_equal(margo_file_write_atomic(path, "0123456789", 10, 0600, &err), 0);
	assert_int_equal(margo_file_read(path, 9, &data, &len, &err), MARGO_ETOOBIG);
	assert_null(data);
	assert_int_equal(margo_file_read(path, 10, &data, &len, &err), 0);
	assert_int_equal(len, 10);
	free(data);
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(margo_file_read(path, 10, &data, &len, &err), MARGO_ENOTFOUND);
	assert_int_equal(margo_file_read(dir, 10, &data, &len, &err), MARGO_EIO);
}

static void test_write_fails_cleanly(void **state)
{
	const char *dir = *state;
	struct margo_error err;
	char path[512];

	/* target is a non-empty directory: rename fails, the temporary is removed */
	snprintf(path, sizeof(path), "%s/sub/inner", dir);
	assert_int_equal(margo_dir_create(path, 0700, &err), 0);
	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(margo_file_write_atomic(path, "x", 1, 0600, &err), MARGO_EIO);
	assert_int_equal(count_entries(dir), 1);
	snprintf(path, sizeof(path), "%s/nodir/file", dir);
	assert_int_equal(margo_file_write_atomic(path, "x", 1, 0600, &err), MARGO_EIO);
}

static void test_dir_create(void **state)
{
	const char *dir = *state;
	struct margo_error err;
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/a/b//c/", dir);
	assert_int_equal(margo_dir_create(path, 0700, &err), 0);
	snprintf(path, sizeof(path), "%s/a/b/c", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* existing is fine */
	assert_int_equal(margo_dir_create(path, 0700, &err), 0);
	/* a file in the way is not */
	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(margo_file_write_atomic(path, "x", 1, 0600, &err), 0);
	snprintf(path, sizeof(path), "%s/f/g", dir);
	assert_int_equal(margo_dir_create(path, 0700, &err), MARGO_EIO);
	assert_int_equal(margo_dir_create("", 0700, &err), MARGO_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_fails_cleanly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_create, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
