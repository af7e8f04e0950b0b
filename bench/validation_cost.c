/* validation_cost.c - what in-database validation of the outbox `event`
 * column would cost, measured against the plain columns outbox(5) uses.
 *
 *   validation_cost DIR [N]
 *
 * Inserts N events (default 200000, about 360 bytes, time-ordered ids) in
 * transactions of 1000 rows into a fresh file per variant, with the pragmas
 * outbox-enqueue uses (WAL, synchronous=FULL), and prints rows/s and the
 * ratio to the plain schema. Built and run by bench/validation-cost.sh. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TXN 1000

static const char common_cols[] =
	"  subject TEXT, partition_key TEXT,\n"
	"  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),\n"
	"  status TEXT NOT NULL DEFAULT 'pending' CHECK (status = 'pending' OR status = 'sent' OR status = 'dead'),\n"
	"  attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT, last_error TEXT,\n"
	"  sent_at TEXT, topic TEXT, kafka_partition INTEGER, kafka_offset INTEGER,\n";

struct variant {
	const char *name;
	const char *cols;   /* id/source/type/event definitions */
	int gen;            /* 1: only event is inserted */
};

static const struct variant variants[] = {
	{ "plain columns (outbox(5) v1)",
	  "  id TEXT NOT NULL, source TEXT NOT NULL, type TEXT NOT NULL, event TEXT NOT NULL,\n", 0 },
	{ "CHECK (json_valid(event))",
	  "  id TEXT NOT NULL, source TEXT NOT NULL, type TEXT NOT NULL,\n"
	  "  event TEXT NOT NULL CHECK (json_valid(event)),\n", 0 },
	{ "CHECK json_valid + id/source/type match",
	  "  id TEXT NOT NULL, source TEXT NOT NULL, type TEXT NOT NULL,\n"
	  "  event TEXT NOT NULL CHECK (json_valid(event) AND json_extract(event, '$.id') = id\n"
	  "    AND json_extract(event, '$.source') = source AND json_extract(event, '$.type') = type),\n", 0 },
	{ "generated VIRTUAL id/source/type",
	  "  event TEXT NOT NULL,\n"
	  "  id TEXT GENERATED ALWAYS AS (json_extract(event, '$.id')) VIRTUAL NOT NULL,\n"
	  "  source TEXT GENERATED ALWAYS AS (json_extract(event, '$.source')) VIRTUAL NOT NULL,\n"
	  "  type TEXT GENERATED ALWAYS AS (json_extract(event, '$.type')) VIRTUAL NOT NULL,\n", 1 },
	{ "generated STORED id/source/type",
	  "  event TEXT NOT NULL,\n"
	  "  id TEXT GENERATED ALWAYS AS (json_extract(event, '$.id')) STORED NOT NULL,\n"
	  "  source TEXT GENERATED ALWAYS AS (json_extract(event, '$.source')) STORED NOT NULL,\n"
	  "  type TEXT GENERATED ALWAYS AS (json_extract(event, '$.type')) STORED NOT NULL,\n", 1 },
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int die(sqlite3 *db, const char *what)
{
	fprintf(stderr, "validation_cost: %s: %s\n", what, sqlite3_errmsg(db));
	return 1;
}

/* One run; rows/s in *rate. */
static int run(const char *path, const struct variant *v, long n, double *rate)
{
	sqlite3 *db;
	unlink(path);
	char side[600];
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return die(db, "open");
	char schema[4096];
	snprintf(schema, sizeof schema,
		 "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;\n"
		 "CREATE TABLE outbox (seq INTEGER PRIMARY KEY,\n%s%s  UNIQUE (source, id));\n"
		 "CREATE INDEX outbox_pending ON outbox(seq) WHERE status = 'pending';",
		 v->cols, common_cols);
	if (sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK)
		return die(db, "schema");
	sqlite3_stmt *st;
	const char *sql = v->gen
		? "INSERT INTO outbox (event, created_at) VALUES (?4, ?5) ON CONFLICT DO NOTHING"
		: "INSERT INTO outbox (id, source, type, event, created_at) VALUES (?1, ?2, ?3, ?4, ?5) "
		  "ON CONFLICT (source, id) DO NOTHING";
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return die(db, "prepare");
	char id[40], ev[1024];
	const char *src = "/wallet-hub/wallets", *type = "FundsAddedEvent";
	double t0 = now();
	for (long i = 0; i < n; i++) {
		if (i % TXN == 0 && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
			return die(db, "begin");
		/* Time-ordered ids, as UUIDv7 would be. */
		snprintf(id, sizeof id, "0190f5c3-%04lx-7%03lx-8a3b-%012lx", (i >> 28) & 0xffff,
			 (i >> 16) & 0xfff, i);
		int len = snprintf(ev, sizeof ev,
			"{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"%s\",\"type\":\"%s\","
			"\"subject\":\"wallet-%06ld\",\"time\":\"2026-11-27T09:51:38.123456Z\","
			"\"datacontenttype\":\"application/json\",\"partitionkey\":\"wallet-%06ld\","
			"\"data\":{\"walletId\":\"wallet-%06ld\",\"amount\":\"125.50\",\"currency\":\"EUR\","
			"\"balance\":\"1000.00\",\"reference\":\"txn-%012ld\"}}",
			id, src, type, i % 100000, i % 100000, i % 100000, i);
		if (sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_text(st, 2, src, -1, SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_text(st, 3, type, -1, SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_text(st, 4, ev, len, SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_text(st, 5, "2026-11-27T09:51:38.123456Z", -1, SQLITE_STATIC) != SQLITE_OK)
			return die(db, "bind");
		if (sqlite3_step(st) != SQLITE_DONE)
			return die(db, "insert");
		sqlite3_reset(st);
		if ((i + 1) % TXN == 0 || i + 1 == n)
			if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
				return die(db, "commit");
	}
	*rate = (double)n / (now() - t0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	unlink(path);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs("usage: validation_cost DIR [N]\n", stderr);
		return 64;
	}
	long n = argc > 2 ? atol(argv[2]) : 200000;
	char path[512];
	snprintf(path, sizeof path, "%s/validation-cost.db", argv[1]);
	double base = 0;
	printf("validation cost: %ld events, %d rows per transaction, WAL, synchronous=FULL\n", n, TXN);
	for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
		double best = 0;
		for (int rep = 0; rep < 3; rep++) { /* best of three: less noise */
			double r;
			if (run(path, &variants[i], n, &r) != 0)
				return 1;
			if (r > best)
				best = r;
		}
		if (i == 0)
			base = best;
		printf("  %-42s %9.0f rows/s  %5.2fx  (%+.0f%%)\n", variants[i].name, best, best / base,
		       (best / base - 1) * 100);
	}
	return 0;
}
