/* relay_writer.h - outbox-relay's outcome writer: a thread with its own
 * connection to the outbox database that records delivery outcomes
 * (sent, rescheduled, dead) in grouped write transactions.
 *
 * Why a thread: recording an outcome rewrites the row, which costs SQLite
 * about as much as everything else the relay does for that row (reading,
 * encoding, producing) put together. With the writing on a second core
 * the relay reads and produces the next rows meanwhile, as a shell
 * pipeline would. WAL lets the writer commit while the reader reads.
 *
 * Ownership: relay_writer_put() takes the marks' error strings (they are
 * freed once written) and copies the array itself. Everything else given
 * to relay_writer_open() is borrowed for the writer's lifetime.
 *
 * Transactions: at most about 4096 marks each (a short hold of the write
 * lock), the sent marks in seq order.
 *
 * Failure: a transaction that fails (locked past the busy timeout, disk
 * full) writes nothing; its marks and the later ones wait and are tried
 * again every RELAY_WRITER_RETRY_MS. The rows they concern stay pending
 * until then, so the worst a lost mark causes is a duplicate publication.
 */
#ifndef RELAY_WRITER_H
#define RELAY_WRITER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "relay.h"
#include "relay_sink.h"

#define RELAY_WRITER_RETRY_MS 500

typedef struct relay_mark {
	int64_t seq;
	enum relay_outcome_kind kind; /* SENT, RETRY or DEAD */
	unsigned attempts;            /* attempts before this one */
	int32_t partition;            /* SENT to Kafka; -1: NULL */
	int64_t offset;               /* SENT to Kafka; -1: NULL */
	const char *topic;            /* SENT to Kafka; NULL otherwise; borrowed */
	char *error;                  /* RETRY/DEAD reason; owned */
	int written;                  /* the writer's: committed */
} relay_mark;

typedef struct relay_writer relay_writer;

/* Open a second connection to db (table qtable, already double-quoted)
 * and start the thread. o supplies max_attempts and the backoff. NULL
 * with err set on failure. */
relay_writer *relay_writer_open(const relay_options *o, const char *qtable, errinfo *err);

/* Queue n marks (copied; their error strings taken over). Never blocks
 * on the database. Returns 0, or -1 when out of memory (nothing taken). */
int relay_writer_put(relay_writer *w, relay_mark *v, size_t n);

/* Backpressure: wait while more than limit marks are queued (the writer
 * is behind), so memory stays bounded however many rows one pass reads.
 * Returns at once when a write failed. */
void relay_writer_wait_below(relay_writer *w, size_t limit);

/* Wait until every mark put so far is written. With give_up set (a
 * --once run), or once *stop is set (a signal), a failed transaction ends
 * the wait: returns its exit code with err set and the marks dropped
 * (their rows stay pending). Otherwise it waits through retries. 0 when
 * all written. */
int relay_writer_sync(relay_writer *w, int give_up, volatile sig_atomic_t *stop, errinfo *err);

/* Totals of what has been written. */
void relay_writer_counts(relay_writer *w, unsigned long *sent, unsigned long *rescheduled,
			 unsigned long *dead);

/* Stop the thread (after writing what it can) and close. NULL is fine. */
void relay_writer_close(relay_writer *w);

#endif
