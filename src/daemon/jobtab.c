/* jobtab.c -- the daemon's table of jobs: by position for the dispatcher, by id and by path for the doors. */
#include "daemon/jobtab.h"
#include "base/util.h"

#include <string.h>

void
jobtab_init(struct jobtab *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->mu, NULL);
	t->index = json_object();
}

void
jobtab_destroy(struct jobtab *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		job_free(t->v[i]);
	free(t->v);
	json_decref(t->index);
	pthread_mutex_destroy(&t->mu);
	memset(t, 0, sizeof(*t));
}

struct job *
jobtab_find(const struct jobtab *t, const char *id)
{
	json_t *pos = json_object_get(t->index, id);

	return pos ? t->v[json_integer_value(pos)] : NULL;
}

void
jobtab_add(struct jobtab *t, struct job *j)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
	}
	json_object_set_new(t->index, j->id, json_integer((json_int_t)t->n));
	t->v[t->n++] = j;
}

static void
take_out(struct jobtab *t, size_t i)
{
	json_object_del(t->index, t->v[i]->id);
	t->v[i] = t->v[--t->n];
	if (i < t->n)
		json_object_set_new(t->index, t->v[i]->id,
		    json_integer((json_int_t)i));
}

void
jobtab_remove_at(struct jobtab *t, size_t i)
{
	struct job *j = t->v[i];

	take_out(t, i);
	job_free(j);
}

void
jobtab_remove(struct jobtab *t, const struct job *j)
{
	json_t *pos = json_object_get(t->index, j->id);

	if (pos != NULL && t->v[json_integer_value(pos)] == j)
		take_out(t, (size_t)json_integer_value(pos));
}
