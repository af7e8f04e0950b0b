/* outbox.h - the outbox store: a table in a SQLite file (man/outbox.5).
 *
 * Ownership: an outbox handle owns its sqlite3 connection, its prepared
 * statements and its scratch buffers; outbox_close() releases them all.
 * outbox_db() lends the connection: the caller may run its own statements
 * on it (inside the same transaction as outbox_append) but must finalize
 * them before outbox_close() and must not close the connection itself.
 * Nothing a function takes is kept after it returns: outbox_append() copies
 * what it needs from the event (the event's text may be reused at once).
 *
 * Threads: a handle belongs to one thread at a time. Its connection is
 * opened without SQLite's per-connection mutex (SQLITE_OPEN_NOMUTEX), which
 * would otherwise be taken on every bind and step; a caller that shares a
 * handle between threads serialises its use itself.
 *
 * Errors: every function that can fail returns an exitcode.h value (0 =
 * success) and fills an errinfo whose text starts with the database file
 * name. SQLite results map to exit statuses as follows:
 *   SQLITE_BUSY, SQLITE_LOCKED            75 (locked past the busy timeout,
 *                                            or the wait was interrupted)
 *   SQLITE_INTERRUPT                      75 (the stop flag was raised)
 *   SQLITE_FULL, SQLITE_IOERR             74 (disk full, I/O error)
 *   SQLITE_NOTADB, SQLITE_CORRUPT         74 ("not an outbox database")
 *   SQLITE_READONLY, SQLITE_CANTOPEN      73
 *   SQLITE_PERM, SQLITE_AUTH              77
 *   SQLITE_CONSTRAINT, SQLITE_ERROR in
 *     caller SQL (outbox_exec)            65 (the SQL is bad input)
 *   SQLITE_BUSY, SQLITE_LOCKED in caller
 *     SQL without waiting for another
 *     connection (outbox_exec)            65 (it cannot run in a transaction)
 *   schema newer than supported, or not
 *     recognisably an outbox (no UNIQUE
 *     (source, id), missing columns)      78
 *   a database name that is not a file
 *     (":memory:", "", a "file:" URI)     64
 *   SQLITE_CONSTRAINT inserting a row     78 (a constraint or trigger the
 *                                            application added refused it)
 *   a directory or other non-regular
 *     file as the database                74
 *   anything else                         70
 *
 * Transactions: the caller brackets appends with outbox_begin() and
 * outbox_commit(); outbox_rollback() undoes everything since begin. A
 * transaction taken with outbox_begin() holds the write lock from the start
 * (BEGIN IMMEDIATE), so a busy database shows up at begin, never halfway.
 *
 * Waiting and stopping: every wait for a lock, outbox_open() included, is
 * bounded by the busy timeout and ends at once when *opt->stop becomes
 * nonzero (a signal handler's flag); the call then fails with 75 and an
 * "interrupted" message. Caller SQL (outbox_exec) is also interrupted by
 * the flag; the handle's own inserts and COMMIT are not, so a tool may
 * still commit what it has after a signal.
 */
#ifndef OUTBOX_H
#define OUTBOX_H

#include <signal.h>
#include <stddef.h>

#include "cloudevent.h"
#include "diag.h"

#define OUTBOX_SCHEMA_VERSION 1
#define OUTBOX_DEFAULT_TABLE "outbox"
#define OUTBOX_TABLE_MAX 64 /* identifier length limit */
#define OUTBOX_DEFAULT_BUSY_MS 5000
#define OUTBOX_NO_WAIT 0xffffffffu

typedef struct outbox outbox;
typedef struct sqlite3 sqlite3;

typedef struct outbox_options {
	const char *table;     /* NULL = "outbox"; must pass outbox_table_valid */
	unsigned busy_ms;      /* busy timeout; 0 = OUTBOX_DEFAULT_BUSY_MS,
				  OUTBOX_NO_WAIT = fail at once when locked */
	size_t max_event;      /* largest canonical event stored; 0 = 16 MiB */
	int no_create;         /* 1: create nothing: a missing file is an error
				  (73), a file without the table too (78) */
	unsigned group;        /* rows per INSERT statement for deferred appends
				  (see outbox_append); 0 or 1 = none deferred,
				  at most OUTBOX_GROUP_MAX */
	const volatile sig_atomic_t *stop; /* NULL, or a flag a signal handler
				  sets: lock waits and caller SQL end when it
				  becomes nonzero (see Waiting and stopping) */
} outbox_options;

#define OUTBOX_GROUP_MAX 32 /* multi-row INSERT size (7 parameters a row) */

/* Optional, once at program start before any other SQLite use in the
 * process: turn off SQLite's memory statistics, which take a global mutex
 * on every allocation. 0, or EXIT_SOFTWARE if SQLite was already in use. */
int outbox_process_init(void);

/* 1 if name is a valid table name: [A-Za-z_][A-Za-z0-9_]{0,63}, and not
 * SQLite's reserved sqlite_* (in any case). */
int outbox_table_valid(const char *name);

/* 0 if path names a database file; EXIT_USAGE with err set for names that
 * would not keep what is stored in them: "", ":memory:", and any "file:"
 * URI (SQLite here takes them as URIs; ./file:x names a file "file:x").
 * outbox_open() checks it too; a tool calls it to reject an option early. */
int outbox_path_check(const char *path, errinfo *err);

/* Open (creating with mode 0600 when missing) the SQLite file at path,
 * check what it holds without writing (a refused file is left byte for
 * byte as it was), then switch it to WAL, set synchronous=FULL and create
 * or migrate the outbox table to OUTBOX_SCHEMA_VERSION in one transaction.
 * Lock conflicts on the way are retried within the busy timeout, so many
 * processes may open a file that does not exist yet at the same time.
 * opt may be NULL. Returns NULL with err set on failure. */
outbox *outbox_open(const char *path, const outbox_options *opt, errinfo *err);

/* 1 if outbox_open() created the file or the table. */
int outbox_created(const outbox *ob);

/* The connection, lent (see Ownership above). */
sqlite3 *outbox_db(outbox *ob);

int outbox_begin(outbox *ob, errinfo *err);
/* Write held rows (outbox_append), then COMMIT; on failure nothing of the
 * transaction is kept. */
int outbox_commit(outbox *ob, errinfo *err);
/* Undo the open transaction and drop held rows; harmless when none is open. */
void outbox_rollback(outbox *ob);
/* 1 while a transaction is open. */
int outbox_in_transaction(outbox *ob);

/* Run caller SQL (any number of statements; result rows are ignored) on
 * the connection, normally inside the open transaction. Held rows of
 * deferred appends are written first. Interruptible (opt->stop). */
int outbox_exec(outbox *ob, const char *sql, errinfo *err);

/* With on = 1, statements on the connection (the caller's own ones on
 * outbox_db() too) fail with SQLITE_INTERRUPT once *opt->stop is nonzero,
 * until called with on = 0. A no-op without opt->stop. For a tool's own
 * long statements; outbox_exec() does it itself. */
void outbox_set_interruptible(outbox *ob, int on);

enum outbox_append_result {
	OUTBOX_INSERTED = 1,
	OUTBOX_DUPLICATE = 2, /* (source, id) already present: nothing written */
	OUTBOX_IGNORED = 3    /* dropped by a trigger of the table (RAISE(IGNORE)):
				 nothing written, and no such (source, id) */
};

/* Store a validated event (ce_parse) as a pending row: canonical compact
 * JSON in `event`, decoded id, source, type, subject and partitionkey
 * extension in their columns, created_at now. Runs inside the caller's
 * transaction (or autocommits when none is open). *result, if not NULL,
 * says whether a row was inserted or the event was a duplicate.
 *
 * Deferred appends: with opt->group > 1, an append with result == NULL
 * inside a transaction taken with outbox_begin() is copied and held back,
 * and up to `group` held rows are written by one multi-row INSERT (a
 * fraction of the per-statement cost of single-row inserts). Held rows are
 * written, in append order, when the group is full, by outbox_flush(),
 * outbox_exec(), an append that asks for its result, and outbox_commit()
 * before it commits; outbox_rollback() drops them. Until then they are not
 * visible to SQL on outbox_db(), so a caller that reads the table in the
 * transaction calls outbox_flush() first, and one that uses deferred
 * appends commits with outbox_commit(), never with its own COMMIT. An
 * error writing them is returned by the call that writes them (the open
 * transaction should then be rolled back). Duplicates among held rows,
 * within one group too, are counted exactly: see outbox_counts(). */
int outbox_append(outbox *ob, const cloudevent *ev, int *result, errinfo *err);

/* Write the held rows of deferred appends now (a no-op when none). */
int outbox_flush(outbox *ob, errinfo *err);

/* Rows inserted, duplicates skipped and rows ignored (dropped by the
 * table's own triggers) by appends since outbox_open(), counting only what
 * is committed: appends of a transaction count once outbox_commit()
 * succeeded, autocommitted appends at once. Any pointer may be NULL. */
void outbox_counts(const outbox *ob, unsigned long *inserted, unsigned long *duplicates,
		   unsigned long *ignored);

/* Parse, validate and append one event given as JSON text. A rejected event
 * returns EXIT_DATAERR with err naming the attribute at fault. */
int outbox_append_json(outbox *ob, const char *json, size_t len, int *result, errinfo *err);

/* Roll back anything open, finalize statements and close. NULL is fine. */
void outbox_close(outbox *ob);

#endif
