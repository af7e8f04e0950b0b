/* test_outbox.c - unit tests of the outbox store (lib/outbox.c). Each test
 * works on real SQLite files in a private temporary directory. */
#include "exitcode.h"
#include "outbox.h"
#include "unit.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[256];

static const char *path_of(const char *name)
{
	static char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return p;
}

/* Run SQL on a separate connection (as another process would). */
static int raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	int rc = sqlite3_open(path, &db);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

/* First column of the first row as an integer, -1 on error. */
static long long raw_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	long long v = -1;
	if (sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static const char ev1[] =
	"{\"specversion\":\"1.0\",\"id\":\"e\\u0031\",\"source\":\"/w\",\"type\":\"T\","
	"\"subject\":\"s1\",\"partitionkey\":\"k1\",\"data\":{\"a\": 1}}";
static const char ev2[] = "{\"specversion\":\"1.0\",\"id\":\"e2\",\"source\":\"/w\",\"type\":\"T\"}";

static void test_table_names(void)
{
	static const struct { const char *name; int ok; } cases[] = {
		{ "outbox", 1 }, { "_x", 1 }, { "Outbox_2", 1 }, { "a", 1 },
		{ "", 0 }, { "2x", 0 }, { "a-b", 0 }, { "a b", 0 }, { "x\"", 0 },
		{ "outbox\"; DROP TABLE t; --", 0 }, { "é", 0 },
		{ "a234567890123456789012345678901234567890123456789012345678901234", 1 },
		{ "a2345678901234567890123456789012345678901234567890123456789012345", 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		CHECK_INT(outbox_table_valid(cases[i].name), cases[i].ok);
	CHECK_INT(outbox_table_valid(NULL), 0);
	errinfo err = { 0 };
	outbox_options o = { .table = "bad name" };
	CHECK(outbox_open(path_of("bad.db"), &o, &err) == NULL);
	CHECK_INT(err.code, EXIT_USAGE);
	CHECK(access(path_of("bad.db"), F_OK) != 0); /* nothing created */
}

static void test_create(void)
{
	const char *p = path_of("create.db");
	errinfo err = { 0 };
	outbox *ob = outbox_open(p, NULL, &err);
	CHECK(ob != NULL);
	if (!ob)
		return;
	CHECK_INT(outbox_created(ob), 1);
	CHECK(outbox_db(ob) != NULL);
	outbox_close(ob);
	struct stat sb;
	CHECK(stat(p, &sb) == 0);
	CHECK_INT(sb.st_mode & 0777, 0600);
	CHECK_INT(raw_int(p, "PRAGMA user_version"), OUTBOX_SCHEMA_VERSION);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM sqlite_master WHERE name = 'outbox_pending' "
			     "AND sql LIKE '%WHERE status = ''pending''%'"), 1);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM pragma_table_info('outbox')"), 16);
	ob = outbox_open(p, NULL, &err);
	CHECK(ob != NULL);
	if (ob)
		CHECK_INT(outbox_created(ob), 0);
	outbox_close(ob);
	char mode[16] = "";
	sqlite3 *db;
	sqlite3_stmt *st;
	if (sqlite3_open(p, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			snprintf(mode, sizeof mode, "%s", sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	CHECK_STR(mode, "wal");
}

static void test_append_and_duplicates(void)
{
	const char *p = path_of("append.db");
	errinfo err = { 0 };
	outbox *ob = outbox_open(p, NULL, &err);
	CHECK(ob != NULL);
	if (!ob)
		return;
	int res = 0;
	CHECK_INT(outbox_append_json(ob, ev1, strlen(ev1), &res, &err), 0);
	CHECK_INT(res, OUTBOX_INSERTED);
	CHECK_INT(outbox_append_json(ob, ev1, strlen(ev1), &res, &err), 0);
	CHECK_INT(res, OUTBOX_DUPLICATE);
	CHECK_INT(outbox_append_json(ob, ev2, strlen(ev2), &res, &err), 0);
	CHECK_INT(res, OUTBOX_INSERTED);
	static const char bad[] = "{\"specversion\":\"1.0\",\"source\":\"/w\",\"type\":\"T\"}";
	CHECK_INT(outbox_append_json(ob, bad, strlen(bad), &res, &err), EXIT_DATAERR);
	CHECK(strstr(err.text, "id") != NULL);
	outbox_close(ob);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM outbox"), 2);
	/* Decoded columns, canonical compact event, created_at's form. */
	CHECK_INT(raw_int(p, "SELECT count(*) FROM outbox WHERE seq = 1 AND id = 'e1' AND "
			     "source = '/w' AND type = 'T' AND subject = 's1' AND "
			     "partition_key = 'k1' AND status = 'pending' AND attempts = 0 AND "
			     "next_attempt_at IS NULL AND length(created_at) = 27 AND "
			     "created_at LIKE '____-__-__T__:__:__.______Z' AND "
			     "event = '{\"specversion\":\"1.0\",\"id\":\"e\\u0031\",\"source\":\"/w\","
			     "\"type\":\"T\",\"subject\":\"s1\",\"partitionkey\":\"k1\","
			     "\"data\":{\"a\":1}}'"),
		  1);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM outbox WHERE id = 'e2' AND subject IS NULL "
			     "AND partition_key IS NULL AND seq = 2"),
		  1);
}

static void test_caller_transaction(void)
{
	const char *p = path_of("txn.db");
	CHECK_INT(raw_exec(p, "CREATE TABLE wallets (id TEXT PRIMARY KEY, balance INTEGER);"
			      "INSERT INTO wallets VALUES ('w1', 100);"),
		  SQLITE_OK);
	errinfo err = { 0 };
	outbox *ob = outbox_open(p, NULL, &err);
	CHECK(ob != NULL);
	if (!ob)
		return;
	/* Business change and event, rolled back together. */
	CHECK_INT(outbox_begin(ob, &err), 0);
	CHECK_INT(outbox_in_transaction(ob), 1);
	CHECK_INT(outbox_begin(ob, &err), EXIT_SOFTWARE);
	CHECK_INT(sqlite3_exec(outbox_db(ob), "UPDATE wallets SET balance = 50", NULL, NULL, NULL),
		  SQLITE_OK);
	CHECK_INT(outbox_append_json(ob, ev1, strlen(ev1), NULL, &err), 0);
	outbox_rollback(ob);
	CHECK_INT(outbox_in_transaction(ob), 0);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM outbox"), 0);
	CHECK_INT(raw_int(p, "SELECT balance FROM wallets"), 100);
	/* ... and committed together, through outbox_exec. */
	CHECK_INT(outbox_begin(ob, &err), 0);
	CHECK_INT(outbox_exec(ob, "UPDATE wallets SET balance = 70; SELECT 1;", &err), 0);
	CHECK_INT(outbox_append_json(ob, ev1, strlen(ev1), NULL, &err), 0);
	CHECK_INT(outbox_commit(ob, &err), 0);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM outbox"), 1);
	CHECK_INT(raw_int(p, "SELECT balance FROM wallets"), 70);
	/* Caller SQL may not end the outbox transaction. */
	CHECK_INT(outbox_begin(ob, &err), 0);
	CHECK_INT(outbox_exec(ob, "COMMIT", &err), EXIT_DATAERR);
	CHECK(strstr(err.text, "not allowed") != NULL);
	CHECK_INT(outbox_in_transaction(ob), 1);
	CHECK_INT(outbox_exec(ob, "UPDATE nosuch SET x = 1", &err), EXIT_DATAERR);
	CHECK(strstr(err.text, "no such table") != NULL);
	outbox_rollback(ob);
	/* The insert statement still works after the authorizer came and went. */
	CHECK_INT(outbox_append_json(ob, ev2, strlen(ev2), NULL, &err), 0);
	outbox_close(ob);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM outbox"), 2);
}

/* Append event "<prefix><n>" from /w (result NULL: deferrable). */
static int append_id(outbox *ob, const char *id, int *res, errinfo *err)
{
	char ev[256];
	int n = snprintf(ev, sizeof ev,
			 "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"/w\",\"type\":\"T\","
			 "\"subject\":\"s\\u0031\",\"partitionkey\":7,\"data\":{\"a\": 1}}", id);
	return outbox_append_json(ob, ev, (size_t)n, res, err);
}

/* Count rows through the handle's own connection (sees held rows only
 * once they are written). */
static long long own_int(outbox *ob, const char *sql)
{
	sqlite3_stmt *st = NULL;
	long long v = -1;
	if (sqlite3_prepare_v2(outbox_db(ob), sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void test_grouped(void)
{
	const char *p = path_of("grouped.db");
	errinfo err = { 0 };
	outbox_options o = { .group = 4 };
	outbox *ob = outbox_open(p, &o, &err);
	CHECK(ob != NULL);
	if (!ob)
		return;
	unsigned long ins = 9, dup = 9;
	outbox_counts(ob, &ins, &dup, NULL);
	CHECK(ins == 0 && dup == 0);

	/* Held until the group (4) is full; flush writes the rest. */
	CHECK_INT(outbox_begin(ob, &err), 0);
	CHECK_INT(append_id(ob, "g1", NULL, &err), 0);
	CHECK_INT(append_id(ob, "g2", NULL, &err), 0);
	CHECK_INT(append_id(ob, "g3", NULL, &err), 0);
	CHECK_INT(own_int(ob, "SELECT count(*) FROM outbox"), 0);
	CHECK_INT(append_id(ob, "g2", NULL, &err), 0); /* duplicate inside the group */
	CHECK_INT(own_int(ob, "SELECT count(*) FROM outbox"), 3);
	CHECK_INT(append_id(ob, "g4", NULL, &err), 0);
	CHECK_INT(own_int(ob, "SELECT count(*) FROM outbox"), 3);
	CHECK_INT(outbox_flush(ob, &err), 0);
	CHECK_INT(own_int(ob, "SELECT count(*) FROM outbox"), 4);
	CHECK_INT(outbox_flush(ob, &err), 0); /* nothing held: no-op */
	CHECK_INT(append_id(ob, "g5", NULL, &err), 0);
	CHECK_INT(append_id(ob, "g1", NULL, &err), 0); /* duplicate of a written row */
	outbox_counts(ob, &ins, &dup, NULL);
	CHECK(ins == 0 && dup == 0); /* nothing committed yet */
	CHECK_INT(raw_int(p, "SELECT count(*) FROM outbox"), 0);
	CHECK_INT(outbox_commit(ob, &err), 0); /* writes the held ones first */
	outbox_counts(ob, &ins, &dup, NULL);
	CHECK(ins == 5 && dup == 2);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM outbox"), 5);
	/* Append order is seq order; held rows get decoded columns, the
	 * canonical event and a created_at of the same form. */
	CHECK_INT(raw_int(p, "SELECT group_concat(id, ',') = 'g1,g2,g3,g4,g5' FROM "
			     "(SELECT id FROM outbox ORDER BY seq)"), 1);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM outbox WHERE subject = 's1' AND "
			     "partition_key = '7' AND source = '/w' AND type = 'T' AND "
			     "status = 'pending' AND attempts = 0 AND length(created_at) = 27 AND "
			     "created_at LIKE '____-__-__T__:__:__.______Z' AND "
			     "event LIKE '{\"specversion\":\"1.0\",\"id\":\"g_\",%\"data\":{\"a\":1}}'"),
		  5);

	/* Rollback drops held rows; a bad event leaves the held ones alone
	 * until the caller rolls back. */
	CHECK_INT(outbox_begin(ob, &err), 0);
	CHECK_INT(append_id(ob, "r1", NULL, &err), 0);
	CHECK_INT(append_id(ob, "r2", NULL, &err), 0);
	static const char bad[] = "{\"specversion\":\"1.0\",\"source\":\"/w\",\"type\":\"T\"}";
	CHECK_INT(outbox_append_json(ob, bad, strlen(bad), NULL, &err), EXIT_DATAERR);
	outbox_rollback(ob);
	CHECK_INT(outbox_in_transaction(ob), 0);
	CHECK_INT(outbox_begin(ob, &err), 0);
	CHECK_INT(outbox_commit(ob, &err), 0);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM outbox WHERE id LIKE 'r%'"), 0);
	outbox_counts(ob, &ins, &dup, NULL);
	CHECK(ins == 5 && dup == 2);

	/* An append that asks for its result is written at once, after the
	 * held rows; outbox_exec sees held rows written. */
	CHECK_INT(outbox_begin(ob, &err), 0);
	CHECK_INT(append_id(ob, "a1", NULL, &err), 0);
	int res = 0;
	CHECK_INT(append_id(ob, "a2", &res, &err), 0);
	CHECK_INT(res, OUTBOX_INSERTED);
	CHECK_INT(append_id(ob, "a1", &res, &err), 0);
	CHECK_INT(res, OUTBOX_DUPLICATE);
	CHECK_INT(append_id(ob, "a3", NULL, &err), 0);
	CHECK_INT(outbox_exec(ob, "CREATE TABLE seen AS SELECT count(*) AS n FROM outbox", &err), 0);
	CHECK_INT(outbox_commit(ob, &err), 0);
	CHECK_INT(raw_int(p, "SELECT n FROM seen"), 8);
	CHECK_INT(raw_int(p, "SELECT (SELECT seq FROM outbox WHERE id = 'a1') < "
			     "(SELECT seq FROM outbox WHERE id = 'a2') AND "
			     "(SELECT seq FROM outbox WHERE id = 'a2') < "
			     "(SELECT seq FROM outbox WHERE id = 'a3')"), 1);
	outbox_counts(ob, &ins, &dup, NULL);
	CHECK(ins == 8 && dup == 3);

	/* Outside a transaction nothing is held: autocommitted and counted. */
	CHECK_INT(append_id(ob, "auto", NULL, &err), 0);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM outbox WHERE id = 'auto'"), 1);
	outbox_counts(ob, &ins, &dup, NULL);
	CHECK(ins == 9 && dup == 3);

	/* A transaction ended behind the handle's back: held rows are not
	 * autocommitted on their own. */
	CHECK_INT(outbox_begin(ob, &err), 0);
	CHECK_INT(append_id(ob, "lost", NULL, &err), 0);
	CHECK_INT(sqlite3_exec(outbox_db(ob), "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	CHECK_INT(outbox_commit(ob, &err), EXIT_SOFTWARE);
	CHECK(strstr(err.text, "outbox_commit") != NULL);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM outbox WHERE id = 'lost'"), 0);

	/* An event too large to hold is written at once, in order. */
	CHECK_INT(outbox_begin(ob, &err), 0);
	CHECK_INT(append_id(ob, "b1", NULL, &err), 0);
	size_t big_n = 40000;
	char *big = malloc(big_n + 200);
	CHECK(big != NULL);
	if (big) {
		int n = snprintf(big, 200, "{\"specversion\":\"1.0\",\"id\":\"b2\",\"source\":\"/w\","
				 "\"type\":\"T\",\"data\":\"");
		memset(big + n, 'x', big_n);
		memcpy(big + n + big_n, "\"}", 3);
		CHECK_INT(outbox_append_json(ob, big, strlen(big), NULL, &err), 0);
		free(big);
	}
	CHECK_INT(own_int(ob, "SELECT count(*) FROM outbox WHERE id IN ('b1', 'b2')"), 2);
	CHECK_INT(append_id(ob, "b3", NULL, &err), 0);
	CHECK_INT(outbox_commit(ob, &err), 0);
	CHECK_INT(raw_int(p, "SELECT group_concat(id, ',') = 'b1,b2,b3' FROM "
			     "(SELECT id FROM outbox WHERE id LIKE 'b%' ORDER BY seq)"), 1);
	outbox_close(ob);

	/* The largest group, and a tail of 32 + 8 + 4 + 1 rows with a
	 * duplicate in each statement; closing drops what is held. */
	p = path_of("grouped32.db");
	outbox_options o32 = { .group = OUTBOX_GROUP_MAX };
	ob = outbox_open(p, &o32, &err);
	CHECK(ob != NULL);
	if (!ob)
		return;
	CHECK_INT(outbox_begin(ob, &err), 0);
	char id[32];
	for (int i = 1; i <= 45; i++) {
		/* rows 10, 36, 42 and 45 repeat an earlier id */
		int k = i == 10 ? 3 : i == 36 ? 33 : i == 42 ? 41 : i == 45 ? 1 : i;
		snprintf(id, sizeof id, "t%02d", k);
		CHECK_INT(append_id(ob, id, NULL, &err), 0);
	}
	CHECK_INT(outbox_commit(ob, &err), 0);
	outbox_counts(ob, &ins, &dup, NULL);
	CHECK(ins == 41 && dup == 4);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM outbox"), 41);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM (SELECT id, row_number() OVER (ORDER BY seq) AS r, "
			     "row_number() OVER (ORDER BY id) AS q FROM outbox) WHERE r != q"), 0);
	CHECK_INT(outbox_begin(ob, &err), 0);
	CHECK_INT(append_id(ob, "never", NULL, &err), 0);
	outbox_close(ob);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM outbox"), 41);
}

static void test_versions(void)
{
	errinfo err = { 0 };
	/* Newer schema: refused, untouched. */
	const char *p = path_of("newer.db");
	outbox_close(outbox_open(p, NULL, &err));
	CHECK_INT(raw_exec(p, "PRAGMA user_version = 2"), SQLITE_OK);
	CHECK(outbox_open(p, NULL, &err) == NULL);
	CHECK_INT(err.code, EXIT_CONFIG);
	CHECK(strstr(err.text, "outbox schema version 2 is newer than this tool supports (1)") != NULL);
	CHECK_INT(raw_int(p, "PRAGMA user_version"), 2);

	/* An application's database that versions itself: refused. */
	p = path_of("app.db");
	CHECK_INT(raw_exec(p, "CREATE TABLE users (id INTEGER); PRAGMA user_version = 7;"), SQLITE_OK);
	CHECK(outbox_open(p, NULL, &err) == NULL);
	CHECK_INT(err.code, EXIT_CONFIG);
	CHECK(strstr(err.text, "another application") != NULL);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM sqlite_master WHERE name = 'outbox'"), 0);
	CHECK_INT(raw_int(p, "PRAGMA user_version"), 7);

	/* A table of that name made without the version: refused. */
	p = path_of("hand.db");
	CHECK_INT(raw_exec(p, "CREATE TABLE outbox (x)"), SQLITE_OK);
	CHECK(outbox_open(p, NULL, &err) == NULL);
	CHECK_INT(err.code, EXIT_CONFIG);
	CHECK(strstr(err.text, "user_version is 0") != NULL);

	/* Version 1 but the table lacks columns: refused. */
	p = path_of("short.db");
	CHECK_INT(raw_exec(p, "CREATE TABLE outbox (id); PRAGMA user_version = 1;"), SQLITE_OK);
	CHECK(outbox_open(p, NULL, &err) == NULL);
	CHECK_INT(err.code, EXIT_CONFIG);
	CHECK(strstr(err.text, "lacks columns") != NULL);

	/* Migration from version 0 inside an application's database keeps
	 * its tables; a second outbox table beside the first is accepted. */
	p = path_of("appv0.db");
	CHECK_INT(raw_exec(p, "CREATE TABLE wallets (id TEXT); INSERT INTO wallets VALUES ('a');"),
		  SQLITE_OK);
	outbox *ob = outbox_open(p, NULL, &err);
	CHECK(ob != NULL);
	outbox_close(ob);
	CHECK_INT(raw_int(p, "PRAGMA user_version"), 1);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM wallets"), 1);
	outbox_options o = { .table = "audit_events" };
	ob = outbox_open(p, &o, &err);
	CHECK(ob != NULL);
	if (ob)
		CHECK_INT(outbox_created(ob), 1);
	outbox_close(ob);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM sqlite_master WHERE name = 'audit_events_pending'"),
		  1);
}

static void test_errors(void)
{
	errinfo err = { 0 };
	/* Not a database. */
	const char *p = path_of("garbage.db");
	FILE *f = fopen(p, "w");
	CHECK(f != NULL);
	if (f) {
		for (int i = 0; i < 200; i++)
			fputs("this is not a database file at all\n", f);
		fclose(f);
	}
	CHECK(outbox_open(p, NULL, &err) == NULL);
	CHECK_INT(err.code, EXIT_IOERR);
	CHECK(strstr(err.text, "not an outbox database (file is not a database or is corrupt)") != NULL);

	/* Directory missing: cannot create. */
	CHECK(outbox_open(path_of("nodir/x.db"), NULL, &err) == NULL);
	CHECK_INT(err.code, EXIT_CANTCREAT);
	outbox_options nc = { .no_create = 1 };
	CHECK(outbox_open(path_of("absent.db"), &nc, &err) == NULL);
	CHECK_INT(err.code, EXIT_CANTCREAT);

	/* Locked by another connection: 75 once the busy timeout expires. */
	p = path_of("busy.db");
	outbox_options o = { .busy_ms = 50 };
	outbox *ob = outbox_open(p, &o, &err);
	CHECK(ob != NULL);
	sqlite3 *other;
	CHECK_INT(sqlite3_open(p, &other), SQLITE_OK);
	CHECK_INT(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	if (ob) {
		CHECK_INT(outbox_begin(ob, &err), EXIT_TEMPFAIL);
		CHECK(strstr(err.text, "locked") != NULL);
		/* Without a transaction the append itself waits, then fails. */
		CHECK_INT(outbox_append_json(ob, ev2, strlen(ev2), NULL, &err), EXIT_TEMPFAIL);
	}
	/* Opening an up-to-date outbox needs no write lock. */
	outbox *ob2 = outbox_open(p, &o, &err);
	CHECK(ob2 != NULL);
	outbox_close(ob2);
	CHECK_INT(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	if (ob)
		CHECK_INT(outbox_append_json(ob, ev2, strlen(ev2), NULL, &err), 0);
	outbox_close(ob);
	outbox_close(NULL);
}

/* 1 if the two files hold the same bytes. */
static int same_bytes(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	int same = fa && fb;
	while (same) {
		int ca = getc(fa), cb = getc(fb);
		same = ca == cb;
		if (ca == EOF || cb == EOF)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

static int copy_file(const char *from, const char *to)
{
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
	return system(cmd);
}

static void test_paths(void)
{
	errinfo err = { 0 };
	static const char *const bad[] = { "", ":memory:", "file:x.db", "file:x?mode=memory",
					   "file::memory:" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_INT(outbox_path_check(bad[i], &err), EXIT_USAGE);
		CHECK(outbox_open(bad[i], NULL, &err) == NULL);
		CHECK_INT(err.code, EXIT_USAGE);
	}
	CHECK_INT(outbox_path_check(NULL, &err), EXIT_USAGE);
	CHECK_INT(outbox_path_check("./file:x.db", &err), 0);
	CHECK_INT(outbox_path_check("x:memory:", &err), 0);
	CHECK(access("file:x.db", F_OK) != 0);
	/* Reserved names, in any case; a longer name merely starting alike is fine. */
	CHECK_INT(outbox_table_valid("sqlite_x"), 0);
	CHECK_INT(outbox_table_valid("SQLite_master"), 0);
	CHECK_INT(outbox_table_valid("sqlitex"), 1);
	/* A directory, a device: not database files (74), nothing made. */
	CHECK(outbox_open(dir, NULL, &err) == NULL);
	CHECK_INT(err.code, EXIT_IOERR);
	CHECK(strstr(err.text, "Is a directory") != NULL);
	CHECK(outbox_open("/dev/null", NULL, &err) == NULL);
	CHECK_INT(err.code, EXIT_IOERR);
	CHECK(strstr(err.text, "not a regular file") != NULL);
}

static void test_refused_untouched(void)
{
	errinfo err = { 0 };
	char orig[600];
	/* Another application's database (in rollback-journal mode). */
	const char *p = path_of("other_app.db");
	snprintf(orig, sizeof orig, "%s.orig", p);
	CHECK_INT(raw_exec(p, "CREATE TABLE t (x); INSERT INTO t VALUES (1); PRAGMA user_version = 7"),
		  SQLITE_OK);
	CHECK_INT(copy_file(p, orig), 0);
	CHECK(outbox_open(p, NULL, &err) == NULL);
	CHECK_INT(err.code, EXIT_CONFIG);
	CHECK(same_bytes(p, orig));
	/* An outbox table without its UNIQUE (source, id). */
	p = path_of("nokey.db");
	snprintf(orig, sizeof orig, "%s.orig", p);
	CHECK_INT(raw_exec(p, "CREATE TABLE outbox (seq INTEGER PRIMARY KEY, id, source, type, "
			      "subject, partition_key, event, created_at, status, attempts, "
			      "next_attempt_at, last_error, sent_at, topic, kafka_partition, "
			      "kafka_offset); PRAGMA user_version = 1"),
		  SQLITE_OK);
	CHECK_INT(copy_file(p, orig), 0);
	CHECK(outbox_open(p, NULL, &err) == NULL);
	CHECK_INT(err.code, EXIT_CONFIG);
	CHECK(strstr(err.text, "no UNIQUE (source, id) constraint") != NULL);
	CHECK(same_bytes(p, orig));
	CHECK(access(path_of("nokey.db-wal"), F_OK) != 0);
}

/* The first use of a file by several processes at once: all succeed. */
static void test_concurrent_create(void)
{
	const char *p = path_of("race.db");
	char wal[600], shm[600];
	snprintf(wal, sizeof wal, "%s-wal", p);
	snprintf(shm, sizeof shm, "%s-shm", p);
	int failed = 0;
	for (int round = 0; round < 10; round++) {
		unlink(p);
		unlink(wal);
		unlink(shm);
		pid_t pids[8];
		for (int i = 0; i < 8; i++) {
			pids[i] = fork();
			if (pids[i] == 0) {
				errinfo e = { 0 };
				char ev[200];
				int n = snprintf(ev, sizeof ev,
						 "{\"specversion\":\"1.0\",\"id\":\"c%d\",\"source\":\"/r\","
						 "\"type\":\"T\"}", i);
				outbox *o = outbox_open(p, NULL, &e);
				int st = o ? outbox_append_json(o, ev, (size_t)n, NULL, &e) : e.code;
				if (st)
					printf("# child %d: %s\n", i, e.text);
				outbox_close(o);
				fflush(stdout);
				_exit(st);
			}
		}
		for (int i = 0; i < 8; i++) {
			int ws = 0;
			if (pids[i] < 0 || waitpid(pids[i], &ws, 0) < 0 || !WIFEXITED(ws) ||
			    WEXITSTATUS(ws) != 0)
				failed++;
		}
		CHECK_INT(raw_int(p, "SELECT count(*) FROM outbox"), 8);
	}
	CHECK_INT(failed, 0);
}

static volatile sig_atomic_t stop_flag;

static void on_alarm(int sig) { stop_flag = sig; }

/* Raise stop_flag from a signal handler after ms milliseconds. */
static void stop_after(int ms)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, 0 }, { ms / 1000, (ms % 1000) * 1000 } };
	stop_flag = 0;
	setitimer(ITIMER_REAL, &it, NULL);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_stop(void)
{
	const char *p = path_of("stop.db");
	errinfo err = { 0 };
	outbox_options o = { .busy_ms = 60000, .stop = &stop_flag };
	outbox *ob = outbox_open(p, &o, &err);
	CHECK(ob != NULL);
	if (!ob)
		return;
	/* A lock wait of up to a minute ends when the flag is raised. */
	sqlite3 *other;
	CHECK_INT(sqlite3_open(p, &other), SQLITE_OK);
	CHECK_INT(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	stop_after(100);
	double t0 = now_s();
	CHECK_INT(outbox_begin(ob, &err), EXIT_TEMPFAIL);
	CHECK(now_s() - t0 < 3);
	CHECK(stop_flag != 0);
	CHECK(strstr(err.text, "interrupted while waiting for the lock") != NULL);
	CHECK_INT(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);

	/* Caller SQL that would run for minutes is interrupted; nothing of
	 * its transaction is kept. */
	stop_flag = 0;
	CHECK_INT(outbox_begin(ob, &err), 0);
	CHECK_INT(outbox_exec(ob, "CREATE TABLE log (x)", &err), 0);
	stop_after(100);
	t0 = now_s();
	CHECK_INT(outbox_exec(ob, "INSERT INTO log VALUES (1); WITH RECURSIVE c(x) AS (SELECT 1 "
				  "UNION ALL SELECT x + 1 FROM c WHERE x < 10000000000) "
				  "SELECT count(*) FROM c", &err),
		  EXIT_TEMPFAIL);
	CHECK(now_s() - t0 < 3);
	CHECK(strstr(err.text, "SQL: interrupted") != NULL);
	outbox_rollback(ob);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM sqlite_master WHERE name = 'log'"), 0);

	/* With the flag raised the handle's own inserts and COMMIT still
	 * work: a tool may commit what it has after a signal. */
	stop_flag = 1;
	CHECK_INT(outbox_begin(ob, &err), 0);
	CHECK_INT(outbox_append_json(ob, ev2, strlen(ev2), NULL, &err), 0);
	CHECK_INT(outbox_commit(ob, &err), 0);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM outbox"), 1);
	stop_flag = 0;
	outbox_close(ob);
}

static void test_exec_locked(void)
{
	const char *p = path_of("exec_locked.db");
	errinfo err = { 0 };
	outbox_options o = { .busy_ms = 100 };
	outbox *ob = outbox_open(p, &o, &err);
	CHECK(ob != NULL);
	if (!ob)
		return;
	/* Cannot run inside the transaction: the caller's error, at once. */
	CHECK_INT(outbox_begin(ob, &err), 0);
	CHECK_INT(outbox_exec(ob, "PRAGMA wal_checkpoint", &err), EXIT_DATAERR);
	CHECK(strstr(err.text, "cannot run inside the outbox transaction") != NULL);
	outbox_rollback(ob);
	/* Another process holding an attached file: contention, 75. */
	const char *q = path_of("exec_other.db");
	CHECK_INT(raw_exec(q, "CREATE TABLE t (x)"), SQLITE_OK);
	sqlite3 *other;
	CHECK_INT(sqlite3_open(q, &other), SQLITE_OK);
	CHECK_INT(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	char sql[700];
	snprintf(sql, sizeof sql, "ATTACH '%s' AS o; INSERT INTO o.t VALUES (1)", q);
	CHECK_INT(outbox_begin(ob, &err), 0);
	CHECK_INT(outbox_exec(ob, sql, &err), EXIT_TEMPFAIL);
	CHECK(strstr(err.text, "busy timeout") != NULL);
	outbox_rollback(ob);
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(other);
	outbox_close(ob);
}

static void test_ignored_by_trigger(void)
{
	const char *p = path_of("trigger.db");
	errinfo err = { 0 };
	outbox_options o = { .group = 4 };
	outbox *ob = outbox_open(p, &o, &err);
	CHECK(ob != NULL);
	if (!ob)
		return;
	CHECK_INT(sqlite3_exec(outbox_db(ob),
			       "CREATE TRIGGER skip BEFORE INSERT ON outbox WHEN NEW.id LIKE 'x%' "
			       "BEGIN SELECT RAISE(IGNORE); END",
			       NULL, NULL, NULL),
		  SQLITE_OK);
	int res = 0;
	CHECK_INT(append_id(ob, "k1", &res, &err), 0);
	CHECK_INT(res, OUTBOX_INSERTED);
	CHECK_INT(append_id(ob, "k1", &res, &err), 0);
	CHECK_INT(res, OUTBOX_DUPLICATE);
	CHECK_INT(append_id(ob, "x1", &res, &err), 0);
	CHECK_INT(res, OUTBOX_IGNORED);
	/* Held rows, in one multi-row statement: x2 and x3 dropped, k1 and k2
	 * duplicates (k2 within the group), k2 and k3 inserted. */
	CHECK_INT(outbox_begin(ob, &err), 0);
	static const char *const ids[] = { "x2", "k1", "k2", "x3", "k2", "k3" };
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
		CHECK_INT(append_id(ob, ids[i], NULL, &err), 0);
	CHECK_INT(outbox_commit(ob, &err), 0);
	unsigned long ins = 0, dup = 0, ign = 0;
	outbox_counts(ob, &ins, &dup, &ign);
	CHECK(ins == 3 && dup == 3 && ign == 3);
	outbox_close(ob);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM outbox"), 3);
}

int main(void)
{
	snprintf(dir, sizeof dir, "%s/test_outbox.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_table_names);
	RUN(test_create);
	RUN(test_append_and_duplicates);
	RUN(test_caller_transaction);
	RUN(test_grouped);
	RUN(test_versions);
	RUN(test_errors);
	RUN(test_paths);
	RUN(test_refused_untouched);
	RUN(test_concurrent_create);
	RUN(test_stop);
	RUN(test_exec_locked);
	RUN(test_ignored_by_trigger);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return unit_done();
}
