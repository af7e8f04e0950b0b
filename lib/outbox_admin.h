/* outbox_admin.h - the operator side of outbox-relay: status, list,
 * requeue and purge over an outbox table (man/outbox.5), output formatting
 * included, so each subcommand is one call.
 *
 * Ownership: an outbox_admin owns its outbox handle (opened with
 * no_create = 1) and its prepared statements; outbox_admin_close()
 * releases them. outbox_admin_outbox() lends the handle. Query structs,
 * their strings and id arrays are only read during the call. Output goes to
 * FILE streams the caller owns: `out` carries data only (NDJSON, the status
 * table/JSON/Prometheus text); `info` (may be NULL, e.g. for -q) receives
 * the one-line human summaries of requeue and purge. The caller checks
 * ferror()/fclose() of its streams; a write error seen here is EXIT_IOERR.
 *
 * Errors: every function returns an exitcode.h value and fills an errinfo
 * whose text starts with the database file name. SQLite results map as in
 * outbox.h (BUSY/LOCKED 75, FULL/IOERR/NOTADB/CORRUPT 74, READONLY/
 * CANTOPEN 73, PERM/AUTH 77, else 70). A bad query (contradictory or
 * missing selection) is EXIT_USAGE; ids asked for that match no row are
 * EXIT_NO after the others were handled.
 *
 * Times: every `*_us` value is microseconds since the Unix epoch; the
 * table's time columns hold the one 27-character UTC form, so a bound is
 * formatted once and compared as text (no per-row parsing).
 */
#ifndef OUTBOX_ADMIN_H
#define OUTBOX_ADMIN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "diag.h"
#include "outbox.h"

typedef struct outbox_admin outbox_admin;

/* Open an existing file for administration (a missing file is 73, never
 * created). opt may be NULL; opt->no_create is forced to 1. NULL with err
 * set on failure. */
outbox_admin *outbox_admin_open(const char *path, const outbox_options *opt, errinfo *err);
void outbox_admin_close(outbox_admin *a);
outbox *outbox_admin_outbox(outbox_admin *a);

/* Row states; OUTBOX_ANY selects all three. */
enum outbox_state {
	OUTBOX_ANY = 0,
	OUTBOX_PENDING,
	OUTBOX_SENT,
	OUTBOX_DEAD
};

/* "pending", "sent", "dead" (or "any") -> *state; 0, or -1 if unknown. */
int outbox_admin_parse_state(const char *s, int *state);

/* A time bound as given on a command line: an RFC 3339 timestamp, or an
 * age N followed by s, m, h, d or w (seconds when no unit) meaning
 * now - N. 0, or -1 (invalid, or an age over 100 years). */
int outbox_admin_parse_time(const char *s, int64_t now_us, int64_t *us);
/* An age only (N with s, m, h, d, w), in microseconds. 0 or -1. */
int outbox_admin_parse_age(const char *s, int64_t *us);

/* ---- status ---- */

/* Counts are exact at one instant (one read transaction). Categories of
 * pending rows overlap: a row can be due, retrying and blocked at once.
 *   pending   status = 'pending'
 *   due       pending and next_attempt_at NULL or <= now
 *   retrying  pending and attempts > 0
 *   blocked   pending, partition_key not NULL, and an earlier (smaller seq)
 *             pending row with the same partition_key is not due
 *             (next_attempt_at > now): the relay keeps per-key order, so
 *             the row waits behind that failing event whatever its own
 *             next_attempt_at says
 *   dead, sent the rows in those states */
typedef struct outbox_status {
	int64_t now_us;
	uint64_t pending, due, retrying, blocked, dead, sent;
	int64_t oldest_pending_age_s;   /* -1 when nothing is pending */
	char oldest_pending_at[32];     /* its created_at, "" when none */
	char last_sent_at[32];          /* max(sent_at), "" when none */
	int64_t last_sent_age_s;        /* -1 when none */
} outbox_status;

int outbox_admin_status(outbox_admin *a, int64_t now_us, outbox_status *st, errinfo *err);

enum outbox_status_format {
	OUTBOX_FMT_TEXT = 0,   /* aligned "name  value" lines for a terminal */
	OUTBOX_FMT_JSON,       /* one JSON object and a newline */
	OUTBOX_FMT_PROMETHEUS  /* text exposition format, gauges */
};

/* table names the table in Prometheus labels (NULL = "outbox"). */
int outbox_admin_status_print(const outbox_status *st, int format, const char *table,
			      FILE *out, errinfo *err);

/* Health thresholds; a negative value is not checked. */
typedef struct outbox_thresholds {
	int64_t max_age_s;   /* oldest pending age, seconds */
	int64_t max_pending;
	int64_t max_dead;
} outbox_thresholds;
#define OUTBOX_THRESHOLDS_NONE { -1, -1, -1 }

/* 0 when every given threshold holds; EXIT_NO with err naming each one
 * exceeded and by how much ("pending 1200 > max-pending 1000 (+200); ..."). */
int outbox_admin_check(const outbox_status *st, const outbox_thresholds *t, errinfo *err);

/* ---- selection shared by list and requeue ---- */
typedef struct outbox_select {
	int state;                  /* enum outbox_state */
	const char *type;           /* NULL = any */
	const char *source;         /* NULL = any */
	const char *const *ids;     /* event ids (several sources may match) */
	size_t n_ids;
	int has_since;
	int64_t since_us;           /* created_at >= since */
} outbox_select;

/* ---- list ---- */
typedef struct outbox_list_options {
	outbox_select sel;
	uint64_t limit;   /* 0 = no limit */
	int events;       /* 1: the stored event line as is (no delivery fields) */
} outbox_list_options;

/* Stream matching rows in seq order as NDJSON, one line per row, never
 * holding more than one row. Default form: the event in canonical form
 * with its delivery fields added as CloudEvents extension attributes in
 * their sorted places (outboxattempts, outboxcreated, outboxerror,
 * outboxnext, outboxoffset, outboxpartition, outboxsent, outboxseq,
 * outboxstatus, outboxtopic; NULL columns omitted), so each line is still
 * a valid canonical CloudEvent. *rows (may be NULL) gets the lines written.
 * A stored event that is not a valid CloudEvent is skipped with a warning
 * on info, and makes the result EXIT_DATAERR once the rest is written. */
int outbox_admin_list(outbox_admin *a, const outbox_list_options *o, FILE *out, FILE *info,
		      uint64_t *rows, errinfo *err);

/* ---- requeue ---- */
typedef struct outbox_requeue_options {
	outbox_select sel;
	int dry_run;
	unsigned chunk;   /* rows per write transaction; 0 = 1000 */
	const volatile sig_atomic_t *stop; /* checked between chunks; may be NULL */
} outbox_requeue_options;

typedef struct outbox_requeue_result {
	uint64_t rows;                 /* rows requeued (or that would be) */
	uint64_t pending, sent, dead;  /* of those, by state before */
	uint64_t ids_unmatched;        /* ids that matched no row */
} outbox_requeue_result;

/* Make the selected rows pending and due now: status 'pending', attempts
 * 0, next_attempt_at, last_error, sent_at, topic, kafka_partition,
 * kafka_offset NULL. Selection rules (else EXIT_USAGE):
 *   with ids: any state unless sel.state says one;
 *   without ids: sel.state OUTBOX_ANY means dead; sent or pending rows
 *   only with a type (requeueing sent rows re-publishes them: a manual
 *   replay, never a side effect of a broad selection).
 * Each affected row is written to out as {"seq":N,"source":S,"id":I,
 * "type":T,"status":OLD} (also with dry_run, where nothing changes); info
 * gets the summary. Work is done in transactions of `chunk` rows (BEGIN
 * IMMEDIATE, seq order). A stop request between chunks returns
 * EXIT_TEMPFAIL, with what was committed reported. */
int outbox_admin_requeue(outbox_admin *a, const outbox_requeue_options *o, FILE *out,
			 FILE *info, outbox_requeue_result *res, errinfo *err);

/* ---- purge ---- */
typedef struct outbox_purge_options {
	int has_sent_before;
	int64_t sent_before_us;   /* sent rows with sent_at < this */
	int has_dead_before;
	int64_t dead_before_us;   /* dead rows with created_at < this */
	int dry_run;
	unsigned chunk;           /* rows per transaction; 0 = 1000 */
	const volatile sig_atomic_t *stop;
} outbox_purge_options;

typedef struct outbox_purge_result {
	uint64_t sent, dead;      /* rows deleted (or that would be) */
	uint64_t transactions;
} outbox_purge_result;

/* Delete old sent (and, only when asked, dead) rows in transactions of at
 * most `chunk` rows, so writers wait at most one chunk. Pending rows are
 * never deleted, nor is the row with the largest seq (that keeps seq
 * values from being reused, see outbox(5)). Neither bound given is
 * EXIT_USAGE. info gets the summary. */
int outbox_admin_purge(outbox_admin *a, const outbox_purge_options *o, FILE *info,
		       outbox_purge_result *res, errinfo *err);

#endif
