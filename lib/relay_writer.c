/* relay_writer.c - see relay_writer.h. */
#include "relay_writer.h"
#include "exitcode.h"
#include "outbox.h"
#include "backoff.h"
#include "sqlerr.h"
#include "timefmt.h"
#include "walbuf.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ERROR_TEXT_MAX 400
#define LINGER_ROWS 4096
#define LINGER_MS 20
/* Marks per write transaction: some 20 to 50 ms of holding the write lock
 * that the application's writers wait for (the queue can hand over 40,000
 * marks at once). */
#define TXN_MARKS 4096
/* WAL size (frames) past which a commit asks for a checkpoint: SQLite's
 * own wal_autocheckpoint default, so the WAL stays as small as before. */
#define CHECKPOINT_FRAMES 1000

struct relay_writer {
	const relay_options *o;
	sqlite3 *db;
	sqlite3_stmt *mark_sent, *mark_retry, *mark_dead;
	sqlite3_stmt *mark_sent_range; /* see write_sent_ranges */
	/* The sent marks of the transaction being written, sorted by seq,
	 * for the SQL functions of write_sent_ranges; last: a lookup cache. */
	relay_mark **sent_marks;
	size_t n_sent, cap_sent, last;
	/* The same marks by seq - dlo when their seqs are dense enough
	 * (dspan > 0): sorting without a sort, and an O(1) lookup. */
	relay_mark **direct;
	size_t cap_direct, dspan;
	int64_t dlo;
	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t work;  /* marks queued, or quit */
	pthread_cond_t idle;  /* the queue was written, or a write failed */
	/* The checkpointer: its own thread and connection (see on_wal). */
	sqlite3 *ck_db;
	pthread_t ck_thread;
	int ck_started;
	pthread_cond_t ck_work; /* ck_wanted or quit changed */
	int ck_wanted;
	relay_mark *queue;    /* marks waiting, in arrival order */
	size_t n, cap;
	relay_mark *taken;    /* the batch the thread is writing */
	size_t n_taken, cap_taken;
	int writing;          /* the thread holds a batch */
	int quit;
	int syncing;          /* relay_writer_sync() waits: no lingering */
	int failed;           /* the last transaction failed */
	unsigned long failures; /* transactions failed so far */
	errinfo err;          /* its reason */
	unsigned long sent, rescheduled, dead;
};

static int fail(relay_writer *w, int rc, const char *what, errinfo *err)
{
	return sqlerr_fail(w->db, rc, w->o->db, what, err);
}


static int gives_up(const relay_writer *w, const relay_mark *m)
{
	return m->kind == RELAY_OUT_DEAD ||
	       (m->kind == RELAY_OUT_RETRY && m->attempts + 1 >= w->o->max_attempts);
}

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int bind_mark(relay_writer *w, const relay_mark *m, const char *now, int64_t now_us,
		     sqlite3_stmt **out)
{
	sqlite3_stmt *st;
	if (m->kind == RELAY_OUT_SENT) {
		st = w->mark_sent;
		sqlite3_bind_text(st, 1, now, TIMEFMT_MICROS_LEN, SQLITE_STATIC);
		/* Every parameter every time: no stale value from the last row. */
		if (m->topic)
			sqlite3_bind_text(st, 2, m->topic, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 2);
		if (m->partition >= 0)
			sqlite3_bind_int(st, 3, m->partition);
		else
			sqlite3_bind_null(st, 3);
		if (m->offset >= 0)
			sqlite3_bind_int64(st, 4, m->offset);
		else
			sqlite3_bind_null(st, 4);
		sqlite3_bind_int64(st, 5, m->seq);
	} else if (!gives_up(w, m)) {
		char when[TIMEFMT_MICROS_LEN + 1];
		uint64_t delay = backoff_delay_ms(w->o->backoff_min_ms, w->o->backoff_max_ms, m->attempts + 1);
		rfc3339_format_us(now_us + (int64_t)delay * 1000, when);
		st = w->mark_retry;
		sqlite3_bind_text(st, 1, m->error ? m->error : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, when, TIMEFMT_MICROS_LEN, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 3, m->seq);
	} else {
		char reason[ERROR_TEXT_MAX + 64];
		if (m->kind == RELAY_OUT_RETRY)
			snprintf(reason, sizeof reason, "gave up after %u attempts: %s", m->attempts + 1,
				 m->error ? m->error : "");
		else
			snprintf(reason, sizeof reason, "%s", m->error ? m->error : "");
		st = w->mark_dead;
		sqlite3_bind_text(st, 1, reason, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, m->seq);
	}
	*out = st;
	return 0;
}

/* Marking sent rows in ranges. One UPDATE per row costs SQLite about
 * twice what the row rewrite itself costs (statement setup, a B-tree seek,
 * a statement journal), counted with callgrind in a throwaway loop over
 * 50,000 rows: 17,300 instructions a row against 9,400 this way. So sent marks are written by one UPDATE per
 * run of nearby seqs, scanning the rowid range, with the per-row values
 * (whether the row was sent, its topic, partition and offset) coming from
 * SQL functions that look the row up among this transaction's marks. The
 * functions exist only on the writer's own connection. */
#define RANGE_GAP 64 /* a larger hole in seq starts a new range */
/* A range spans at most this many seqs: its statement journal (kept in
 * memory, see relay_writer_open) holds the old contents of the pages it
 * changes, about one page per 6 rows of 600 bytes: a few hundred KiB. */
#define RANGE_SPAN_MAX 2048

static const relay_mark *sent_lookup(relay_writer *w, sqlite3_int64 seq)
{
	if (w->dspan)
		return seq >= w->dlo && (uint64_t)(seq - w->dlo) < w->dspan ? w->direct[seq - w->dlo]
									      : NULL;
	if (w->last < w->n_sent && w->sent_marks[w->last]->seq == seq)
		return w->sent_marks[w->last];
	size_t lo = 0, hi = w->n_sent;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (w->sent_marks[mid]->seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < w->n_sent && w->sent_marks[lo]->seq == seq) {
		w->last = lo;
		return w->sent_marks[lo];
	}
	return NULL;
}

/* outbox_relay_sent(seq, what): what 0 = 1 when seq was sent in this
 * transaction, else 0; 1 = its topic; 2 = its partition; 3 = its offset
 * (NULL when unknown). */
static void fn_sent(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	relay_writer *w = sqlite3_user_data(ctx);
	(void)argc;
	const relay_mark *m = sent_lookup(w, sqlite3_value_int64(argv[0]));
	int what = sqlite3_value_int(argv[1]);
	if (what == 0)
		sqlite3_result_int(ctx, m != NULL);
	else if (!m)
		sqlite3_result_null(ctx);
	else if (what == 1 && m->topic)
		sqlite3_result_text(ctx, m->topic, -1, SQLITE_STATIC);
	else if (what == 2 && m->partition >= 0)
		sqlite3_result_int(ctx, m->partition);
	else if (what == 3 && m->offset >= 0)
		sqlite3_result_int64(ctx, m->offset);
	else
		sqlite3_result_null(ctx);
}

static int by_seq(const void *a, const void *b)
{
	const relay_mark *x = *(const relay_mark *const *)a, *y = *(const relay_mark *const *)b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The CLOCK_REALTIME moment ms from now, for pthread_cond_timedwait. */
static struct timespec deadline_in(long ms)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_nsec += ms * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec += t.tv_nsec / 1000000000L;
		t.tv_nsec %= 1000000000L;
	}
	return t;
}

/* Put sent_marks in seq order. Delivery reports come nearly in seq order
 * (each partition's in order, partitions interleaved), so the seqs of a
 * transaction are dense: placed by seq - lo into a table as long as that
 * is at most a few times their number, else sorted. A seq appears at most
 * once (a row is in flight once). */
static int order_by_seq(relay_writer *w)
{
	int64_t lo = w->sent_marks[0]->seq, hi = lo;
	for (size_t i = 1; i < w->n_sent; i++) {
		int64_t q = w->sent_marks[i]->seq;
		lo = q < lo ? q : lo;
		hi = q > hi ? q : hi;
	}
	uint64_t span = (uint64_t)(hi - lo) + 1;
	if (span > 4 * (uint64_t)w->n_sent + 1024) {
		qsort(w->sent_marks, w->n_sent, sizeof *w->sent_marks, by_seq);
		return 0;
	}
	if (span > w->cap_direct) {
		relay_mark **p = realloc(w->direct, span * sizeof *p);
		if (!p)
			return -1;
		w->direct = p;
		w->cap_direct = span;
	}
	memset(w->direct, 0, span * sizeof *w->direct);
	for (size_t i = 0; i < w->n_sent; i++)
		w->direct[w->sent_marks[i]->seq - lo] = w->sent_marks[i];
	size_t n = 0;
	for (uint64_t k = 0; k < span; k++)
		if (w->direct[k])
			w->sent_marks[n++] = w->direct[k];
	w->n_sent = n;
	w->dlo = lo;
	w->dspan = span;
	return 0;
}

static int begin(relay_writer *w)
{
	return sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
}

/* Commit, then flag what the transaction wrote: the retry and dead marks
 * (all in the first transaction) and sent_marks[*from, to). */
static int commit(relay_writer *w, relay_mark *v, size_t n, size_t *from, size_t to)
{
	int rc = sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return rc;
	if (*from == 0)
		for (size_t i = 0; i < n; i++)
			if (v[i].kind != RELAY_OUT_SENT)
				v[i].written = 1;
	for (size_t i = *from; i < to; i++)
		w->sent_marks[i]->written = 1;
	*from = to;
	return SQLITE_OK;
}

/* Write the marks in transactions of about TXN_MARKS, the sent ones in seq
 * order, so that each transaction rewrites its own stretch of the table:
 * in arrival order (partitions interleaved) consecutive transactions
 * share leaf pages and each writes them again (twice the WAL frames,
 * strace: 119,000-137,000 pwrites for 200,000 rows against 215,000-283,000
 * with the same cap in arrival order). The retry and dead marks (rare) go
 * into the first transaction. A failure rolls back the open transaction;
 * what earlier ones wrote stays written, flagged. */
static int write_marks(relay_writer *w, relay_mark *v, size_t n, const char *now, int64_t now_us)
{
	w->n_sent = 0;
	w->dspan = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].kind != RELAY_OUT_SENT)
			continue;
		if (w->n_sent == w->cap_sent) {
			size_t cap = w->cap_sent ? w->cap_sent * 2 : 1024;
			relay_mark **p = realloc(w->sent_marks, cap * sizeof *p);
			if (!p)
				return SQLITE_NOMEM;
			w->sent_marks = p;
			w->cap_sent = cap;
		}
		w->sent_marks[w->n_sent++] = &v[i];
	}
	if (w->n_sent && order_by_seq(w) != 0)
		return SQLITE_NOMEM;
	w->last = 0;
	int rc = begin(w);
	size_t in_txn = 0, from = 0;
	for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
		if (v[i].kind == RELAY_OUT_SENT)
			continue; /* written by the ranges below */
		sqlite3_stmt *st;
		bind_mark(w, &v[i], now, now_us, &st);
		rc = step_done(st);
		in_txn++;
	}
	for (size_t i = 0; i < w->n_sent && rc == SQLITE_OK;) {
		if (in_txn >= TXN_MARKS) {
			rc = commit(w, v, n, &from, i);
			if (rc == SQLITE_OK)
				rc = begin(w);
			in_txn = 0;
			if (rc != SQLITE_OK)
				break;
		}
		size_t j = i;
		while (j + 1 < w->n_sent && w->sent_marks[j + 1]->seq - w->sent_marks[j]->seq <= RANGE_GAP &&
		       w->sent_marks[j + 1]->seq - w->sent_marks[i]->seq < RANGE_SPAN_MAX)
			j++;
		sqlite3_stmt *st = w->mark_sent_range;
		sqlite3_bind_text(st, 1, now, TIMEFMT_MICROS_LEN, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, w->sent_marks[i]->seq);
		sqlite3_bind_int64(st, 3, w->sent_marks[j]->seq);
		rc = step_done(st);
		in_txn += j - i + 1;
		i = j + 1;
	}
	if (rc == SQLITE_OK)
		rc = commit(w, v, n, &from, w->n_sent);
	return rc;
}

/* Record a batch: 0 when every mark is written; else the status with err
 * set, the marks written so far flagged. */
static int write_batch(relay_writer *w, relay_mark *v, size_t n, errinfo *err)
{
	char now[TIMEFMT_MICROS_LEN + 1];
	int64_t now_us = timefmt_now_us();
	rfc3339_format_us(now_us, now);
	int rc = write_marks(w, v, n, now, now_us);
	if (rc != SQLITE_OK) {
		int status = fail(w, rc, "recording outcomes", err);
		if (!sqlite3_get_autocommit(w->db))
			sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
		return status;
	}
	return 0;
}

static void report_and_free(relay_writer *w, relay_mark *v, size_t n, unsigned long *sent,
			    unsigned long *resched, unsigned long *dead)
{
	for (size_t i = 0; i < n; i++) {
		relay_mark *m = &v[i];
		if (!m->written)
			continue;
		if (m->kind == RELAY_OUT_SENT) {
			(*sent)++;
		} else if (gives_up(w, m)) {
			(*dead)++;
			diag_warn("%s: seq %lld is dead: %s%s", w->o->db, (long long)m->seq,
				  m->kind == RELAY_OUT_RETRY ? "gave up: " : "", m->error ? m->error : "");
		} else {
			(*resched)++;
			diag_debug("seq %lld rescheduled: %s", (long long)m->seq, m->error ? m->error : "");
		}
		free(m->error);
		m->error = NULL;
	}
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Checkpoints. SQLite's automatic checkpoint runs inside the COMMIT that
 * pushed the WAL past its limit, on the committing connection: here the
 * writer thread, which is what bounds the relay. A checkpoint copies the
 * WAL's pages into the database file and fsyncs both, and an fsync also
 * waits for whatever else of the file is still dirty in the page cache (a
 * copied database: 0.22-0.27 s against 0.007 s for the same 10,000 rows in
 * a small file, strace -T). So the writer's connection only asks
 * (sqlite3_wal_hook replaces the automatic checkpoint) and a second thread
 * on a third connection checkpoints PASSIVE: it never waits for or blocks
 * the writer, the reader or the application's connections, and copies
 * what no reader still needs. It cannot reset the WAL while the relay's
 * reader always holds a snapshot, so during a long pass the WAL file
 * grows (some 250 MB for 300,000 rows) and is reused or removed after;
 * making the reader step aside for a RESTART checkpoint kept it at
 * 46 MB but cost more in pauses than the shorter writes saved (wall
 * 1.52-1.74 s against 1.30-1.58 s, same runs). */
static int on_wal(void *ctx, sqlite3 *db, const char *name, int frames)
{
	relay_writer *w = ctx;
	(void)db;
	(void)name;
	if (frames >= CHECKPOINT_FRAMES && w->ck_started) {
		pthread_mutex_lock(&w->mu);
		w->ck_wanted = 1;
		pthread_cond_signal(&w->ck_work);
		pthread_mutex_unlock(&w->mu);
	}
	return SQLITE_OK;
}

static void *checkpointer_main(void *arg)
{
	relay_writer *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->ck_wanted && !w->quit)
			pthread_cond_wait(&w->ck_work, &w->mu);
		if (w->quit)
			break;
		w->ck_wanted = 0;
		pthread_mutex_unlock(&w->mu);
		/* SQLITE_BUSY (another connection checkpoints) or an I/O error
		 * leaves the frames in the WAL, where readers find them: the
		 * next commit asks again, and the last connection to close
		 * checkpoints anyway. */
		int rc = sqlite3_wal_checkpoint_v2(w->ck_db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY)
			diag_debug("%s: checkpoint: %s", w->o->db, sqlite3_errmsg(w->ck_db));
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Open the checkpointer's connection and start its thread; the writer's
 * connection then stops checkpointing itself. On failure the writer keeps
 * SQLite's automatic checkpoint: slower, still correct. */
static void checkpointer_start(relay_writer *w)
{
	if (sqlite3_open_v2(w->o->db, &w->ck_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
		    SQLITE_OK ||
	    /* A read opens the WAL: a connection that never read cannot
	     * checkpoint it. */
	    sqlite3_exec(w->ck_db, "PRAGMA schema_version", NULL, NULL, NULL) != SQLITE_OK ||
	    pthread_create(&w->ck_thread, NULL, checkpointer_main, w) != 0) {
		diag_debug("%s: no checkpointer thread: %s", w->o->db,
			   w->ck_db ? sqlite3_errmsg(w->ck_db) : "out of memory");
		sqlite3_close(w->ck_db);
		w->ck_db = NULL;
		return;
	}
	w->ck_started = 1;
	sqlite3_wal_hook(w->db, on_wal, w);
}

static void *writer_main(void *arg)
{
	relay_writer *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->n && !w->quit)
			pthread_cond_wait(&w->work, &w->mu);
		if (!w->n)
			break; /* quit with nothing left */
		/* Linger a little for more: every transaction rewrites the pages
		 * it touches, and consecutive rows share pages, so a few large
		 * transactions write far less than many small ones. Not while
		 * someone waits for the queue to be written. */
		if (w->n < LINGER_ROWS && !w->quit && !w->syncing) {
			struct timespec until = deadline_in(LINGER_MS);
			while (w->n < LINGER_ROWS && !w->quit && !w->syncing &&
			       pthread_cond_timedwait(&w->work, &w->mu, &until) == 0)
				;
		}
		/* Take the whole queue: the main thread fills a fresh one. */
		relay_mark *v = w->queue;
		size_t n = w->n, cap = w->cap;
		w->queue = w->taken;
		w->cap = w->cap_taken;
		w->n = 0;
		w->taken = v;
		w->cap_taken = cap;
		w->n_taken = n;
		w->writing = 1;
		pthread_mutex_unlock(&w->mu);

		errinfo err;
		int status = write_batch(w, v, n, &err);
		unsigned long s = 0, r = 0, d = 0;
		report_and_free(w, v, n, &s, &r, &d);
		if (status) {
			/* What was written is reported; the rest goes back. */
			size_t k = 0;
			for (size_t i = 0; i < n; i++)
				if (!v[i].written)
					v[k++] = v[i];
			n = k;
		}

		pthread_mutex_lock(&w->mu);
		w->writing = 0;
		w->sent += s;
		w->rescheduled += r;
		w->dead += d;
		if (status) {
			/* Put the batch back in front of anything queued since. */
			if (w->n) {
				relay_mark *merged = malloc((n + w->n) * sizeof *merged);
				if (merged) {
					memcpy(merged, v, n * sizeof *v);
					memcpy(merged + n, w->queue, w->n * sizeof *v);
					free(w->queue);
					w->queue = merged;
					w->cap = n + w->n;
					w->n += n;
				} else {
					status = errinfo_set(&err, EXIT_SOFTWARE, "out of memory");
					for (size_t i = 0; i < n; i++)
						free(v[i].error);
				}
			} else {
				relay_mark *q = w->queue;
				size_t qcap = w->cap;
				w->queue = v;
				w->cap = cap;
				w->n = n;
				w->taken = q;
				w->cap_taken = qcap;
			}
			w->n_taken = 0;
			w->failed = 1;
			w->failures++;
			w->err = err;
			pthread_cond_broadcast(&w->idle);
			if (w->quit)
				break;
			pthread_mutex_unlock(&w->mu);
			sleep_ms(RELAY_WRITER_RETRY_MS);
			pthread_mutex_lock(&w->mu);
			continue;
		}
		w->n_taken = 0;
		w->failed = 0;
		pthread_cond_broadcast(&w->idle);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static int prepare(relay_writer *w, sqlite3_stmt **st, const char *fmt, const char *qtable,
		   errinfo *err)
{
	char sql[1024];
	int n = snprintf(sql, sizeof sql, fmt, qtable);
	if (n < 0 || (size_t)n >= sizeof sql)
		return errinfo_set(err, EXIT_SOFTWARE, "statement too long");
	int rc = sqlite3_prepare_v3(w->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
	return rc == SQLITE_OK ? 0 : fail(w, rc, "preparing", err);
}

relay_writer *relay_writer_open(const relay_options *o, const char *qtable, errinfo *err)
{
	relay_writer *w = calloc(1, sizeof *w);
	if (!w) {
		errinfo_set(err, EXIT_SOFTWARE, "out of memory");
		return NULL;
	}
	w->o = o;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->idle, NULL);
	pthread_cond_init(&w->ck_work, NULL);
	/* Its WAL frames go out in large writes (walbuf.h); NULL, the
	 * default VFS, if that one could not be registered. */
	int rc = sqlite3_open_v2(o->db, &w->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
				 walbuf_vfs());
	int status = rc == SQLITE_OK ? 0 : fail(w, rc, "opening", err);
	unsigned busy = o->busy_ms == OUTBOX_NO_WAIT ? 0 : o->busy_ms ? o->busy_ms : OUTBOX_DEFAULT_BUSY_MS;
	if (!status && sqlite3_busy_timeout(w->db, (int)busy) != SQLITE_OK)
		status = fail(w, SQLITE_ERROR, "setting the busy timeout", err);
	/* A lost sent mark means a duplicate, never a loss: no fsync per
	 * transaction (outbox-relay(1), DELIVERY). */
	if (!status && (rc = sqlite3_exec(w->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL)) !=
			       SQLITE_OK)
		status = fail(w, rc, "setting synchronous", err);
	/* A transaction of TXN_MARKS rows dirties some 700 table pages plus
	 * the pending index's, about 3 MB: past SQLite's default 2 MB cache
	 * it spills pages into the WAL before the commit and reads them back
	 * (strace, 300,000 rows: 7,963 WAL reads and 107,199 writes; with
	 * 8 MB, 2 and 103,477; structured-mode CPU 1.9-2.2 s against 2.2-2.8 s). */
	if (!status && (rc = sqlite3_exec(w->db, "PRAGMA cache_size = -8192", NULL, NULL, NULL)) !=
			       SQLITE_OK)
		status = fail(w, rc, "setting cache_size", err);
	/* The range UPDATE below changes many rows in a transaction under
	 * CHECK and NOT NULL constraints, so SQLite keeps a statement journal
	 * (the pages' old contents, to undo just that statement). Past 64 KiB
	 * it goes to a temporary file: one 4 KiB write per page touched, as
	 * many writes as the WAL itself gets. In memory it is a copy;
	 * write_sent_ranges bounds its size. The connection is the writer's
	 * own, used for nothing else. */
	if (!status && (rc = sqlite3_exec(w->db, "PRAGMA temp_store = MEMORY", NULL, NULL, NULL)) !=
			       SQLITE_OK)
		status = fail(w, rc, "setting temp_store", err);
	if (!status)
		status = prepare(w, &w->mark_sent,
				 "UPDATE %s SET status = 'sent', attempts = attempts + 1, sent_at = ?1, "
				 "topic = ?2, kafka_partition = ?3, kafka_offset = ?4, last_error = NULL, "
				 "next_attempt_at = NULL WHERE seq = ?5 AND status = 'pending'",
				 qtable, err);
	if (!status && sqlite3_create_function_v2(w->db, "outbox_relay_sent", 2, SQLITE_UTF8, w,
						  fn_sent, NULL, NULL, NULL) != SQLITE_OK)
		status = fail(w, SQLITE_ERROR, "registering a function", err);
	/* NOT INDEXED: a rowid range scan, not the partial index on pending
	 * rows that this very statement changes. */
	if (!status)
		status = prepare(w, &w->mark_sent_range,
				 "UPDATE %s NOT INDEXED SET status = 'sent', attempts = attempts + 1, "
				 "sent_at = ?1, topic = outbox_relay_sent(seq, 1), "
				 "kafka_partition = outbox_relay_sent(seq, 2), "
				 "kafka_offset = outbox_relay_sent(seq, 3), last_error = NULL, "
				 "next_attempt_at = NULL WHERE seq BETWEEN ?2 AND ?3 "
				 "AND status = 'pending' AND outbox_relay_sent(seq, 0)",
				 qtable, err);
	if (!status)
		status = prepare(w, &w->mark_retry,
				 "UPDATE %s SET attempts = attempts + 1, last_error = ?1, "
				 "next_attempt_at = ?2 WHERE seq = ?3 AND status = 'pending'",
				 qtable, err);
	if (!status)
		status = prepare(w, &w->mark_dead,
				 "UPDATE %s SET status = 'dead', attempts = attempts + 1, last_error = ?1, "
				 "next_attempt_at = NULL WHERE seq = ?2 AND status = 'pending'",
				 qtable, err);
	if (!status)
		checkpointer_start(w);
	if (!status) {
		if (pthread_create(&w->thread, NULL, writer_main, w) != 0)
			status = errinfo_set(err, EXIT_SOFTWARE, "cannot start the writer thread");
		else
			w->started = 1;
	}
	if (status) {
		relay_writer_close(w);
		return NULL;
	}
	return w;
}

int relay_writer_put(relay_writer *w, relay_mark *v, size_t n)
{
	if (!n)
		return 0;
	pthread_mutex_lock(&w->mu);
	if (w->n + n > w->cap) {
		size_t cap = w->cap ? w->cap : 1024;
		while (cap < w->n + n)
			cap *= 2;
		relay_mark *q = realloc(w->queue, cap * sizeof *q);
		if (!q) {
			pthread_mutex_unlock(&w->mu);
			return -1;
		}
		w->queue = q;
		w->cap = cap;
	}
	memcpy(w->queue + w->n, v, n * sizeof *v);
	for (size_t i = 0; i < n; i++)
		w->queue[w->n + i].written = 0;
	w->n += n;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

void relay_writer_wait_below(relay_writer *w, size_t limit)
{
	pthread_mutex_lock(&w->mu);
	while (w->n > limit && !w->failed) {
		struct timespec until = deadline_in(50);
		pthread_cond_timedwait(&w->idle, &w->mu, &until);
	}
	pthread_mutex_unlock(&w->mu);
}

int relay_writer_sync(relay_writer *w, int give_up, volatile sig_atomic_t *stop, errinfo *err)
{
	int status = 0;
	pthread_mutex_lock(&w->mu);
	unsigned long seen = w->failures;
	w->syncing = 1;
	pthread_cond_signal(&w->work); /* end a linger */
	while (w->n || w->writing) {
		if (w->failures != seen || (w->failed && *stop)) {
			seen = w->failures;
			if (give_up || *stop) {
				*err = w->err;
				status = w->err.code ? w->err.code : EXIT_SOFTWARE;
				for (size_t i = 0; i < w->n; i++)
					free(w->queue[i].error);
				w->n = 0;
				break;
			}
			diag_warn("%s (will retry)", w->err.text);
		}
		/* Timed, so a signal that arrives while we wait is seen. */
		struct timespec until = deadline_in(200);
		pthread_cond_timedwait(&w->idle, &w->mu, &until);
	}
	w->syncing = 0;
	pthread_mutex_unlock(&w->mu);
	return status;
}

void relay_writer_counts(relay_writer *w, unsigned long *sent, unsigned long *rescheduled,
			 unsigned long *dead)
{
	pthread_mutex_lock(&w->mu);
	*sent = w->sent;
	*rescheduled = w->rescheduled;
	*dead = w->dead;
	pthread_mutex_unlock(&w->mu);
}

void relay_writer_close(relay_writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->quit = 1;
	pthread_cond_signal(&w->work);
	pthread_cond_signal(&w->ck_work);
	pthread_mutex_unlock(&w->mu);
	if (w->started)
		pthread_join(w->thread, NULL);
	if (w->ck_started) {
		/* The writer's last commits may have asked for it: no matter,
		 * the last connection to close checkpoints. */
		pthread_join(w->ck_thread, NULL);
		w->ck_started = 0;
	}
	sqlite3_close(w->ck_db);
	for (size_t i = 0; i < w->n; i++)
		free(w->queue[i].error);
	free(w->queue);
	free(w->taken);
	sqlite3_finalize(w->mark_sent);
	sqlite3_finalize(w->mark_sent_range);
	free(w->sent_marks);
	free(w->direct);
	sqlite3_finalize(w->mark_retry);
	sqlite3_finalize(w->mark_dead);
	sqlite3_close(w->db);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->idle);
	pthread_cond_destroy(&w->ck_work);
	free(w);
}
