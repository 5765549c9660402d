/* ingest.h -- accepted events into PostgreSQL: one writer, group commit, a journal while the database is down, rollups of meeting.events. */
#ifndef JP_INGEST_H
#define JP_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/event.h"

/*
 * One writer thread owns a connection. It takes every event waiting,
 * finds each one's meeting (by room name, cached), and stores the batch
 * as one multi-row INSERT into the append-only meeting_event in one
 * transaction (group commit: one fsync for the batch); only then is
 * each event answered. While the database cannot be reached, batches
 * are appended to the journal (fsync) and answered "journaled"; once it
 * answers again the journal is replayed in arrival order before anything
 * newer, and emptied. Every journaled event carries a dedup key, so a
 * replay cut short and done again stores nothing twice. The schema is
 * migrated on each (re)connection until that succeeds once.
 *
 * A second thread with its own connection brings meeting.events and
 * num_clients up to date (tally_rollup) for the meetings that got events,
 * at most every INGEST_ROLLUP_MS per meeting.
 */

#define INGEST_BATCH_MAX 512
#define INGEST_ROLLUP_MS 200

enum ingest_status {
	INGEST_STORED,        /* in meeting_event */
	INGEST_DUPLICATE,     /* its dedup key was there: nothing new */
	INGEST_JOURNALED,     /* on local disk, stored once the DB is back */
	INGEST_NO_MEETING,    /* no meeting has that room name */
	INGEST_UNAVAILABLE,   /* neither stored nor journaled (journal full,
	                         disk error); detail says why */
	INGEST_FAILED,        /* the database refused this event; detail */
};

struct ingest_item {
	struct event ev;      /* taken by ingest_submit */
	/* called exactly once, from the writer thread; the item is the
	 * callback's (free it with ingest_item_free) */
	void (*done)(struct ingest_item *it, void *ctx);
	void *ctx;
	enum ingest_status status;
	char detail[512];
	struct ingest_item *next;
};

struct ingest_item *ingest_item_new(void);
void ingest_item_free(struct ingest_item *it);

struct ingest_options {
	const char *database_url;
	const char *journal_path;    /* $STATE_DIR/events.journal */
	const char *rejected_path;   /* $STATE_DIR/events.rejected: journaled
	                                events whose meeting is unknown */
	uint64_t journal_max;        /* EVENT_JOURNAL_MAX */
};

struct ingest;

/* Open the journal and start both threads (the database may be down).
 * NULL with err when the journal cannot be opened. */
struct ingest *ingest_start(const struct ingest_options *o, char *err,
    size_t errlen);

/* Queue it; its done callback follows. Any thread. */
void ingest_submit(struct ingest *g, struct ingest_item *it);

/* Answer everything queued (stored or journaled), roll up what is
 * pending, stop both threads. NULL is fine. */
void ingest_stop(struct ingest *g);

struct ingest_health {
	bool db_up;                  /* connected and migrated */
	char db_error[512];          /* why not, when not */
	size_t journal_lines;
	uint64_t journal_bytes;
	size_t queued;
};
void ingest_health(struct ingest *g, struct ingest_health *h);

#endif
