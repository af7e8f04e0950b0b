/* ref_insert.c - the reference outbox-enqueue is measured against: a plain
 * C loop doing a prepared INSERT of id, source, type and the event line
 * into a table with UNIQUE(source, id), with the same pragmas (WAL,
 * synchronous=FULL, 5 s busy timeout) and transaction size.
 *
 *   ref_insert DB FILE BATCH     (BATCH 0: the whole file in one transaction)
 *
 * It finds id, source and type with a naive scan for "id":"...", which is
 * enough for the generated events and validates nothing: the floor that
 * SQLite itself sets. Built and run by bench/enqueue.sh. */
#define _GNU_SOURCE
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int die(sqlite3 *db, const char *what)
{
	fprintf(stderr, "ref_insert: %s: %s\n", what, db ? sqlite3_errmsg(db) : "failed");
	return 1;
}

/* Span of the string value of "key":"..." in line (no escapes expected). */
static int field(const char *line, size_t len, const char *key, const char **p, int *n)
{
	const char *k = memmem(line, len, key, strlen(key));
	if (!k)
		return -1;
	const char *v = k + strlen(key);
	const char *end = memchr(v, '"', (size_t)(line + len - v));
	if (!end)
		return -1;
	*p = v;
	*n = (int)(end - v);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fputs("usage: ref_insert DB FILE BATCH\n", stderr);
		return 64;
	}
	long batch = atol(argv[3]);
	FILE *in = fopen(argv[2], "r");
	if (!in)
		return die(NULL, argv[2]);
	sqlite3 *db;
	if (sqlite3_open(argv[1], &db) != SQLITE_OK)
		return die(db, "open");
	if (sqlite3_busy_timeout(db, 5000) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
			     "CREATE TABLE IF NOT EXISTS outbox (id TEXT NOT NULL, source TEXT NOT NULL,"
			     " type TEXT NOT NULL, event TEXT NOT NULL, UNIQUE (source, id));",
			 NULL, NULL, NULL) != SQLITE_OK)
		return die(db, "schema");
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "INSERT INTO outbox (id, source, type, event) VALUES (?1, ?2, ?3, ?4)"
				   " ON CONFLICT (source, id) DO NOTHING", -1, &st, NULL) != SQLITE_OK)
		return die(db, "prepare");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long n = 0, in_txn = 0;
	while ((len = getline(&line, &cap, in)) > 0) {
		if (line[len - 1] == '\n')
			len--;
		const char *id, *src, *type;
		int idn, srcn, typen;
		if (field(line, (size_t)len, "\"id\":\"", &id, &idn) ||
		    field(line, (size_t)len, "\"source\":\"", &src, &srcn) ||
		    field(line, (size_t)len, "\"type\":\"", &type, &typen))
			return die(NULL, "line without id, source or type");
		if (in_txn == 0 && sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
			return die(db, "begin");
		in_txn++;
		if (sqlite3_bind_text(st, 1, id, idn, SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_text(st, 2, src, srcn, SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_text(st, 3, type, typen, SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_text(st, 4, line, (int)len, SQLITE_STATIC) != SQLITE_OK)
			return die(db, "bind");
		if (sqlite3_step(st) != SQLITE_DONE)
			return die(db, "insert");
		sqlite3_reset(st);
		n++;
		if (batch > 0 && in_txn >= batch) {
			if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
				return die(db, "commit");
			in_txn = 0;
		}
	}
	if (in_txn && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		return die(db, "commit");
	free(line);
	fclose(in);
	sqlite3_finalize(st);
	if (sqlite3_close(db) != SQLITE_OK)
		return die(db, "close");
	fprintf(stderr, "ref_insert: inserted %ld\n", n);
	return 0;
}
