/* dedupe.c - see dedupe.h. */
#include "dedupe.h"
#include "bloom.h"
#include "exitcode.h"
#include "filelock.h"
#include "fnv.h"
#include "sqlerr.h"
#include "timefmt.h"
#include "walbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct dedupe {
	sqlite3 *db;
	sqlite3_stmt *seen, *record, *expire;
	char *path;
	const dedupe_key **order; /* dedupe_record_many's insertion order */
	size_t cap_order;
	int in_txn;
	int in_read; /* lookups share one read transaction: see dedupe_release */
	/* dedupe_filter_start() */
	bloom filter;
	filelock users; /* shared: one per process using the store */
	enum { FILTER_OFF, FILTER_LEARNING, FILTER_ACTIVE } filter_state;
	unsigned long lookups;
};

#define FILTER_BITS_LOG2 25 /* 4 MiB */
#define FILTER_MAX_KEYS (1L << 22)
#define FILTER_MIN_LOOKUPS 8192
/* The byte every user of a store holds shared (filelock.h). */
#define FILTER_LOCK_NAME "event-consume --dedupe users"
/* Store bytes a key, for the size estimate: (id, source, handled_at)
 * rows of 60-80 bytes in pages 3/4 full or more. */
#define BYTES_PER_KEY 80

static int fail(dedupe *d, int rc, const char *what, errinfo *err)
{
	return sqlerr_fail(d->db, rc, d->path, what, err);
}

dedupe *dedupe_open(const char *path, unsigned busy_ms, errinfo *err)
{
	dedupe *d = calloc(1, sizeof *d);
	if (d)
		d->users.fd = -1;
	if (!d || !(d->path = strdup(path))) {
		free(d);
		errinfo_set(err, EXIT_SOFTWARE, "out of memory");
		return NULL;
	}
	/* Create the file ourselves so it is 0600 from the start. */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = errno;
		errinfo_set(err, e == EACCES || e == EPERM ? EXIT_NOPERM
				 : e == ENOENT || e == ENOTDIR || e == EROFS ? EXIT_CANTCREAT
									    : EXIT_IOERR,
			    "%s: %s", path, strerror(e));
		dedupe_close(d);
		return NULL;
	}
	close(fd);
	/* Its WAL frames go out in large writes (walbuf.h); NULL, the
	 * default VFS, if that one could not be registered. */
	int rc = sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
				 walbuf_vfs());
	int status = rc == SQLITE_OK ? 0 : fail(d, rc, "opening", err);
	if (!status && sqlite3_busy_timeout(d->db, busy_ms ? (int)busy_ms : 5000) != SQLITE_OK)
		status = fail(d, SQLITE_ERROR, "setting the busy timeout", err);
	if (!status && (rc = sqlite3_exec(d->db,
					  /* A new store's pages are 16 KiB: the writer
					   * inserts into fewer, fuller pages (its CPU
					   * for 1M keys 1.56-1.61 s with 4 KiB, 1.25-1.32
					   * s), and a lookup that misses the cache still
					   * reads only 16 KiB. An existing store keeps
					   * its size: SQLite sets it only on creation. */
					  "PRAGMA page_size = 16384;"
					  "PRAGMA journal_mode = WAL;"
					  "PRAGMA synchronous = NORMAL;"
					  /* id first: ids differ where sources are
					   * alike, so a key comparison ends at its
					   * first column. The handled_at index comes
					   * with the first dedupe_expire(). */
					  "CREATE TABLE IF NOT EXISTS handled ("
					  " source TEXT NOT NULL, id TEXT NOT NULL,"
					  " handled_at INTEGER NOT NULL,"
					  " PRIMARY KEY (id, source)) WITHOUT ROWID;",
					  NULL, NULL, NULL)) != SQLITE_OK)
		status = fail(d, rc, "creating the store", err);
	if (!status &&
	    (rc = sqlite3_prepare_v2(d->db, "SELECT 1 FROM handled WHERE source = ?1 AND id = ?2", -1,
				     &d->seen, NULL)) != SQLITE_OK)
		status = fail(d, rc, "preparing", err);
	if (!status && (rc = sqlite3_prepare_v2(d->db,
						"INSERT INTO handled (source, id, handled_at) "
						"VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
						-1, &d->record, NULL)) != SQLITE_OK)
		status = fail(d, rc, "preparing", err);
	if (status) {
		dedupe_close(d);
		return NULL;
	}
	return d;
}

/* Eight bytes a step, each folded in with a multiply; the length goes
 * into the last step, so ("ab","c") and ("a","bc") differ. */
static uint64_t hash_words(uint64_t h, const char *p, size_t n)
{
	const uint64_t k = 0x9e3779b97f4a7c15ull;
	for (; n >= 8; p += 8, n -= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ w) * k;
		h ^= h >> 29;
	}
	uint64_t w = 0;
	memcpy(&w, p, n);
	h = (h ^ w ^ (uint64_t)n << 56) * k;
	return h ^ h >> 29;
}

uint64_t dedupe_key_hash(const char *source, size_t sl, const char *id, size_t il)
{
	uint64_t h = hash_words(hash_words(FNV1A_START, source, sl) ^ sl, id, il) ^ il;
	/* a finalizer: the sets use the low bits */
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	return h ^ h >> 32;
}

int dedupe_filter_start(dedupe *d, errinfo *err)
{
	if (d->filter_state != FILTER_OFF)
		return 0;
	int s = filelock_share(&d->users, d->path, FILTER_LOCK_NAME, err);
	if (s)
		return s;
	if (bloom_init(&d->filter, FILTER_BITS_LOG2) != 0) {
		filelock_release(&d->users);
		return errinfo_set(err, EXIT_SOFTWARE, "out of memory");
	}
	d->filter_state = FILTER_LEARNING;
	return 0;
}

/* For good: the filter no longer knows every key. The shared hold stays,
 * so others still see that the store is shared. */
static void filter_off(dedupe *d, const char *why)
{
	if (d->filter_state == FILTER_OFF)
		return;
	diag_debug("%s: no in-memory filter: %s", d->path, why);
	bloom_free(&d->filter);
	d->filter_state = FILTER_OFF;
}

/* Every key of the store into the filter, in this connection's read
 * transaction: keys committed later by other processes are caught by the
 * next filelock_alone(), and this process's own went through
 * dedupe_seen() first. */
static void filter_fill(dedupe *d)
{
	if (!filelock_alone(&d->users)) {
		filter_off(d, "another process uses the store");
		return;
	}
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(d->db, "SELECT source, id FROM handled", -1, &st, NULL) != SQLITE_OK) {
		filter_off(d, sqlite3_errmsg(d->db));
		return;
	}
	long n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && ++n <= FILTER_MAX_KEYS) {
		const char *src = (const char *)sqlite3_column_text(st, 0);
		size_t sl = (size_t)sqlite3_column_bytes(st, 0);
		const char *id = (const char *)sqlite3_column_text(st, 1);
		size_t il = (size_t)sqlite3_column_bytes(st, 1);
		bloom_add(&d->filter, dedupe_key_hash(src ? src : "", sl, id ? id : "", il));
	}
	sqlite3_finalize(st);
	if (n > FILTER_MAX_KEYS)
		filter_off(d, "too many keys in the store");
	else if (rc != SQLITE_DONE)
		filter_off(d, sqlite3_errmsg(d->db));
	else {
		d->filter_state = FILTER_ACTIVE;
		diag_debug("%s: in-memory filter on, with the store's %ld keys", d->path, n);
	}
}

/* Learning: time to read the store in? Once the lookups made would have
 * cost about what the scan does (a scan reads a key for a fifth of a
 * lookup's cost, and a run that made L lookups is likely to make L more). */
static int filter_due(dedupe *d)
{
	if (d->lookups < FILTER_MIN_LOOKUPS || (d->lookups & 1023))
		return 0;
	sqlite3_stmt *st = NULL;
	long bytes = 0;
	if (sqlite3_prepare_v2(d->db,
			       "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size",
			       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		bytes = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return (long)d->lookups >= bytes / BYTES_PER_KEY / 4;
}

void dedupe_prefetch(const dedupe *d, uint64_t h)
{
	if (d->filter_state == FILTER_ACTIVE)
		bloom_prefetch(&d->filter, h);
}

int dedupe_seen(dedupe *d, uint64_t h, const char *source, size_t source_len, const char *id,
		size_t id_len, errinfo *err)
{
	if (d->filter_state != FILTER_OFF) {
		if (d->filter_state == FILTER_ACTIVE && !bloom_maybe(&d->filter, h)) {
			bloom_add(&d->filter, h); /* about to be recorded */
			return 0;
		}
	}
	/* Without a transaction each lookup would take and drop the file's
	 * read lock (two fcntl calls) and find a WAL snapshot anew. */
	if (!d->in_txn && !d->in_read && sqlite3_exec(d->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK)
		d->in_read = 1;
	sqlite3_bind_text(d->seen, 1, source, (int)source_len, SQLITE_STATIC);
	sqlite3_bind_text(d->seen, 2, id, (int)id_len, SQLITE_STATIC);
	int rc = sqlite3_step(d->seen);
	sqlite3_reset(d->seen);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc != SQLITE_DONE)
		return -fail(d, rc, "looking up", err);
	if (d->filter_state != FILTER_OFF) {
		bloom_add(&d->filter, h);
		d->lookups++;
		if (d->filter_state == FILTER_LEARNING && filter_due(d))
			filter_fill(d);
	}
	return 0;
}

int dedupe_record(dedupe *d, const char *source, size_t source_len, const char *id, size_t id_len,
		  errinfo *err)
{
	sqlite3_bind_text(d->record, 1, source, (int)source_len, SQLITE_STATIC);
	sqlite3_bind_text(d->record, 2, id, (int)id_len, SQLITE_STATIC);
	sqlite3_bind_int64(d->record, 3, timefmt_now_us() / 1000);
	int rc = sqlite3_step(d->record);
	sqlite3_reset(d->record);
	return rc == SQLITE_DONE ? 0 : fail(d, rc, "recording", err);
}

/* The store's key order, (id, source) compared as SQLite's BINARY
 * collation does: bytes, then length. */
static int text_cmp(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	return c ? c : (al > bl) - (al < bl);
}

static int key_cmp(const void *pa, const void *pb)
{
	const dedupe_key *a = *(const dedupe_key *const *)pa, *b = *(const dedupe_key *const *)pb;
	int c = text_cmp(a->id, a->id_len, b->id, b->id_len);
	return c ? c : text_cmp(a->source, a->source_len, b->source, b->source_len);
}

int dedupe_record_many(dedupe *d, const dedupe_key *keys, size_t n, errinfo *err)
{
	if (!n)
		return 0;
	/* Inserted in key order: ids from many partitions land all over the
	 * B-tree, and in arrival order a transaction writes a leaf again
	 * for each of its keys that the page cache has let go meanwhile. */
	if (n > d->cap_order) {
		const dedupe_key **o = realloc(d->order, n * sizeof *o);
		if (!o)
			return errinfo_set(err, EXIT_SOFTWARE, "out of memory");
		d->order = o;
		d->cap_order = n;
	}
	for (size_t i = 0; i < n; i++)
		d->order[i] = &keys[i];
	qsort(d->order, n, sizeof *d->order, key_cmp);
	int s = dedupe_begin(d, err);
	if (s)
		return s;
	/* One statement per row: a multi-row INSERT needs a statement
	 * journal, which SQLite spills to a temporary file (4.5x the writes). */
	int64_t now = timefmt_now_us() / 1000;
	size_t i = 0;
	int rc = SQLITE_DONE;
	for (; i < n && rc == SQLITE_DONE; i++) {
		const dedupe_key *k = d->order[i];
		sqlite3_bind_text(d->record, 1, k->source, (int)k->source_len, SQLITE_STATIC);
		sqlite3_bind_text(d->record, 2, k->id, (int)k->id_len, SQLITE_STATIC);
		sqlite3_bind_int64(d->record, 3, now);
		rc = sqlite3_step(d->record);
		sqlite3_reset(d->record);
	}
	if (rc != SQLITE_DONE) {
		s = fail(d, rc, "recording", err);
		sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
		d->in_txn = 0;
		return s;
	}
	return dedupe_commit(d, err);
}

void dedupe_release(dedupe *d)
{
	/* Between two releases at most one flush's keys are looked up: a
	 * process that started using the store meanwhile has had no more
	 * time to record a copy than the flush window gives anyway. */
	if (d && d->filter_state == FILTER_ACTIVE && !filelock_alone(&d->users))
		filter_off(d, "another process uses the store");
	if (d && d->in_read) {
		/* a read-only transaction: its COMMIT cannot fail for want of a lock */
		if (sqlite3_exec(d->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
		d->in_read = 0;
	}
}

int dedupe_begin(dedupe *d, errinfo *err)
{
	dedupe_release(d);
	int rc = sqlite3_exec(d->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return fail(d, rc, "beginning", err);
	d->in_txn = 1;
	return 0;
}

int dedupe_commit(dedupe *d, errinfo *err)
{
	if (!d->in_txn)
		return 0;
	int rc = sqlite3_exec(d->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int status = fail(d, rc, "committing", err);
		sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
		d->in_txn = 0;
		return status;
	}
	d->in_txn = 0;
	return 0;
}

long dedupe_expire(dedupe *d, uint64_t ttl_ms, long max_rows, errinfo *err)
{
	dedupe_release(d);
	/* Only a store with a TTL pays for the index on every insert (a
	 * store created by an earlier version has it anyway): the first
	 * expiry builds it, in one pass over the store. */
	int rc;
	if (!d->expire) {
		if ((rc = sqlite3_exec(d->db, "CREATE INDEX IF NOT EXISTS handled_at ON handled(handled_at)",
				       NULL, NULL, NULL)) != SQLITE_OK)
			return -fail(d, rc, "indexing", err);
		if ((rc = sqlite3_prepare_v2(d->db,
					     "DELETE FROM handled WHERE (source, id) IN (SELECT source, id "
					     "FROM handled WHERE handled_at < ?1 LIMIT ?2)",
					     -1, &d->expire, NULL)) != SQLITE_OK)
			return -fail(d, rc, "preparing", err);
	}
	int64_t cutoff = timefmt_now_us() / 1000 - (int64_t)ttl_ms;
	sqlite3_bind_int64(d->expire, 1, cutoff);
	sqlite3_bind_int64(d->expire, 2, max_rows);
	rc = sqlite3_step(d->expire);
	sqlite3_reset(d->expire);
	if (rc != SQLITE_DONE)
		return -fail(d, rc, "expiring", err);
	return (long)sqlite3_changes(d->db);
}

void dedupe_close(dedupe *d)
{
	if (!d)
		return;
	if (d->in_txn)
		sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
	dedupe_release(d);
	sqlite3_finalize(d->seen);
	sqlite3_finalize(d->record);
	sqlite3_finalize(d->expire);
	sqlite3_close(d->db);
	bloom_free(&d->filter);
	filelock_release(&d->users);
	free(d->order);
	free(d->path);
	free(d);
}

struct dedupe_writer {
	dedupe *d;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;   /* a job came, or quit; or the job is done */
	const dedupe_key *keys;
	size_t n;
	int job;             /* submitted, not yet written */
	int submitted;       /* submitted, not yet waited for */
	int quit;
	int status;          /* the last job's */
	errinfo err;
};

static void *writer_main(void *arg)
{
	dedupe_writer *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->job && !w->quit)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!w->job)
			break;
		const dedupe_key *keys = w->keys;
		size_t n = w->n;
		pthread_mutex_unlock(&w->mu);
		errinfo e = { 0 };
		int s = dedupe_record_many(w->d, keys, n, &e);
		pthread_mutex_lock(&w->mu);
		w->status = s;
		w->err = e;
		w->job = 0;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

dedupe_writer *dedupe_writer_start(const char *path, errinfo *err)
{
	dedupe_writer *w = calloc(1, sizeof *w);
	if (!w) {
		errinfo_set(err, EXIT_SOFTWARE, "out of memory");
		return NULL;
	}
	if (!(w->d = dedupe_open(path, 0, err))) {
		free(w);
		return NULL;
	}
	if (pthread_mutex_init(&w->mu, NULL) != 0) {
		errinfo_set(err, EXIT_SOFTWARE, "%s: cannot create a mutex", path);
		dedupe_close(w->d);
		free(w);
		return NULL;
	}
	if (pthread_cond_init(&w->cv, NULL) != 0) {
		errinfo_set(err, EXIT_SOFTWARE, "%s: cannot create a condition variable", path);
		pthread_mutex_destroy(&w->mu);
		dedupe_close(w->d);
		free(w);
		return NULL;
	}
	int rc = pthread_create(&w->thread, NULL, writer_main, w);
	if (rc != 0) {
		errinfo_set(err, EXIT_SOFTWARE, "%s: cannot start the writer thread: %s", path, strerror(rc));
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		dedupe_close(w->d);
		free(w);
		return NULL;
	}
	return w;
}

void dedupe_writer_submit(dedupe_writer *w, const dedupe_key *keys, size_t n)
{
	errinfo ignored;
	if (w->submitted)
		(void)dedupe_writer_wait(w, &ignored);
	pthread_mutex_lock(&w->mu);
	w->keys = keys;
	w->n = n;
	w->job = 1;
	w->submitted = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

int dedupe_writer_wait(dedupe_writer *w, errinfo *err)
{
	if (!w->submitted)
		return 0;
	pthread_mutex_lock(&w->mu);
	while (w->job)
		pthread_cond_wait(&w->cv, &w->mu);
	int s = w->status;
	if (s)
		*err = w->err;
	w->submitted = 0;
	pthread_mutex_unlock(&w->mu);
	return s;
}

int dedupe_writer_busy(const dedupe_writer *w)
{
	return w && w->submitted;
}

int dedupe_writer_idle(dedupe_writer *w)
{
	pthread_mutex_lock(&w->mu);
	int idle = !w->job;
	pthread_mutex_unlock(&w->mu);
	return idle;
}

void dedupe_writer_stop(dedupe_writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->quit = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	dedupe_close(w->d);
	free(w);
}
