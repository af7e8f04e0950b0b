/* test_walbuf.c - the buffered WAL: readers on the default VFS see every
 * committed transaction whole, a copy of the files taken at any commit
 * (a crash image) recovers every commit, and a failed write fails the
 * commit without a trace. The writer's page cache is tiny, so transactions
 * spill frames before their commit, rewrite them in place and have their
 * checksums rewritten: every path of wal.c that walbuf.c relies on. */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "unit.h"
#include "walbuf.h"

static char dir[] = "/tmp/test_walbuf.XXXXXX";
static char db_path[64], copy_path[64];

/* What the table must hold: rows and the sum of their lengths. */
static long long want_rows, want_bytes;

static sqlite3 *open_db(const char *path, const char *vfs)
{
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs) != SQLITE_OK)
		return NULL;
	return db;
}

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* count(*) and sum(length(v)) as one connection sees them; -1 on error. */
static void seen(sqlite3 *db, long long *rows, long long *bytes)
{
	sqlite3_stmt *st;
	*rows = *bytes = -1;
	if (sqlite3_prepare_v2(db, "SELECT count(*), coalesce(sum(length(v)), 0) FROM t", -1, &st, NULL) !=
	    SQLITE_OK)
		return;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*rows = sqlite3_column_int64(st, 0);
		*bytes = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
}

/* One transaction: n new rows of 100 to 4,000 bytes, and every seventh
 * old row rewritten at a new length (pages written again after the cache
 * spilled them). Returns the SQLite result of the first failure. */
static int transaction(sqlite3 *db, int n, long long *rows, long long *bytes)
{
	sqlite3_stmt *ins, *upd;
	int rc = exec(db, "BEGIN IMMEDIATE");
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_prepare_v2(db, "INSERT INTO t(v) VALUES (zeroblob(?1))", -1, &ins, NULL);
	sqlite3_prepare_v2(db, "UPDATE t SET v = zeroblob(?1) WHERE k = ?2", -1, &upd, NULL);
	long long r = *rows, b = *bytes;
	for (int i = 0; i < n && rc == SQLITE_OK; i++) {
		int len = 100 + rand() % 3900;
		sqlite3_bind_int(ins, 1, len);
		rc = sqlite3_step(ins) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
		sqlite3_reset(ins);
		r++;
		b += len;
	}
	for (long long k = 1; k <= *rows && rc == SQLITE_OK; k += 7) {
		sqlite3_stmt *q;
		sqlite3_prepare_v2(db, "SELECT length(v) FROM t WHERE k = ?1", -1, &q, NULL);
		sqlite3_bind_int64(q, 1, k);
		int old = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : 0;
		sqlite3_finalize(q);
		int len = 100 + rand() % 3900;
		sqlite3_bind_int(upd, 1, len);
		sqlite3_bind_int64(upd, 2, k);
		rc = sqlite3_step(upd) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
		sqlite3_reset(upd);
		b += len - old;
	}
	sqlite3_finalize(ins);
	sqlite3_finalize(upd);
	if (rc == SQLITE_OK)
		rc = exec(db, "COMMIT");
	if (rc != SQLITE_OK) {
		exec(db, "ROLLBACK");
		return rc;
	}
	*rows = r;
	*bytes = b;
	return SQLITE_OK;
}

static int copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	char chunk[65536];
	size_t n;
	int ok = in && out;
	while (ok && (n = fread(chunk, 1, sizeof chunk, in)) > 0)
		ok = fwrite(chunk, 1, n, out) == n;
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

/* The database and its WAL as a crash would leave them (no -shm: opening
 * the copy rebuilds the wal-index from the WAL, checking every frame's
 * checksum), recovered by the default VFS. */
static void check_crash_image(void)
{
	char from[80], to[80];
	snprintf(to, sizeof to, "%s-shm", copy_path);
	unlink(to);
	CHECK_INT(copy_file(db_path, copy_path), 0);
	snprintf(from, sizeof from, "%s-wal", db_path);
	snprintf(to, sizeof to, "%s-wal", copy_path);
	CHECK_INT(copy_file(from, to), 0);
	sqlite3 *c = open_db(copy_path, NULL);
	long long rows, bytes;
	seen(c, &rows, &bytes);
	CHECK_INT(rows, want_rows);
	CHECK_INT(bytes, want_bytes);
	sqlite3_close(c);
}

static sqlite3 *writer, *reader;

static void test_registered(void)
{
	const char *name = walbuf_vfs();
	CHECK(name != NULL);
	CHECK(name && sqlite3_vfs_find(name) != NULL);
	/* not made the default: other connections keep the plain one */
	CHECK(name && sqlite3_vfs_find(NULL) != sqlite3_vfs_find(name));
	CHECK_STR(walbuf_vfs(), name ? name : "");
}

static void test_readers_see_each_commit_whole(void)
{
	static const int sizes[] = { 1, 3, 40, 200, 7, 600, 2 };
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		CHECK_INT(transaction(writer, sizes[i], &want_rows, &want_bytes), SQLITE_OK);
		long long rows, bytes;
		seen(reader, &rows, &bytes);
		CHECK_INT(rows, want_rows);
		CHECK_INT(bytes, want_bytes);
	}
}

static void test_crash_image_recovers_every_commit(void)
{
	for (int i = 0; i < 4; i++) {
		CHECK_INT(transaction(writer, 50 + 150 * i, &want_rows, &want_bytes), SQLITE_OK);
		check_crash_image();
	}
}

/* The file size limit makes the WAL's next write fail (EFBIG): the
 * transaction fails, nobody sees any of it, and the next one works. */
static void test_failed_write_fails_the_commit(void)
{
	char wal[80];
	snprintf(wal, sizeof wal, "%s-wal", db_path);
	FILE *f = fopen(wal, "rb");
	CHECK(f != NULL);
	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fclose(f);
	struct rlimit old, lim;
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = (rlim_t)size + 64 * 1024;
	signal(SIGXFSZ, SIG_IGN);
	CHECK_INT(setrlimit(RLIMIT_FSIZE, &lim), 0);
	long long rows = want_rows, bytes = want_bytes;
	int rc = transaction(writer, 400, &rows, &bytes);
	setrlimit(RLIMIT_FSIZE, &old);
	CHECK(rc != SQLITE_OK);
	CHECK_INT(rows, want_rows);
	seen(reader, &rows, &bytes);
	CHECK_INT(rows, want_rows);
	CHECK_INT(bytes, want_bytes);
	check_crash_image();
	CHECK_INT(transaction(writer, 30, &want_rows, &want_bytes), SQLITE_OK);
	seen(reader, &rows, &bytes);
	CHECK_INT(rows, want_rows);
	CHECK_INT(bytes, want_bytes);
	check_crash_image();
}

int main(void)
{
	if (!mkdtemp(dir))
		return 70;
	snprintf(db_path, sizeof db_path, "%s/w.db", dir);
	snprintf(copy_path, sizeof copy_path, "%s/copy.db", dir);
	srand(7);
	RUN(test_registered);
	writer = open_db(db_path, walbuf_vfs());
	/* A 10-page cache: transactions spill. No automatic checkpoint: the
	 * frames stay in the WAL for the crash images. */
	if (!writer || exec(writer, "PRAGMA journal_mode = WAL") != SQLITE_OK ||
	    exec(writer, "PRAGMA synchronous = NORMAL; PRAGMA cache_size = 10; "
			 "PRAGMA wal_autocheckpoint = 0; "
			 "CREATE TABLE t(k INTEGER PRIMARY KEY, v BLOB)") != SQLITE_OK)
		return 70;
	reader = open_db(db_path, NULL);
	if (!reader)
		return 70;
	RUN(test_readers_see_each_commit_whole);
	RUN(test_crash_image_recovers_every_commit);
	RUN(test_failed_write_fails_the_commit);
	sqlite3_close(reader);
	sqlite3_close(writer);
	char p[96];
	const char *names[] = { "w.db", "w.db-wal", "w.db-shm", "copy.db", "copy.db-wal", "copy.db-shm" };
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
	return unit_done();
}
