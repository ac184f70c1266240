/*
 * Every job the load bench knows of (from the status of the runs it
 * started, or from a claim) and what the simulated workers saw happen
 * to it: claims, accepted results.  Ended more than once or never is
 * read off here (and checked again in the database by load_bench.sh).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "util.h"

#define SLOTS	(1 << 19)	/* a power of two, well above any run's total */

struct job {
	char		 id[25];
	unsigned char	 course;
	int		 claims;
	int		 results;	/* answered 200 */
	long long	 claimed_us;	/* when the last claim was answered */
};

static struct job	*tab;
static long		 njobs;
static pthread_mutex_t	 mu = PTHREAD_MUTEX_INITIALIZER;
atomic_llong		 lj_claims, lj_results, lj_claims_a;

void
lj_init(void)
{
	if ((tab = calloc(SLOTS, sizeof(*tab))) == NULL) {
		fprintf(stderr, "load: out of memory\n");
		exit(1);
	}
}

static unsigned long
hash(const char *s)
{
	unsigned long	 h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

/* The slot of id, made if need be; call with mu held. */
static struct job *
slot(const char *id, int course)
{
	unsigned long	 i = hash(id) & (SLOTS - 1);

	while (tab[i].id[0] != '\0' && strcmp(tab[i].id, id) != 0)
		i = (i + 1) & (SLOTS - 1);
	if (tab[i].id[0] == '\0') {
		if (++njobs > SLOTS / 2) {
			fprintf(stderr, "load: more jobs than the table holds\n");
			exit(1);
		}
		snprintf(tab[i].id, sizeof(tab[i].id), "%s", id);
		tab[i].course = (unsigned char)course;
	} else if (tab[i].course == COURSE_UNKNOWN)
		tab[i].course = (unsigned char)course;
	return &tab[i];
}

void
lj_add(const char *id, int course)
{
	pthread_mutex_lock(&mu);
	slot(id, course);
	pthread_mutex_unlock(&mu);
}

int
lj_claimed(const char *id)
{
	struct job	*j;
	int		 course;

	pthread_mutex_lock(&mu);
	j = slot(id, COURSE_UNKNOWN);
	j->claims++;
	j->claimed_us = mono_us();
	course = j->course;
	pthread_mutex_unlock(&mu);
	atomic_fetch_add(&lj_claims, 1);
	if (course == COURSE_A)
		atomic_fetch_add(&lj_claims_a, 1);
	return course;
}

void
lj_resulted(const char *id, long code)
{
	if (code != 200)
		return;
	pthread_mutex_lock(&mu);
	slot(id, COURSE_UNKNOWN)->results++;
	pthread_mutex_unlock(&mu);
	atomic_fetch_add(&lj_results, 1);
}

long long
lj_claimed_us(const char *id)
{
	unsigned long	 i = hash(id) & (SLOTS - 1);
	long long	 t = 0;

	pthread_mutex_lock(&mu);
	while (tab[i].id[0] != '\0' && strcmp(tab[i].id, id) != 0)
		i = (i + 1) & (SLOTS - 1);
	if (tab[i].id[0] != '\0')
		t = tab[i].claimed_us;
	pthread_mutex_unlock(&mu);
	return t;
}

void
lj_print(void)
{
	long long	 never = 0, twice = 0, reclaimed = 0, unknown = 0;
	long		 i, shown = 0;

	pthread_mutex_lock(&mu);
	for (i = 0; i < SLOTS; i++) {
		if (tab[i].id[0] == '\0')
			continue;
		if (tab[i].course == COURSE_UNKNOWN)
			unknown++;	/* post-processing jobs: not listed */
		if (tab[i].results == 0)
			never++;
		if (tab[i].results > 1)
			twice++;
		if (tab[i].claims > 1)
			reclaimed++;
		if ((tab[i].results != 1 || tab[i].claims != 1) && shown++ < 10)
			fprintf(stderr, "load: job %s (course %d): %d claims, %d"
			    " accepted results\n", tab[i].id, tab[i].course,
			    tab[i].claims, tab[i].results);
	}
	printf("load.jobs.known %ld\nload.jobs.unlisted %lld\n"
	    "load.jobs.never_ended %lld\nload.jobs.ended_twice %lld\n"
	    "load.jobs.claimed_again %lld\n", njobs, unknown, never, twice,
	    reclaimed);
	pthread_mutex_unlock(&mu);
	free(tab);
	tab = NULL;
}
