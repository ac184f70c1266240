#define _XOPEN_SOURCE 700
#include <sys/stat.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"
#include "log.h"

/*
 * One job: a directory WORK/jobs/<job>-<attempt>/ holding the scratch
 * directory `job/` (mounted at /job in every stage) and one directory per
 * stage (podman's cwd: env file, conmon's oom marker).  Stages run in
 * order and the first failure stops the job, as in the original.
 */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		return rmdir(path) == -1 && errno != ENOENT ? -1 : 0;
	return unlink(path) == -1 && errno != ENOENT ? -1 : 0;
}

/* rm -rf without following symlinks or crossing mounts.  0 or -1. */
int
rm_tree(const char *path)
{
	if (access(path, F_OK) == -1 && errno == ENOENT)
		return 0;
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

int
job_dirs_clean(const struct wconf *c)
{
	char	 path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/jobs", c->work_dir) >=
	    (int)sizeof(path))
		return -1;
	if (rm_tree(path) == -1) {
		log_warn("cannot remove %s", path);
		return -1;
	}
	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		log_warn("mkdir %s", path);
		return -1;
	}
	return 0;
}

/*
 * The claim answer's job: id and attempt checked here, once; the
 * stage list is checked stage by stage when it runs.  NULL (why in err)
 * if the job cannot even be named.
 */
struct job *
job_parse(const json_t *claim, char *err, size_t errlen)
{
	const char	*id;
	json_t		*v;
	struct job	*j;

	id = json_string_value(json_object_get(claim, "grading_job_id"));
	v = json_object_get(claim, "attempt");
	if (id == NULL || !id_valid(id)) {
		snprintf(err, errlen, "no valid grading_job_id");
		return NULL;
	}
	/* json_integer_value: 0 for a missing attempt, as before. */
	if (json_integer_value(v) < 0) {
		snprintf(err, errlen, "job %s: no valid attempt", id);
		return NULL;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	copy_str(j->id, sizeof(j->id), id);
	j->attempt = json_integer_value(v);
	j->stages = json_incref(json_object_get(claim, "stages"));
	return j;
}

void
job_free(struct job *j)
{
	if (j != NULL)
		json_decref(j->stages);
	free(j);
}

static json_t *
stage_entry(size_t i, const char *image, const struct stage_result *r)
{
	return json_pack("{s:I, s:s, s:I, s:b, s:b, s:I, s:b, s:s?}",
	    "stage", (json_int_t)i, "image", image ? image : "",
	    "exit_code", (json_int_t)r->exit_code, "timed_out", r->timed_out,
	    "oom_killed", r->oom_killed, "duration_ms",
	    (json_int_t)r->duration_ms, "success", r->success,
	    "error", r->error[0] ? r->error : NULL);
}

/*
 * Run the job; the result body for POST .../result, or NULL if out of
 * memory or the worker was told to abort (nothing is reported then:
 * the lease lapses and it is requeued).
 */
json_t *
job_run(const struct wconf *c, const struct job *job, const atomic_int *abort,
    int *aborted)
{
	struct capture		 out, err;
	struct stage_opts	 opts;
	struct stage_result	 r;
	struct stage_ctx	 x;
	const json_t		*stages, *st;
	json_t			*results = NULL, *entry, *res = NULL;
	const char		*job_id = job->id;
	char			 dir[PATH_MAX], scratch[PATH_MAX], sdir[PATH_MAX];
	char			 name[2 * ID_MAX + 64], why[256];
	char			*so = NULL, *se = NULL;
	size_t			 i, solen = 0, selen = 0;
	json_int_t		 attempt = job->attempt;
	int			 ok = 0, have_dir = 0, called;

	*aborted = 0;
	memset(&out, 0, sizeof(out));
	memset(&err, 0, sizeof(err));
	if (capture_init(&out, c->log_cap) == -1 ||
	    capture_init(&err, c->log_cap) == -1 ||
	    (results = json_array()) == NULL)
		goto out;
	stages = job->stages;
	if (!json_is_array(stages) || json_array_size(stages) == 0 ||
	    json_array_size(stages) > PIPELINE_MAX_STAGES) {
		capture_puts(&err, "[broadway-worker] the job has no valid"
		    " stage list\n");
		goto report;
	}
	if (snprintf(dir, sizeof(dir), "%s/jobs/%s-%lld", c->work_dir, job_id,
	    (long long)attempt) >= (int)sizeof(dir) ||
	    snprintf(scratch, sizeof(scratch), "%s/job", dir) >=
	    (int)sizeof(scratch)) {
		capture_puts(&err, "[broadway-worker] work_dir path too long\n");
		goto report;
	}
	(void)rm_tree(dir);
	if (mkdir(dir, 0700) == -1 || mkdir(scratch, 0777) == -1 ||
	    chmod(scratch, 0777) == -1) {
		log_warn("job=%s mkdir %s", job_id, dir);
		capture_puts(&err, "[broadway-worker] cannot create the job"
		    " directory\n");
		goto report;
	}
	have_dir = 1;
	ok = 1;
	json_array_foreach(stages, i, st) {
		memset(&r, 0, sizeof(r));
		r.exit_code = -1;
		called = 0;
		if (snprintf(sdir, sizeof(sdir), "%s/s%zu", dir, i) >=
		    (int)sizeof(sdir) || mkdir(sdir, 0700) == -1) {
			snprintf(r.error, sizeof(r.error), "cannot create the"
			    " stage directory");
		} else if (stage_opts_read(st, &opts, why, sizeof(why)) == -1) {
			snprintf(r.error, sizeof(r.error), "invalid stage: %s", why);
		} else {
			snprintf(name, sizeof(name), "bw-%s-%s-%lld-%zu",
			    c->worker_id, job_id, (long long)attempt, i);
			x.conf = c;
			x.opts = &opts;
			x.name = name;
			x.job_id = job_id;
			x.scratch = scratch;
			x.dir = sdir;
			x.out = &out;
			x.err = &err;
			x.abort = abort;
			log_info("job=%s stage %zu: %s (timeout %g s)", job_id,
			    i, opts.image, opts.timeout);
			if (opts.networking && !c->allow_network)
				log_info("job=%s stage %zu asks for networking;"
				    " this worker runs it without", job_id, i);
			podman_run_stage(&x, &r);
			called = 1;
			if (r.aborted) {
				*aborted = 1;
				ok = 0;
				goto out;
			}
		}
		if (!called) {
			capture_puts(&err, "[broadway-worker] ");
			capture_puts(&err, r.error);
			capture_puts(&err, "\n");
		}
		entry = stage_entry(i, json_string_value(json_object_get(st,
		    "image")), &r);
		if (entry == NULL || json_array_append_new(results, entry) == -1)
			goto out;
		log_info("job=%s stage %zu: exit %d%s%s, %lld ms", job_id, i,
		    r.exit_code, r.timed_out ? " timed out" : "",
		    r.oom_killed ? " out of memory" : "",
		    (long long)r.duration_ms);
		if (!r.success) {
			ok = 0;
			break;
		}
	}
report:
	if ((so = capture_finish(&out, &solen)) == NULL ||
	    (se = capture_finish(&err, &selen)) == NULL)
		goto out;
	res = json_pack("{s:s, s:I, s:b, s:O, s:{s:s%, s:s%}}",
	    "grading_job_id", job_id, "attempt", attempt, "success", ok,
	    "results", results, "logs", "stdout", so, solen, "stderr", se,
	    selen);
out:
	if (have_dir && rm_tree(dir) == -1)
		log_warn("job=%s cannot remove %s", job_id, dir);
	free(so);
	free(se);
	json_decref(results);
	capture_free(&out);
	capture_free(&err);
	return res;
}
