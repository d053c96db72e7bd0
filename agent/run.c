#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "desired.h"
#include "device_api.h"
#include "gitcred.h"
#include "margo/log.h"
#include "margo/sdnotify.h"
#include "margo/timeutil.h"
#include "oauth.h"
#include "reload.h"
#include "run.h"
#include "schedule.h"

/* Longest single sleep: the loop wakes up to notice clock jumps. */
#define SLEEP_SLICE_S 60

struct agent_step {
	const char *name;
	int (*fn)(struct agent *a, struct margo_error *err);
};

static int step_token(struct agent *a, struct margo_error *err)
{
	return agent_oauth_ensure(a, 0, err);
}

/* Check-in for a WFM without desired state: proves the credentials and the connection every
 * cycle. A WFM that lost our capability document (404) gets it again in the next step. */
static int step_checkin(struct agent *a, struct margo_error *err)
{
	struct margo_http_response resp = { 0 };
	char *summary = NULL;
	int rc;

	rc = agent_device_request(a, "GET", "/capabilities", NULL, 0, &resp, err);
	if (rc != 0)
		return rc;
	if (resp.status == 404) {
		a->st.capabilities_hash[0] = '\0';
		a->st.last_capabilities_report = 0;
	} else if (resp.status != 200) {
		summary = margo_http_problem_summary(&resp);
		rc = margo_error_set(err, resp.status == 401 ? MARGO_EAUTH
				     : resp.status == 403 ? MARGO_EFORBIDDEN : MARGO_EPROTO,
				     "check-in: %s", summary != NULL ? summary : "failed");
	}
	free(summary);
	margo_http_response_free(&resp);
	return rc;
}

/* Rotates the git token when two thirds of its lifetime are over (the desired-state step
 * rotates on demand too). */
static int step_git_credentials(struct agent *a, struct margo_error *err)
{
	if (a->st.git_access_token == NULL)
		return MARGO_OK;
	return agent_gitcred_ensure(a, 0, err);
}

/* Desired state: one small request when nothing changed; fetch and apply otherwise. A WFM
 * without desired state gets the check-in instead. */
static int step_desired_state(struct agent *a, struct margo_error *err)
{
	int none = 0, rc;

	rc = agent_desired_sync(a, &none, err);
	if (rc == 0 && none)
		rc = step_checkin(a, err);
	return rc;
}

static int step_capabilities(struct agent *a, struct margo_error *err)
{
	int sent;

	return agent_capabilities_sync(a, &sent, err);
}

/* In order; a failing step ends the cycle. */
static const struct agent_step steps[] = {
	{ "token", step_token },
	{ "git_credentials", step_git_credentials },
	{ "capabilities", step_capabilities },
	{ "desired_state", step_desired_state },
};

int agent_run_cycle(struct agent *a, const char **failed_step, struct margo_error *err)
{
	int rc;

	*failed_step = NULL;
	a->retry_after = -1;
	a->poll_hint = 0;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		rc = steps[i].fn(a, err);
		if (rc != 0) {
			*failed_step = steps[i].name;
			return rc;
		}
	}
	a->st.last_contact = margo_time_now();
	return MARGO_OK;
}

/* Waits until t (wall clock), due (monotonic) or a stop signal, whichever comes first, so a
 * wall clock stepped back (NTP fixing a device that was ahead) does not stretch the wait;
 * returns the signal that arrived, or 0. */
static int wait_until(const sigset_t *set, time_t t, int64_t due)
{
	int64_t left = t - time(NULL), mono_left = due - margo_time_mono();
	struct timespec ts = { 0, 0 };
	int sig;

	if (mono_left < left)
		left = mono_left;
	if (left > 0)
		ts.tv_sec = left > SLEEP_SLICE_S ? SLEEP_SLICE_S : left;
	do {
		sig = sigtimedwait(set, NULL, &ts);
	} while (sig < 0 && errno == EINTR);
	return sig > 0 ? sig : 0;
}

/* Tells systemd (Type=notify units), when it listens; failures change nothing here. */
static void notify(const char *state)
{
	struct margo_error e;

	(void)margo_sd_notify(state, &e);
}

/* SIGHUP: the schedule and log level from the file again; the next poll follows the new
 * schedule from the last success (a retry after a failure keeps its back-off). */
static time_t reload(struct agent *a, struct agent_config *cfg, time_t next, time_t last_ok)
{
	struct margo_error e;

	notify("RELOADING=1");
	margo_error_clear(&e);
	if (agent_config_reload(cfg, &e) != 0)
		margo_log_error("reload failed, configuration unchanged", "error=\"%s\"", e.message);
	else if (a->st.failures == 0)
		next = last_ok > 0 ? agent_schedule_next_poll_paced(cfg, last_ok, a->poll_hint)
				   : time(NULL);
	notify("READY=1");
	return next;
}

int agent_run(struct agent_config *cfg, int once, struct margo_error *err)
{
	struct agent a;
	struct margo_error e;
	char when[MARGO_TIME_LEN];
	sigset_t set, old;
	time_t next, now, saved_next = -1, armed = -1, last_ok = 0;
	int64_t due = 0;
	int code = AGENT_EXIT_OK, rc, stop = 0, sig;

	if (agent_open(&a, cfg, err) != 0)
		return err->code == MARGO_ENOTFOUND ? AGENT_EXIT_NOT_ONBOARDED : AGENT_EXIT_FAILURE;
	/* an apply left running by an agent that was killed: ended, and applied again below (its
	 * deployment is still Installing or Removing) */
	(void)agent_apply_end_orphan(a.state_dir, AGENT_APPLY_GRACE_S);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &old);
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	margo_log_info("agent started", "client_id=%s url=%s once=%d", a.st.client_id, a.st.url,
		       once);
	notify("READY=1");
	next = time(NULL);
	while (!stop) {
		const char *step = NULL;

		now = time(NULL);
		if (next != armed) { /* the same wait measured on the monotonic clock */
			armed = next;
			due = margo_time_mono() + (next > now ? next - now : 0);
		}
		if (now < next && margo_time_mono() < due) {
			sig = wait_until(&set, next, due);
			if (sig == SIGHUP)
				next = reload(&a, cfg, next, last_ok);
			stop = sig == SIGTERM || sig == SIGINT;
			continue;
		}
		if (!agent_schedule_allowed(cfg, now)) {
			/* downtime or outside polling hours: no traffic at all */
			next = agent_schedule_next_allowed(cfg, now);
			margo_time_format(next, when);
			margo_log_debug("not polling now", "downtime=%d until=%s",
					agent_schedule_in_downtime(cfg, now), when);
			if (once)
				break;
			continue;
		}
		margo_error_clear(&e);
		rc = agent_run_cycle(&a, &step, &e);
		now = time(NULL);
		if (rc == 0) {
			if (a.st.failures > 0)
				margo_log_info("WFM reachable again", "after_failures=%lld",
					       (long long)a.st.failures);
			a.st.failures = 0;
			agent_state_set(&a.st.last_error, NULL);
			last_ok = now;
			next = agent_schedule_next_poll_paced(cfg, now, a.poll_hint);
		} else {
			a.st.failures++;
			next = agent_schedule_next_retry(cfg, now, (unsigned)a.st.failures,
							 a.retry_after, (uint32_t)random());
			agent_state_set(&a.st.last_error, e.message);
			/* a failure that runs into downtime is not reported */
			margo_log(agent_schedule_in_downtime(cfg, now) ? MARGO_LOG_DEBUG : MARGO_LOG_WARN,
				  "cycle failed", "step=%s failures=%lld retry_in=%llds error=\"%s\"",
				  step != NULL ? step : "-", (long long)a.st.failures,
				  (long long)(next - now), e.message);
			code = AGENT_EXIT_FAILURE;
		}
		a.st.next_poll = next;
		if (rc != 0 && agent_https_trust_failed(a.http))
			saved_next = next; /* a WFM we cannot trust changes nothing stored */
		else if (agent_save(&a, &e) != 0)
			margo_log_error("cannot save state", "error=\"%s\"", e.message);
		else
			saved_next = next;
		if (once)
			break;
		code = AGENT_EXIT_OK;
	}
	if (stop) {
		notify("STOPPING=1");
		margo_log_info("agent stopped", NULL);
	}
	a.st.next_poll = next;
	/* saved already unless the schedule moved since (downtime) or the save failed */
	if (next != saved_next && agent_save(&a, &e) != 0) {
		margo_error_set(err, e.code, "cannot save state: %s", e.message);
		code = AGENT_EXIT_FAILURE;
	} else if (once && code != AGENT_EXIT_OK) {
		margo_error_set(err, MARGO_ENET, "%s", a.st.last_error != NULL ? a.st.last_error
									  : "cycle failed");
	}
	agent_close(&a);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return code;
}
