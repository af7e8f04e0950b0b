/* relay.c - the outbox relay engine; see relay.h and outbox-relay(1).
 *
 * One thread. A pass reads pending rows in seq order, batch by batch,
 * past the last seq it read (so rows in flight are never read twice), and
 * hands every due row to the sink. Outcomes arrive through on_done() and
 * go to the writer thread (relay_writer.h), which records them in grouped
 * transactions on its own connection while this thread reads and hands
 * over the next rows. A new pass starts from the first pending row again,
 * so rows that became due meanwhile are picked up; a pass never starts
 * while anything of the last one is in flight or unrecorded, which is
 * what keeps a row from being handed over twice.
 *
 * Ordering: rows are handed over in seq order, and the sink keeps that
 * order per key (librdkafka's idempotent producer does, per partition).
 * What the engine must add is holding back: a row whose key has an
 * earlier pending row that is not due, unbound, or failed in this pass
 * waits. Keys are tracked by a 64-bit hash; a collision only holds an
 * innocent row back until the next pass.
 */
#include "relay.h"
#include "cekafka.h"
#include "dbwatch.h"
#include "exitcode.h"
#include "fnv.h"
#include "outbox.h"
#include "rand.h"
#include "sqlerr.h"
#include "relay_metrics.h"
#include "relay_sink.h"
#include "relay_writer.h"
#include "timefmt.h"

#include <errno.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_EVENT_BYTES (64u * 1024 * 1024)
#define READ_TXN_MS 100
#define RUN_SPAN(r) (2 * (int64_t)(r)->o->batch)
#define WRITER_BACKLOG_MAX 32768 /* marks queued for the writer */
#define ERROR_TEXT_MAX 400
#define REOPEN_GRACE_MS 5000 /* for the reports of a producer gone fatal */

/* One row handed to the sink whose outcome has not arrived. */
struct slot {
	int64_t seq;
	uint64_t keyhash;   /* 0: no key */
	unsigned attempts;  /* attempts before this one */
	const binding *b;   /* NULL for sinks without topics */
	const binding *mb;  /* the row's binding, for metrics */
	int64_t created_us; /* the row's created_at, with metrics */
	int in_use;
	struct slot *next_free;
};

/* A set of 64-bit hashes (open addressing; 0 marks an empty cell). */
struct hashset {
	uint64_t *cell;
	size_t cap, n;
};

struct relay {
	const relay_options *o;
	relay_stats *st;
	outbox *ob;
	sqlite3 *db;
	char qtable[OUTBOX_TABLE_MAX + 3];
	sqlite3_stmt *fetch, *fetch_run, *next_due; /* fetch_run: see pass() */
	relay_sink *sink;
	relay_writer *writer;
	relay_metrics *metrics;  /* NULL without --metrics-file */
	struct slot *slots;
	struct slot *free_slots;
	size_t inflight;
	relay_mark *out;         /* outcomes not yet handed to the writer */
	size_t n_out, cap_out;
	struct hashset blocked;  /* keys held back in this pass */
	struct hashset warned;   /* unbound types already warned about */
	buf scratch;
	buf keybuf;              /* message keys from rules other than partitionkey */
	cekafka_msg msg;
	int write_failed;        /* outcomes could not be recorded */
	int metrics_failed;      /* the metrics file could not be written: its code */
	errinfo metrics_err;     /* and why (--once reports it as the run's error) */
	int sink_failed;         /* the sink stopped (e.g. stdout closed) */
	int have_unbound, have_blocked, have_rescheduled, have_dead;
	unsigned long untouched_seen; /* st->untouched when the pass began */
};

static uint64_t hash_bytes(const char *p, size_t n)
{
	uint64_t h = fnv1a(FNV1A_START, p, n);
	return h ? h : 1; /* 0 marks an empty cell */
}

static int hashset_add(struct hashset *s, uint64_t h)
{
	if ((s->n + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		uint64_t *cell = calloc(cap, sizeof *cell);
		if (!cell)
			return -1;
		for (size_t i = 0; i < s->cap; i++) {
			if (!s->cell[i])
				continue;
			size_t j = s->cell[i] & (cap - 1);
			while (cell[j])
				j = (j + 1) & (cap - 1);
			cell[j] = s->cell[i];
		}
		free(s->cell);
		s->cell = cell;
		s->cap = cap;
	}
	size_t j = h & (s->cap - 1);
	while (s->cell[j]) {
		if (s->cell[j] == h)
			return 0;
		j = (j + 1) & (s->cap - 1);
	}
	s->cell[j] = h;
	s->n++;
	return 1;
}

static int hashset_has(const struct hashset *s, uint64_t h)
{
	if (!s->n)
		return 0;
	size_t j = h & (s->cap - 1);
	while (s->cell[j]) {
		if (s->cell[j] == h)
			return 1;
		j = (j + 1) & (s->cap - 1);
	}
	return 0;
}

static void hashset_clear(struct hashset *s)
{
	if (s->n)
		memset(s->cell, 0, s->cap * sizeof *s->cell);
	s->n = 0;
}

void relay_options_init(relay_options *o)
{
	memset(o, 0, sizeof *o);
	o->batch = RELAY_DEFAULT_BATCH;
	o->max_inflight = RELAY_DEFAULT_INFLIGHT;
	o->mode = RELAY_MODE_BINDING;
	o->ordering = 1;
	o->max_attempts = RELAY_DEFAULT_MAX_ATTEMPTS;
	o->backoff_min_ms = RELAY_DEFAULT_BACKOFF_MIN_MS;
	o->backoff_max_ms = RELAY_DEFAULT_BACKOFF_MAX_MS;
	o->interval_ms = RELAY_DEFAULT_INTERVAL_MS;
	o->drain_timeout_ms = RELAY_DEFAULT_DRAIN_MS;
	o->connect_timeout_ms = 10000;
	o->http_timeout_ms = 30000;
}

static int db_fail(struct relay *r, int rc, const char *what, errinfo *err)
{
	return sqlerr_fail(r->db, rc, r->o->db, what, err);
}

static int prepare(struct relay *r, sqlite3_stmt **st, const char *fmt, errinfo *err)
{
	char sql[1024];
	/* The only substitution is the validated, quoted table name. */
	int n = snprintf(sql, sizeof sql, fmt, r->qtable, r->qtable);
	if (n < 0 || (size_t)n >= sizeof sql)
		return errinfo_set(err, EXIT_SOFTWARE, "statement too long");
	int rc = sqlite3_prepare_v3(r->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
	return rc == SQLITE_OK ? 0 : db_fail(r, rc, "preparing", err);
}

static int prepare_all(struct relay *r, errinfo *err)
{
	/* With key ordering every pending row is read, due or not: a row that
	 * waits for its retry holds its key back. The partial index on
	 * pending rows keeps this cheap however much history the table has.
	 * fetch_run reads the same rows along the table over a stretch of
	 * seqs (NOT INDEXED): see pass(). */
#define FETCH_COLUMNS \
	"SELECT seq, type, partition_key, event, attempts, next_attempt_at, created_at, id, source "
#define FETCH_DUE "AND (next_attempt_at IS NULL OR next_attempt_at <= ?3) "
	const char *fetch_all =
		FETCH_COLUMNS "FROM %s WHERE status = 'pending' AND seq > ?1 ORDER BY seq LIMIT ?2";
	const char *fetch_due = FETCH_COLUMNS "FROM %s WHERE status = 'pending' AND seq > ?1 " FETCH_DUE
					      "ORDER BY seq LIMIT ?2";
	int s = prepare(r, &r->fetch, r->o->ordering ? fetch_all : fetch_due, err);
	const char *run_all = FETCH_COLUMNS "FROM %s NOT INDEXED WHERE seq > ?1 AND seq <= ?4 "
					    "AND status = 'pending' ORDER BY seq LIMIT ?2";
	const char *run_due = FETCH_COLUMNS "FROM %s NOT INDEXED WHERE seq > ?1 AND seq <= ?4 "
					    "AND status = 'pending' " FETCH_DUE "ORDER BY seq LIMIT ?2";
	if (!s)
		s = prepare(r, &r->fetch_run, r->o->ordering ? run_all : run_due, err);
	if (!s)
		s = prepare(r, &r->next_due,
			    "SELECT min(next_attempt_at) FROM %s WHERE status = 'pending' "
			    "AND next_attempt_at IS NOT NULL",
			    err);
	return s;
#undef FETCH_COLUMNS
#undef FETCH_DUE
}

static int push_outcome(struct relay *r, int64_t seq, unsigned attempts, const binding *b,
			const relay_outcome *o)
{
	if (r->n_out == r->cap_out) {
		size_t cap = r->cap_out ? r->cap_out * 2 : 1024;
		relay_mark *p = realloc(r->out, cap * sizeof *p);
		if (!p)
			return -1;
		r->out = p;
		r->cap_out = cap;
	}
	relay_mark *x = &r->out[r->n_out++];
	x->seq = seq;
	x->kind = o->kind;
	x->attempts = attempts;
	x->partition = o->partition;
	x->offset = o->offset;
	x->topic = b ? b->topic : NULL;
	x->error = NULL;
	if (o->kind == RELAY_OUT_RETRY || o->kind == RELAY_OUT_DEAD) {
		char tmp[ERROR_TEXT_MAX + 1];
		snprintf(tmp, sizeof tmp, "%s", o->error ? o->error : "unknown error");
		x->error = strdup(tmp);
	}
	return 0;
}

/* The sink's callback: record the outcome, free the slot. A failed row
 * holds its key back for the rest of the pass. */
static void on_done(void *ctx, void *token, const relay_outcome *o)
{
	struct relay *r = ctx;
	struct slot *s = token;
	if (o->kind == RELAY_OUT_UNTOUCHED) {
		r->st->untouched++;
	} else if (push_outcome(r, s->seq, s->attempts, s->b, o) != 0) {
		/* Out of memory: the row stays pending and goes out again. */
		r->st->untouched++;
	}
	if (r->metrics) {
		if (o->kind == RELAY_OUT_SENT)
			relay_metrics_sent(r->metrics, s->mb, s->created_us);
		else if (o->kind != RELAY_OUT_UNTOUCHED)
			relay_metrics_error(r->metrics, o->reason_code);
	}
	if (o->kind != RELAY_OUT_SENT && s->keyhash && r->o->ordering)
		(void)hashset_add(&r->blocked, s->keyhash);
	s->in_use = 0;
	s->next_free = r->free_slots;
	r->free_slots = s;
	r->inflight--;
}

/* Hand the outcomes gathered so far to the writer thread. */
static void hand_over(struct relay *r)
{
	if (!r->n_out)
		return;
	if (relay_writer_put(r->writer, r->out, r->n_out) != 0) {
		/* Out of memory: those rows stay pending and go out again. */
		for (size_t i = 0; i < r->n_out; i++)
			free(r->out[i].error);
		r->st->untouched += r->n_out;
	}
	r->n_out = 0;
}

static struct slot *take_slot(struct relay *r)
{
	struct slot *s = r->free_slots;
	if (s) {
		r->free_slots = s->next_free;
		s->in_use = 1;
		r->inflight++;
	}
	return s;
}

/* A row that outbox(5) does not allow, or that cannot be sent at all:
 * dead at once, with the reason. */
static void row_dead(struct relay *r, int64_t seq, unsigned attempts, const char *why)
{
	relay_outcome o = { RELAY_OUT_DEAD, -1, -1, why, "invalid_row" };
	if (push_outcome(r, seq, attempts, NULL, &o) != 0)
		r->st->untouched++;
	if (r->metrics)
		relay_metrics_error(r->metrics, "invalid_row");
}

static int column_equals(sqlite3_stmt *st, int col, const char *p, size_t n)
{
	const unsigned char *v = sqlite3_column_text(st, col);
	return v && (size_t)sqlite3_column_bytes(st, col) == n && memcmp(v, p, n) == 0;
}

/* Hand one due row to the sink; waits (serving outcomes) while the sink
 * or the slot pool is full. Returns 0, or an exit code when the sink
 * cannot go on. */
static int submit_row(struct relay *r, sqlite3_stmt *st, int64_t seq, unsigned attempts,
		      const binding *b, uint64_t keyhash, volatile sig_atomic_t *stop, errinfo *err)
{
	const char *event = (const char *)sqlite3_column_text(st, 3);
	size_t event_len = (size_t)sqlite3_column_bytes(st, 3);
	if (!event) {
		row_dead(r, seq, attempts, "event: NULL (outbox(5) wants the event JSON)");
		return 0;
	}
	int structured = r->o->mode == RELAY_MODE_BINDING ? b->mode == BINDING_MODE_STRUCTURED
							 : r->o->mode == RELAY_MODE_STRUCTURED;
	errinfo e;
	int rc = cekafka_encode(&r->msg, event, event_len,
				structured ? CEKAFKA_STRUCTURED : CEKAFKA_BINARY, &r->scratch, &e);
	if (rc == EXIT_DATAERR) {
		char why[sizeof e.text + 32];
		snprintf(why, sizeof why, "event: %s", e.text);
		row_dead(r, seq, attempts, why);
		return 0;
	}
	if (rc)
		return errinfo_set(err, rc, "%s", e.text);
	/* outbox(5): the columns repeat the event's attributes. A row whose
	 * id or source column lies would be published under another identity
	 * than the one UNIQUE(source, id) and the audit trail know. */
	if (!column_equals(st, 1, r->msg.type, r->msg.type_len)) {
		row_dead(r, seq, attempts, "type: the column differs from the event's type");
		return 0;
	}
	if (!column_equals(st, 7, r->msg.id, r->msg.id_len)) {
		row_dead(r, seq, attempts, "id: the column differs from the event's id");
		return 0;
	}
	if (!column_equals(st, 8, r->msg.source, r->msg.source_len)) {
		row_dead(r, seq, attempts, "source: the column differs from the event's source");
		return 0;
	}
	const char *key = NULL;
	size_t key_len = 0;
	if (b->key == BINDING_KEY_PARTITIONKEY) {
		key = r->msg.key;
		key_len = r->msg.key_len;
		if (sqlite3_column_type(st, 2) != SQLITE_NULL ? !key || !column_equals(st, 2, key, key_len)
							       : key != NULL) {
			row_dead(r, seq, attempts,
				 "partition_key: the column differs from the event's partitionkey");
			return 0;
		}
	} else if (b->key == BINDING_KEY_ID || b->key == BINDING_KEY_SUBJECT ||
		   b->key == BINDING_KEY_DATA) {
		/* The binding keys on something other than partitionkey: the
		 * rule needs the parsed event. */
		cloudevent ev;
		ce_error ce;
		buf_reset(&r->keybuf);
		if (ce_parse(&ev, event, event_len, &ce) != 0) {
			row_dead(r, seq, attempts, ce.text);
			return 0;
		}
		int k = bindings_key(b, &ev, &r->keybuf);
		if (k < 0)
			return errinfo_set(err, EXIT_SOFTWARE, "message key too large");
		if (k == 1) {
			key = r->keybuf.data;
			key_len = r->keybuf.len;
		}
	}
	if (cekafka_hop_headers(&r->msg, NULL, &e) != 0)
		return errinfo_set(err, EXIT_SOFTWARE, "%s", e.text);
	struct slot *s;
	while (!(s = take_slot(r))) {
		r->sink->ops->poll(r->sink, 100);
		hand_over(r);
		if (*stop)
			return EXIT_TEMPFAIL;
	}
	s->seq = seq;
	s->attempts = attempts;
	s->keyhash = keyhash;
	s->b = r->o->sink == RELAY_SINK_KAFKA ? b : NULL;
	s->mb = b;
	s->created_us = 0;
	if (r->metrics) {
		const char *c = (const char *)sqlite3_column_text(st, 6);
		if (!c || rfc3339_parse_us(c, (size_t)sqlite3_column_bytes(st, 6), &s->created_us) != 0)
			s->created_us = 0;
	}
	/* cekafka may have chosen structured itself (an event whose data is
	 * an event): the item follows its choice. */
	structured = r->msg.mode == CEKAFKA_STRUCTURED;
	relay_item it = { b->topic, &r->msg, structured ? (const char *)r->msg.value : event,
			  structured ? r->msg.value_len : event_len,
			  structured, key, key_len, s };
	for (;;) {
		rc = r->sink->ops->submit(r->sink, &it, err);
		if (rc != RELAY_SINK_FULL)
			break;
		r->sink->ops->poll(r->sink, 100);
		hand_over(r);
		if (*stop) {
			relay_outcome o = { RELAY_OUT_UNTOUCHED, -1, -1, NULL };
			on_done(r, s, &o);
			return EXIT_TEMPFAIL;
		}
	}
	if (rc) {
		relay_outcome o = { RELAY_OUT_UNTOUCHED, -1, -1, NULL };
		on_done(r, s, &o);
		r->sink_failed = 1;
	}
	return rc;
}

/* Decide what to do with one pending row. */
static int handle_row(struct relay *r, sqlite3_stmt *st, const char *now,
		      volatile sig_atomic_t *stop, errinfo *err)
{
	int64_t seq = sqlite3_column_int64(st, 0);
	unsigned attempts = (unsigned)sqlite3_column_int(st, 4);
	uint64_t keyhash = 0;
	if (r->o->ordering && sqlite3_column_type(st, 2) != SQLITE_NULL)
		keyhash = hash_bytes((const char *)sqlite3_column_text(st, 2),
				     (size_t)sqlite3_column_bytes(st, 2));
	const unsigned char *next = sqlite3_column_text(st, 5);
	if (next && strcmp((const char *)next, now) > 0) {
		/* Not due: a retry waits. Later rows of its key wait too. */
		if (keyhash)
			(void)hashset_add(&r->blocked, keyhash);
		return 0;
	}
	if (keyhash && hashset_has(&r->blocked, keyhash)) {
		r->st->blocked++;
		r->have_blocked = 1;
		return 0;
	}
	const char *type = (const char *)sqlite3_column_text(st, 1);
	size_t type_len = (size_t)sqlite3_column_bytes(st, 1);
	const binding *b = type ? bindings_resolve(r->o->bindings, type, type_len) : NULL;
	if (!b) {
		r->st->unbound++;
		r->have_unbound = 1;
		if (keyhash)
			(void)hashset_add(&r->blocked, keyhash);
		if (hashset_add(&r->warned, hash_bytes(type ? type : "", type_len)) == 1)
			diag_warn("%s: type %.*s has no binding in %s: its rows stay pending",
				  r->o->db, (int)(type_len > 200 ? 200 : type_len), type ? type : "",
				  bindings_source(r->o->bindings));
		return 0;
	}
	return submit_row(r, st, seq, attempts, b, keyhash, stop, err);
}

/* Wait for every outcome in flight, bounded by limit_ms when stopping. */
static void drain(struct relay *r, volatile sig_atomic_t *stop)
{
	int64_t deadline = 0;
	int purged = 0;
	while (r->inflight) {
		if (*stop && !deadline)
			deadline = timefmt_now_us() + (int64_t)r->o->drain_timeout_ms * 1000;
		errinfo e;
		/* A sink that cannot go on delivers nothing more: stop waiting. */
		int b = purged ? 0 : r->sink->ops->broken(r->sink, &e);
		if (b > 0)
			deadline = timefmt_now_us();
		/* One to be replaced gets a while for the answers to what it
		 * sent (fewer duplicates), then the purge reports the rest:
		 * librdkafka 2.0.2 never reports on its own a batch it set
		 * aside for a retry after an epoch bump that the fatal error
		 * then forbids, and the drain would wait for ever. */
		if (b == RELAY_SINK_REOPEN) {
			int64_t d = timefmt_now_us() + (int64_t)REOPEN_GRACE_MS * 1000;
			if (!deadline || d < deadline)
				deadline = d;
		}
		if (deadline && !purged && timefmt_now_us() >= deadline) {
			r->sink->ops->purge(r->sink);
			purged = 1;
		}
		r->sink->ops->poll(r->sink, 50);
		hand_over(r);
	}
}

/* Write the metrics file when min_ms passed since the last write. A
 * daemon warns once and retries at its next write; --once does not retry:
 * the failure of its last write is the run's error and exit status. */
static void write_metrics(struct relay *r, uint64_t min_ms)
{
	int s = relay_metrics_write(r->metrics, r->db, r->qtable, min_ms, &r->metrics_err);
	if (s && !r->metrics_failed && !r->o->once)
		diag_warn("%s (will retry)", r->metrics_err.text);
	r->metrics_failed = s;
}

/* One pass over the pending rows. */
static int pass(struct relay *r, volatile sig_atomic_t *stop, errinfo *err)
{
	int64_t after = 0;
	int status = 0;
	/* Where the pending rows follow one another in seq (a backlog), the
	 * next batch is read along the table from the last seq (fetch_run,
	 * RUN_SPAN seqs at most): the partial index would cost a B-tree seek
	 * into the table per row. Where they are sparse among sent rows, the
	 * index finds them without reading the history. */
	int dense = 0;
	hashset_clear(&r->blocked);
	r->st->passes++;
	/* Several batches share one read transaction (up to READ_TXN_MS): a
	 * new one after the writer committed makes SQLite drop this
	 * connection's whole page cache and read every page again. */
	int64_t read_since = 0, t_pass = timefmt_now_us();
	while (!*stop && !status) {
		char now[TIMEFMT_MICROS_LEN + 1];
		int64_t now_us = timefmt_now_us();
		rfc3339_format_us(now_us, now);
		if (read_since && now_us - read_since > READ_TXN_MS * 1000) {
			sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
			read_since = 0;
		}
		if (!read_since && sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK)
			read_since = now_us;
		sqlite3_stmt *st = dense ? r->fetch_run : r->fetch;
		sqlite3_bind_int64(st, 1, after);
		sqlite3_bind_int(st, 2, (int)r->o->batch);
		if (!r->o->ordering)
			sqlite3_bind_text(st, 3, now, TIMEFMT_MICROS_LEN, SQLITE_TRANSIENT);
		if (dense)
			sqlite3_bind_int64(st, 4, after < INT64_MAX - RUN_SPAN(r) ? after + RUN_SPAN(r) : INT64_MAX);
		int64_t first = 0;
		int rows = 0, rc;
		int broken = 0;
		int64_t batch_start = timefmt_now_us();
		while (!status && !broken && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			rows++;
			after = sqlite3_column_int64(st, 0);
			if (rows == 1)
				first = after;
			status = handle_row(r, st, now, stop, err);
			/* A producer that must be replaced takes no more rows; one
			 * the broker refuses ends the run. */
			if (!status && (broken = r->sink->ops->broken(r->sink, err)) > 0)
				status = broken;
		}
		if (broken) {
			sqlite3_reset(st);
			break;
		}
		if (!status && rc != SQLITE_DONE)
			status = db_fail(r, rc, "reading pending rows", err);
		sqlite3_reset(st);
		if (status)
			break;
		if (!rows) {
			if (!dense)
				break;
			/* Nothing in the stretch: the index finds the next. */
			dense = 0;
			continue;
		}
		dense = after - first < 2 * (int64_t)rows;
		r->sink->ops->poll(r->sink, 0);
		hand_over(r);
		/* Never run far ahead of the writer: memory stays flat. */
		relay_writer_wait_below(r->writer, WRITER_BACKLOG_MAX);
		if (r->metrics) {
			relay_metrics_batch(r->metrics, (double)(timefmt_now_us() - batch_start) / 1e6);
			write_metrics(r, 5000);
		}
	}
	if (read_since)
		sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
	int64_t t_read = timefmt_now_us();
	drain(r, stop);
	hand_over(r);
	int64_t t_drain = timefmt_now_us();
	/* Every outcome recorded before the next pass reads the table. */
	errinfo e;
	int ws = relay_writer_sync(r->writer, r->o->once, stop, &e);
	if (ws) {
		r->write_failed = 1;
		if (!status) {
			*err = e;
			status = ws;
		} else {
			diag_errinfo(&e);
		}
	}
	unsigned long sent, resched, dead;
	relay_writer_counts(r->writer, &sent, &resched, &dead);
	if (resched > r->st->rescheduled)
		r->have_rescheduled = 1;
	if (dead > r->st->dead)
		r->have_dead = 1;
	r->st->sent = sent;
	r->st->rescheduled = resched;
	r->st->dead = dead;
	diag_debug("pass %u: read and handed over in %.3f s, last reports %.3f s, recorded %.3f s",
		   r->st->passes, (double)(t_read - t_pass) / 1e6, (double)(t_drain - t_read) / 1e6,
		   (double)(timefmt_now_us() - t_drain) / 1e6);
	if (r->metrics)
		write_metrics(r, r->o->once ? 0 : 1000);
	return status;
}

/* Microseconds until the earliest retry is due, or -1 when none waits. */
static int64_t until_next_due(struct relay *r)
{
	int64_t wait = -1;
	if (sqlite3_step(r->next_due) == SQLITE_ROW && sqlite3_column_type(r->next_due, 0) != SQLITE_NULL) {
		int64_t at;
		const char *t = (const char *)sqlite3_column_text(r->next_due, 0);
		if (rfc3339_parse_us(t, strlen(t), &at) == 0) {
			wait = at - timefmt_now_us();
			if (wait < 0)
				wait = 0;
		}
	}
	sqlite3_reset(r->next_due);
	return wait;
}

/* Run mode: sleep until the database changes, a retry is due, the
 * interval passes, or a signal comes. */
static void idle(struct relay *r, dbwatch *w, volatile sig_atomic_t *stop)
{
	int64_t wait_us = (int64_t)r->o->interval_ms * 1000;
	int64_t due = until_next_due(r);
	if (due >= 0 && due < wait_us)
		wait_us = due + 1000;
	int64_t until = timefmt_now_us() + wait_us;
	while (!*stop) {
		int64_t left = until - timefmt_now_us();
		if (left <= 0)
			return;
		/* Short slices bound how late a signal that lands just before
		 * poll() is seen. */
		int ms = left > 200000 ? 200 : (int)((left + 999) / 1000);
		struct pollfd p = { dbwatch_fd(w), POLLIN, 0 };
		int n = poll(&p, p.fd >= 0 ? 1 : 0, ms);
		if (n > 0 && dbwatch_drain(w))
			return;
	}
}

static int open_store(struct relay *r, errinfo *err)
{
	struct stat sb;
	if (stat(r->o->db, &sb) != 0) {
		int e = errno;
		return errinfo_set(err, exitcode_for_open(e), "%s: %s", r->o->db, strerror(e));
	}
	outbox_options opt = { 0 }; /* no_create: never a new file or table */
	opt.table = r->o->table;
	opt.busy_ms = r->o->busy_ms;
	opt.no_create = 1;
	r->ob = outbox_open(r->o->db, &opt, err);
	if (!r->ob)
		return err->code ? err->code : EXIT_SOFTWARE;
	r->db = outbox_db(r->ob);
	snprintf(r->qtable, sizeof r->qtable, "\"%s\"", r->o->table ? r->o->table : OUTBOX_DEFAULT_TABLE);
	int rc = sqlite3_exec(r->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return db_fail(r, rc, "setting synchronous", err);
	return prepare_all(r, err);
}

static int open_sink(struct relay *r, errinfo *err)
{
	switch (r->o->sink) {
	case RELAY_SINK_KAFKA:
		r->sink = relay_kafka_open(r->o->kc, on_done, r, err);
		break;
	case RELAY_SINK_STDOUT:
		r->sink = relay_stdout_open(r->o->out, on_done, r, err);
		break;
	case RELAY_SINK_HTTP:
		r->sink = relay_http_open(r->o->url, r->o->http_timeout_ms, on_done, r, err);
		break;
	}
	return r->sink ? 0 : err->code ? err->code : EXIT_SOFTWARE;
}

static void close_relay(struct relay *r)
{
	if (r->sink)
		r->sink->ops->close(r->sink);
	sqlite3_finalize(r->fetch);
	sqlite3_finalize(r->fetch_run);
	relay_writer_close(r->writer);
	relay_metrics_free(r->metrics);
	sqlite3_finalize(r->next_due);
	outbox_close(r->ob);
	for (size_t i = 0; i < r->n_out; i++)
		free(r->out[i].error);
	free(r->out);
	free(r->slots);
	free(r->blocked.cell);
	free(r->warned.cell);
	buf_free(&r->scratch);
	buf_free(&r->keybuf);
}

static int final_status(const struct relay *r, int status)
{
	if (status)
		return status;
	if (r->have_unbound)
		return EXIT_CONFIG;
	if (r->metrics_failed)
		return r->metrics_failed;
	if (r->have_rescheduled || r->have_blocked || r->write_failed ||
	    r->st->untouched > r->untouched_seen)
		return EXIT_TEMPFAIL;
	if (r->have_dead)
		return EXIT_DATAERR;
	return 0;
}

int relay_run(const relay_options *o, volatile sig_atomic_t *stop, relay_stats *st, errinfo *err)
{
	struct relay r;
	memset(&r, 0, sizeof r);
	memset(st, 0, sizeof *st);
	errinfo_clear(err);
	r.o = o;
	r.st = st;
	buf_init(&r.scratch, 2 * (size_t)MAX_EVENT_BYTES + 4096);
	buf_init(&r.keybuf, MAX_EVENT_BYTES);
	size_t nslots = o->max_inflight ? o->max_inflight : RELAY_DEFAULT_INFLIGHT;
	r.slots = calloc(nslots, sizeof *r.slots);
	if (!r.slots) {
		close_relay(&r);
		return errinfo_set(err, EXIT_SOFTWARE, "out of memory");
	}
	for (size_t i = nslots; i-- > 0;) {
		r.slots[i].next_free = r.free_slots;
		r.free_slots = &r.slots[i];
	}
	int status = open_store(&r, err);
	if (!status) {
		r.writer = relay_writer_open(o, r.qtable, err);
		if (!r.writer)
			status = err->code ? err->code : EXIT_SOFTWARE;
	}
	if (!status && o->metrics_file) {
		r.metrics = relay_metrics_new(o->metrics_file, o->table ? o->table : OUTBOX_DEFAULT_TABLE, err);
		if (!r.metrics)
			status = err->code ? err->code : EXIT_SOFTWARE;
	}
	if (!status)
		status = open_sink(&r, err);
	if (!status && o->once) {
		status = r.sink->ops->reachable(r.sink, o->connect_timeout_ms, err);
	} else if (!status) {
		errinfo e;
		int rc = r.sink->ops->reachable(r.sink, o->connect_timeout_ms, &e);
		/* Unreachable is worth waiting for; refused credentials or a
		 * bad configuration are not. */
		if (rc == EXIT_NOPERM || rc == EXIT_CONFIG) {
			*err = e;
			status = rc;
		} else if (rc) {
			diag_warn("%s (will keep trying)", e.text);
		}
	}
	dbwatch w = { -1, "", "" };
	if (!status && !o->once) {
		errinfo e;
		if (dbwatch_open(&w, o->db, &e) != 0)
			diag_warn("%s: polling every %llu ms instead", e.text,
				  (unsigned long long)o->interval_ms);
	}
	unsigned reopened = 0;
	while (!status) {
		status = pass(&r, stop, err);
		if (status || *stop || r.sink_failed)
			break;
		int b = r.sink->ops->broken(r.sink, err);
		if (b > 0) {
			status = b;
			break;
		}
		/* A producer gone fatal is replaced; --once too goes on with
		 * what is still due (a few times at most). */
		if (b == RELAY_SINK_REOPEN && (!o->once || reopened < 3)) {
			reopened++;
			/* What the old producer left untouched goes out in the next pass. */
			r.untouched_seen = st->untouched;
			r.sink->ops->close(r.sink);
			r.sink = NULL;
			status = open_sink(&r, err);
			continue;
		}
		if (o->once)
			break;
		idle(&r, &w, stop);
		if (*stop)
			break;
		/* A long-running daemon reports each pass's troubles afresh. */
		r.have_blocked = r.have_rescheduled = r.have_dead = r.have_unbound = 0;
		r.write_failed = 0;
		r.untouched_seen = st->untouched;
	}
	dbwatch_close(&w);
	if (!status && r.metrics_failed && o->once)
		*err = r.metrics_err;
	status = final_status(&r, status);
	close_relay(&r);
	/* Rows a replaced producer left untouched were read again by a later
	 * pass and counted there: only the last pass's are left pending. */
	st->untouched -= r.untouched_seen;
	return status;
}
