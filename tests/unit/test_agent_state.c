/* margo-agent state directory: round trip, modes, missing and corrupt files, cleanup of
 * temporaries left by killed writers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "state.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/test_agent_state_XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_round_trip(void **state)
{
	struct agent_state st = { 0 }, back;
	struct margo_error err;
	struct stat sb;
	char *path;

	(void)state;
	assert_int_equal(agent_state_dir_prepare(dir, &err), 0);
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	assert_int_equal(agent_state_set(&st.url, "https://wfm.example:8443"), 0);
	assert_int_equal(agent_state_set(&st.client_id, "6f1c0000-0000-4000-8000-000000000001"), 0);
	assert_int_equal(agent_state_set(&st.client_secret, "wfmcs_secret"), 0);
	assert_int_equal(agent_state_set(&st.git_access_token, "wfmgt_git"), 0);
	assert_int_equal(agent_state_set(&st.vendor, "ACME \"quoted\""), 0);
	st.access_token_expires_at = 1795000000;
	st.last_contact = 1795000100;
	st.failures = 7;
	strcpy(st.capabilities_hash, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	assert_int_equal(agent_state_save(dir, &st, &err), 0);
	path = agent_state_path(dir, AGENT_STATE_FILE);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	free(path);

	assert_int_equal(agent_state_load(dir, &back, &err), 0);
	assert_string_equal(back.url, st.url);
	assert_string_equal(back.client_id, st.client_id);
	assert_string_equal(back.client_secret, "wfmcs_secret");
	assert_string_equal(back.git_access_token, "wfmgt_git");
	assert_string_equal(back.vendor, "ACME \"quoted\"");
	assert_null(back.token_endpoint);
	assert_int_equal(back.access_token_expires_at, 1795000000);
	assert_int_equal(back.last_contact, 1795000100);
	assert_int_equal(back.failures, 7);
	assert_string_equal(back.capabilities_hash, st.capabilities_hash);

	agent_state_clear_onboarding(&back);
	assert_null(back.client_id);
	assert_null(back.client_secret);
	assert_string_equal(back.url, st.url);
	assert_string_equal(back.capabilities_hash, "");
	agent_state_free(&back);
	agent_state_free(&st);
	agent_state_free(NULL);
}

static void test_missing_and_corrupt(void **state)
{
	struct agent_state st;
	struct margo_error err;
	char *path = agent_state_path(dir, AGENT_STATE_FILE);
	FILE *f;

	(void)state;
	unlink(path);
	assert_int_equal(agent_state_load(dir, &st, &err), MARGO_ENOTFOUND);
	f = fopen(path, "w");
	fputs("{\"kind\": \"MargoAgentState\", \"url\": ", f);
	fclose(f);
	assert_int_equal(agent_state_load(dir, &st, &err), MARGO_EINVAL);
	assert_non_null(strstr(err.message, "not a state file"));
	f = fopen(path, "w");
	fputs("{\"kind\": \"Something\"}", f);
	fclose(f);
	assert_int_equal(agent_state_load(dir, &st, &err), MARGO_EINVAL);
	unlink(path);
	free(path);
}

static void test_cleanup(void **state)
{
	char dead[256], live[256], other[256];
	FILE *f;

	(void)state;
	/* pid 2^22+1 is above Linux's pid_max limit: never alive */
	snprintf(dead, sizeof(dead), "%s/state.json.tmp.4194305.00000000deadbeef", dir);
	snprintf(live, sizeof(live), "%s/state.json.tmp.%ld.00000000cafebabe", dir, (long)getpid());
	snprintf(other, sizeof(other), "%s/notes.txt.tmp.4194305.0", dir);
	assert_non_null(f = fopen(dead, "w"));
	fclose(f);
	assert_non_null(f = fopen(live, "w"));
	fclose(f);
	assert_non_null(f = fopen(other, "w"));
	fclose(f);
	agent_state_cleanup(dir);
	assert_int_equal(access(dead, F_OK), -1);
	assert_int_equal(access(live, F_OK), 0);
	assert_int_equal(access(other, F_OK), 0);
	unlink(live);
	unlink(other);
}

static void test_lock(void **state)
{
	struct margo_error err;
	int a, b;

	(void)state;
	assert_int_equal(agent_state_lock(dir, &a, &err), 0);
	assert_int_equal(agent_state_lock(dir, &b, &err), MARGO_ECONFLICT);
	assert_int_equal(b, -1);
	assert_non_null(strstr(err.message, "another margo-agent"));
	close(a);
	assert_int_equal(agent_state_lock(dir, &b, &err), 0);
	close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_missing_and_corrupt),
		cmocka_unit_test(test_cleanup),
		cmocka_unit_test(test_lock),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
