/* jobtab.h -- the daemon's table of jobs: by position for the dispatcher, by id and by path for the doors. */
#ifndef JP_JOBTAB_H
#define JP_JOBTAB_H

#include <pthread.h>
#include <stddef.h>

#include <jansson.h>

#include "daemon/job.h"

/* Every job the daemon knows but finished ones whose source is gone
 * (pruned: their files stay in STATE_DIR/jobs). One mutex guards the
 * table and every job's `running` flag; a job's document belongs to
 * whoever set running (a worker, or a door saving it), so nothing slow
 * (a save with fsync) ever happens under the lock. */
struct jobtab {
	pthread_mutex_t mu;
	struct job **v;
	size_t n, cap;
	json_t *index;          /* id -> position in v */
};

void jobtab_init(struct jobtab *t);
/* Free every job and the table. */
void jobtab_destroy(struct jobtab *t);

/* The rest: caller holds mu. */
struct job *jobtab_find(const struct jobtab *t, const char *id);
void jobtab_add(struct jobtab *t, struct job *j);
/* Remove and free the job at position i (the last one takes its place). */
void jobtab_remove_at(struct jobtab *t, size_t i);
/* Remove j (not freed); no-op when absent. */
void jobtab_remove(struct jobtab *t, const struct job *j);

#endif
