/* margo-agent desired-state pieces: deployment diff, status documents, apply_command runner,
 * git token rotation timing, deployment records on disk, reading deployments from a repo. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "apply.h"
#include "apply_proc.h"
#include "deploy.h"
#include "gitcred.h"
#include "gitsync.h"
#include "margo/file.h"
#include "margo/validate.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/test_agent_deploy_XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static json_t *rec(const char *hash, const char *state, int installed)
{
	return json_pack("{s:s, s:s, s:b}", "hash", hash, "state", state, "installed", installed);
}

static void test_actions(void **state)
{
	static const struct {
		const char *hash, *state;
		int installed;
		const char *new_hash;
		enum agent_deploy_action want;
	} cases[] = {
		/* unchanged and settled */
		{ "h1", "Installed", 1, "h1", AGENT_DEPLOY_NONE },
		{ "h1", "Failed", 0, "h1", AGENT_DEPLOY_NONE },
		{ "h1", "Failed", 1, "h1", AGENT_DEPLOY_NONE },
		/* changed */
		{ "h1", "Installed", 1, "h2", AGENT_DEPLOY_UPDATE },
		{ "h1", "Failed", 1, "h2", AGENT_DEPLOY_UPDATE },
		{ "h1", "Failed", 0, "h2", AGENT_DEPLOY_INSTALL },
		/* interrupted applies (crash mid-apply) run again */
		{ "h1", "Pending", 0, "h1", AGENT_DEPLOY_INSTALL },
		{ "h1", "Installing", 0, "h1", AGENT_DEPLOY_INSTALL },
		{ "h1", "Installing", 1, "h1", AGENT_DEPLOY_UPDATE },
		/* removed, then back in the desired state */
		{ "h1", "Removed", 0, "h1", AGENT_DEPLOY_INSTALL },
		{ "h1", "Removing", 1, "h1", AGENT_DEPLOY_UPDATE },
	};

	(void)state;
	assert_int_equal(agent_deploy_action_for(NULL, "h1"), AGENT_DEPLOY_INSTALL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *r = rec(cases[i].hash, cases[i].state, cases[i].installed);

		if (agent_deploy_action_for(r, cases[i].new_hash) != cases[i].want)
			fail_msg("case %zu (%s %s installed=%d -> %s)", i, cases[i].hash, cases[i].state,
				 cases[i].installed, cases[i].new_hash);
		json_decref(r);
	}
	assert_string_equal(agent_deploy_action_name(AGENT_DEPLOY_INSTALL), "install");
	assert_string_equal(agent_deploy_action_name(AGENT_DEPLOY_UPDATE), "update");
	assert_string_equal(agent_deploy_action_name(AGENT_DEPLOY_REMOVE), "remove");
	assert_null(agent_deploy_action_name(AGENT_DEPLOY_NONE));
}

static void test_status_doc(void **state)
{
	json_t *r = json_pack("{s:[s, s]}", "components", "database", "web");
	struct margo_validation v;
	json_t *doc;

	(void)state;
	doc = agent_deploy_status_doc("dep-1", r, "Failed", "exit 3: no space");
	margo_validation_init(&v);
	assert_int_equal(margo_deployment_status_validate(doc, "dep-1", &v), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "status"), "state")),
			    "Failed");
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(doc,
			    "status"), "error"), "code")), "APPLY_FAILED");
	assert_int_equal(json_array_size(json_object_get(doc, "components")), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(doc,
			    "components"), 1), "name")), "web");
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(doc,
			    "components"), 1), "state")), "Failed");
	json_decref(doc);
	doc = agent_deploy_status_doc("dep-1", r, "Installed", NULL);
	margo_validation_init(&v);
	assert_int_equal(margo_deployment_status_validate(doc, "dep-1", &v), 0);
	assert_null(json_object_get(json_object_get(doc, "status"), "error"));
	json_decref(doc);
	json_decref(r);
}

static void test_records_on_disk(void **state)
{
	struct margo_error err;
	json_t *doc = NULL, *back = NULL, *r;
	char path[128];
	struct stat sb;

	(void)state;
	assert_int_equal(agent_deploy_load(dir, &doc, &err), 0); /* missing: empty */
	assert_true(json_is_null(json_object_get(doc, "revision")));
	r = agent_deploy_record(doc, "dep-1", 1);
	assert_non_null(r);
	assert_ptr_equal(agent_deploy_record(doc, "dep-1", 0), r);
	assert_null(agent_deploy_record(doc, "dep-2", 0));
	json_object_set_new(r, "state", json_string("Installing"));
	json_object_set_new(doc, "revision", json_string("abc"));
	assert_int_equal(agent_deploy_save(dir, doc, &err), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, AGENT_DEPLOYMENTS_FILE);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(agent_deploy_load(dir, &back, &err), 0);
	assert_string_equal(json_string_value(json_object_get(back, "revision")), "abc");
	assert_string_equal(json_string_value(json_object_get(agent_deploy_record(back, "dep-1", 0),
							      "state")), "Installing");
	json_decref(doc);
	json_decref(back);
}

static int run_cmd(const char *cmd, const char *action, const char *file, const char *id,
		   int *status, char tail[AGENT_APPLY_TAIL + 1], struct margo_error *err)
{
	struct agent_apply_options o = { .command = cmd, .state_dir = dir, .timeout_s = 20 };

	return agent_apply_run(&o, action, file, id, status, tail, err);
}

/* 1 while pid (not our child) exists. */
static int exists(pid_t pid)
{
	return kill(pid, 0) == 0;
}

static pid_t read_pid(const char *path)
{
	FILE *f = fopen(path, "r");
	int pid = 0;

	if (f != NULL) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	return (pid_t)pid;
}

/* A command past its timeout is ended with its whole process group (a background child too),
 * reported with the reason; the pid file is there while it runs and gone afterwards. */
static void test_apply_timeout(void **state)
{
	char tail[AGENT_APPLY_TAIL + 1], cmd[512], bg[160], pidf[128];
	struct agent_apply_options o = { .command = cmd, .state_dir = dir, .timeout_s = 1,
					 .grace_s = 1 };
	struct margo_error err;
	int status = 0;
	pid_t child;

	(void)state;
	snprintf(bg, sizeof(bg), "%s/bg.pid", dir);
	snprintf(pidf, sizeof(pidf), "%s/%s", dir, AGENT_APPLY_PID_FILE);
	/* ignores SIGTERM: only the KILL after the grace ends it */
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s.seen'; sleep 30 & echo $! > '%s'; trap '' TERM; "
		 "while :; do sleep 1; done; :", pidf, pidf, bg);
	assert_int_equal(agent_apply_run(&o, "install", "/dev/null", "d", &status, tail, &err), 0);
	assert_int_not_equal(status, 0);
	assert_non_null(strstr(tail, "timed out after 1 s"));
	child = read_pid(bg);
	assert_true(child > 1);
	for (int i = 0; i < 50 && exists(child); i++)
		usleep(100000);
	assert_false(exists(child));
	assert_int_equal(access(pidf, F_OK), -1);
	snprintf(bg, sizeof(bg), "%s.seen", pidf);
	assert_true(read_pid(bg) > 1);
}

/* The command's environment holds no secret the agent's environment had. */
static void test_apply_env(void **state)
{
	char tail[AGENT_APPLY_TAIL + 1], cmd[256], out[128], *text = NULL;
	struct margo_error err;
	size_t len = 0;
	int status = -1;

	(void)state;
	snprintf(out, sizeof(out), "%s/env.txt", dir);
	snprintf(cmd, sizeof(cmd), "env > '%s'; :", out);
	setenv("MARGO_ENROLLMENT_TOKEN", "wfmet_sekrit1", 1);
	setenv("https_proxy", "http://user:sekrit2@proxy:3128", 1);
	setenv("DEPLOY_API_KEY", "sekrit3", 1);
	setenv("KEEP_ME", "visible", 1);
	assert_int_equal(run_cmd(cmd, "install", "/dev/null", "dep-9", &status, tail, &err), 0);
	assert_int_equal(status, 0);
	assert_int_equal(margo_file_read(out, 65536, &text, &len, &err), 0);
	assert_null(strstr(text, "sekrit"));
	assert_non_null(strstr(text, "KEEP_ME=visible"));
	assert_non_null(strstr(text, "MARGO_DEPLOYMENT_ID=dep-9"));
	assert_non_null(strstr(text, "PATH="));
	free(text);
	unsetenv("MARGO_ENROLLMENT_TOKEN");
	unsetenv("https_proxy");
	unsetenv("DEPLOY_API_KEY");
	unsetenv("KEEP_ME");
}

/* An apply left by a killed agent (pid file with its start time) is ended as a group; a pid
 * file naming another process (reused pid) ends nothing. */
static void test_apply_orphan(void **state)
{
	char pidf[128];
	int status;
	pid_t pid;

	(void)state;
	snprintf(pidf, sizeof(pidf), "%s/%s", dir, AGENT_APPLY_PID_FILE);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setpgid(0, 0);
		execl("/bin/sh", "sh", "-c", "sleep 30", (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	apply_proc_pidfile_write(dir, pid);
	assert_int_equal(agent_apply_end_orphan(dir, 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(access(pidf, F_OK), -1);
	/* our own pid with a wrong start time: not the apply, left alone */
	{
		FILE *f = fopen(pidf, "w");

		fprintf(f, "%d 1\n", (int)getpid());
		fclose(f);
	}
	assert_int_equal(agent_apply_end_orphan(dir, 1), 0);
	assert_int_equal(access(pidf, F_OK), -1);
	assert_int_equal(agent_apply_end_orphan(dir, 1), 0);
}

static void test_apply_runner(void **state)
{
	char tail[AGENT_APPLY_TAIL + 1], script[128], file[128], out[128], cmd[300];
	struct margo_error err;
	FILE *f;
	int status = -1;

	(void)state;
	snprintf(script, sizeof(script), "%s/apply.sh", dir);
	snprintf(file, sizeof(file), "%s/dep 1.yaml", dir);
	snprintf(out, sizeof(out), "%s/args.txt", dir);
	f = fopen(script, "w");
	fprintf(f, "#!/bin/sh\n"
		   "printf '%%s|%%s|%%s|%%s|%%s\\n' \"$1\" \"$2\" \"$3\" \"$MARGO_DEPLOYMENT_ID\" \"$MARGO_ACTION\" > '%s'\n"
		   "echo to-stdout\n"
		   "case \"$1\" in fail) i=0; while [ $i -lt 100 ]; do echo \"line $i of noise\" >&2; i=$((i+1)); done;"
		   " echo 'disk full' >&2; exit 3;; esac\n"
		   "exit 0\n", out);
	fclose(f);
	chmod(script, 0700);
	f = fopen(file, "w");
	fputs("kind: ApplicationDeployment\n", f);
	fclose(f);

	/* the command may have its own arguments; ACTION and FILE stay single words */
	snprintf(cmd, sizeof(cmd), "%s", script);
	assert_int_equal(run_cmd(cmd, "install", file, "dep-1", &status, tail, &err), 0);
	assert_int_equal(status, 0);
	assert_string_equal(tail, "");
	{
		char line[512], want[512];

		f = fopen(out, "r");
		assert_non_null(fgets(line, sizeof(line), f));
		fclose(f);
		snprintf(want, sizeof(want), "install|%s||dep-1|install\n", file);
		assert_string_equal(line, want);
	}
	assert_int_equal(run_cmd(cmd, "fail", file, "dep-1", &status, tail, &err), 0);
	assert_int_equal(status, 3);
	assert_true(strlen(tail) <= AGENT_APPLY_TAIL);
	assert_true(strlen(tail) > 400);
	assert_non_null(strstr(tail, "disk full"));
	assert_int_equal(strncmp(tail + strlen(tail) - 9, "disk full", 9), 0);
	assert_null(strstr(tail, "line 0 of"));

	assert_int_equal(run_cmd("kill -9 $$; :", "install", file, "d", &status, tail, &err), 0);
	assert_int_equal(status, 128 + 9);
	assert_int_equal(run_cmd("/nonexistent/apply", "install", file, "d", &status, tail, &err), 0);
	assert_int_equal(status, 127);
	assert_int_equal(run_cmd(NULL, "install", file, "d", &status, tail, &err), MARGO_EINVAL);
}

static void test_rotation_timing(void **state)
{
	(void)state;
	/* one hour token issued at 1000: due from 1000 + 2400 on */
	assert_false(agent_gitcred_due(1000, 4600, 1000));
	assert_false(agent_gitcred_due(1000, 4600, 3399));
	assert_true(agent_gitcred_due(1000, 4600, 3400));
	assert_true(agent_gitcred_due(1000, 4600, 9999));
	/* 30 s token: at 20 s */
	assert_false(agent_gitcred_due(0 + 1, 31, 20));
	assert_true(agent_gitcred_due(1, 31, 21));
	/* unknown times: rotate */
	assert_true(agent_gitcred_due(0, 4600, 1000));
	assert_true(agent_gitcred_due(1000, 0, 1000));
	assert_true(agent_gitcred_due(1000, 900, 1000));
}

/* A real repository made with git(1): the deployments of a commit, with content hashes. */
static void test_read_deployments(void **state)
{
	char cmd[1024], rev[64] = "", repo[128];
	struct margo_error err;
	json_t *files = NULL;
	FILE *p;

	(void)state;
	if (system("git --version >/dev/null 2>&1") != 0)
		skip();
	snprintf(repo, sizeof(repo), "%s/src", dir);
	snprintf(cmd, sizeof(cmd),
		 "set -e; export GIT_CONFIG_NOSYSTEM=1 HOME=%s; git init -q -b main %s; cd %s; "
		 "mkdir deployments; printf 'a: 1\\n' > deployments/dep-a.yaml; "
		 "printf 'b: 2\\n' > deployments/dep-b.yaml; printf 'x' > deployments/notes.txt; "
		 "printf 'r' > README; git add .; "
		 "git -c user.name=t -c user.email=t@t commit -q -m one; git clone -q --bare . ../bare.git",
		 dir, repo, repo);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "git -C %s rev-parse HEAD", repo);
	p = popen(cmd, "r");
	assert_non_null(fgets(rev, sizeof(rev), p));
	pclose(p);
	rev[strcspn(rev, "\n")] = '\0';
	snprintf(repo, sizeof(repo), "%s/bare.git", dir);
	assert_int_equal(agent_git_read_deployments(repo, rev, &files, &err), 0);
	assert_int_equal(json_object_size(files), 2);
	assert_string_equal(json_string_value(json_object_get(json_object_get(files, "dep-a"),
							      "content")), "a: 1\n");
	/* sha256("b: 2\n") */
	assert_int_equal(strlen(json_string_value(json_object_get(json_object_get(files, "dep-b"),
								  "hash"))), 64);
	json_decref(files);
	assert_int_equal(agent_git_read_deployments(repo, "0123456789012345678901234567890123456789",
						    &files, &err), MARGO_ENOTFOUND);
	assert_int_equal(agent_git_read_deployments(repo, "zz", &files, &err), MARGO_EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_status_doc),
		cmocka_unit_test(test_records_on_disk),
		cmocka_unit_test(test_apply_runner),
		cmocka_unit_test(test_apply_timeout),
		cmocka_unit_test(test_apply_env),
		cmocka_unit_test(test_apply_orphan),
		cmocka_unit_test(test_rotation_timing),
		cmocka_unit_test(test_read_deployments),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
