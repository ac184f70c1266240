#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extern.h"
#include "log.h"

/*
 * The spool: WORK/spool/<job>-<attempt>.json, one finished result each,
 * written (temp file, fsync, rename, fsync of the directory) before the
 * result is sent and removed once the API answered 200 or 409.  A
 * restarted worker sends what is left before it registers.
 */

#define SPOOL_FILE_MAX	(64 * 1024 * 1024)

int
spool_init(const struct wconf *c)
{
	char	 path[PATH_MAX];

	if (mkdir(c->work_dir, 0700) == -1 && errno != EEXIST) {
		log_warn("mkdir %s", c->work_dir);
		return -1;
	}
	if (snprintf(path, sizeof(path), "%s/spool", c->work_dir) >=
	    (int)sizeof(path)) {
		log_warnx("work_dir too long");
		return -1;
	}
	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		log_warn("mkdir %s", path);
		return -1;
	}
	return 0;
}

static int
fsync_dir(const char *dir)
{
	int	 fd, rc;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
spool_write(const struct wconf *c, const char *job_id, int64_t attempt,
    const char *body, char *path, size_t pathlen)
{
	char	 tmp[PATH_MAX], dir[PATH_MAX];
	size_t	 len = strlen(body);
	ssize_t	 n;
	int	 fd = -1, rc = -1;

	if (snprintf(dir, sizeof(dir), "%s/spool", c->work_dir) >=
	    (int)sizeof(dir) ||
	    snprintf(path, pathlen, "%s/%s-%lld.json", dir, job_id,
	    (long long)attempt) >= (int)pathlen ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s-%lld.tmp", dir, job_id,
	    (long long)attempt) >= (int)sizeof(tmp)) {
		log_warnx("job=%s spool path too long", job_id);
		return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) == -1) {
		log_warn("job=%s open %s", job_id, tmp);
		return -1;
	}
	while (len > 0) {
		if ((n = write(fd, body, len)) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("job=%s write %s", job_id, tmp);
			goto out;
		}
		body += n;
		len -= (size_t)n;
	}
	if (fsync(fd) == -1) {
		log_warn("job=%s fsync %s", job_id, tmp);
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		log_warn("job=%s close %s", job_id, tmp);
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		log_warn("job=%s rename %s", job_id, tmp);
		goto out;
	}
	if (fsync_dir(dir) == -1)
		log_warn("job=%s fsync %s", job_id, dir);
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (rc == -1)
		(void)unlink(tmp);
	return rc;
}

int
spool_remove(const char *path)
{
	if (unlink(path) == -1 && errno != ENOENT) {
		log_warn("unlink %s", path);
		return -1;
	}
	return 0;
}

static int
path_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every spooled result, sorted; leftover temp files are removed. */
int
spool_list(const struct wconf *c, char ***pathsp, size_t *np)
{
	DIR		 *d;
	struct dirent	 *e;
	char		  dir[PATH_MAX], path[PATH_MAX], **paths = NULL, **np2;
	size_t		  n = 0, len;
	int		  rc = -1;

	*pathsp = NULL;
	*np = 0;
	if (snprintf(dir, sizeof(dir), "%s/spool", c->work_dir) >=
	    (int)sizeof(dir))
		return -1;
	if ((d = opendir(dir)) == NULL) {
		log_warn("opendir %s", dir);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		len = strlen(e->d_name);
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >=
		    (int)sizeof(path))
			continue;
		if (e->d_name[0] == '.' && len > 4 &&
		    strcmp(e->d_name + len - 4, ".tmp") == 0) {
			(void)unlink(path);
			continue;
		}
		if (e->d_name[0] == '.' || len < 6 ||
		    strcmp(e->d_name + len - 5, ".json") != 0)
			continue;
		if ((np2 = reallocarray(paths, n + 1, sizeof(*paths))) == NULL)
			goto out;
		paths = np2;
		if ((paths[n] = strdup(path)) == NULL)
			goto out;
		n++;
	}
	if (n > 1)
		qsort(paths, n, sizeof(*paths), path_cmp);
	*pathsp = paths;
	*np = n;
	paths = NULL;
	rc = 0;
out:
	if (paths != NULL) {
		while (n > 0)
			free(paths[--n]);
		free(paths);
	}
	closedir(d);
	return rc;
}

char *
spool_read(const char *path, size_t *lenp)
{
	struct buf	 b;
	char		 chunk[65536];
	ssize_t		 n;
	int		 fd;

	buf_init(&b, SPOOL_FILE_MAX);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("open %s", path);
		return NULL;
	}
	for (;;) {
		if ((n = read(fd, chunk, sizeof(chunk))) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("read %s", path);
			goto fail;
		}
		if (n == 0)
			break;
		if (buf_append(&b, chunk, (size_t)n) == -1) {
			log_warnx("%s: too large", path);
			goto fail;
		}
	}
	close(fd);
	*lenp = b.len;
	return buf_detach(&b);
fail:
	close(fd);
	buf_free(&b);
	return NULL;
}
