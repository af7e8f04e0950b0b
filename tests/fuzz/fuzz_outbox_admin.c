/* fuzz_outbox_admin.c - the operator commands' parsers and their splicing
 * of delivery fields into stored events:
 *  - outbox_admin_parse_time/parse_age on the input as a string: accepted
 *    ages are within the documented bound, and parse_time agrees;
 *  - the input stored as a row's event (and as its last_error and topic,
 *    as a foreign program could write them) and listed: a valid stored
 *    event gives exactly one line that ce_parse accepts and that is
 *    canonical; an invalid one gives no line and EXIT_DATAERR.
 * The database is a real file, created once per process. */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cloudevent.h"
#include "exitcode.h"
#include "outbox_admin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[256];
static sqlite3 *db;
static outbox_admin *adm;

static void cleanup(void)
{
	outbox_admin_close(adm);
	sqlite3_close(db);
	char p[300];
	unlink(path);
	snprintf(p, sizeof p, "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", path);
	unlink(p);
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(path, sizeof path, "%s/fuzz_outbox_admin.%ld.db", tmp, (long)getpid());
	errinfo err = { 0 };
	outbox *ob = outbox_open(path, NULL, &err);
	if (!ob)
		abort();
	outbox_close(ob);
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_exec(db,
			 "INSERT INTO outbox (id, source, type, event, attempts, kafka_partition, "
			 "kafka_offset) VALUES ('x', '/s', 'T', '{}', 3, 2147483648, -1)",
			 NULL, NULL, NULL) != SQLITE_OK)
		abort();
	adm = outbox_admin_open(path, NULL, &err);
	if (!adm)
		abort();
	atexit(cleanup);
}

static void fuzz_time(const uint8_t *data, size_t size)
{
	char s[64];
	if (size >= sizeof s)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	int64_t age, t;
	if (outbox_admin_parse_age(s, &age) == 0) {
		if (age < 0 || age > (int64_t)100 * 366 * 86400 * 1000000)
			abort();
		if (outbox_admin_parse_time(s, 0, &t) != 0 || t != -age)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!adm)
		setup();
	fuzz_time(data, size);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "UPDATE outbox SET event = ?1, last_error = ?1, topic = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		abort();
	sqlite3_bind_text(st, 1, (const char *)data, (int)size, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		abort();
	sqlite3_finalize(st);

	cloudevent ev;
	int valid = ce_parse(&ev, (const char *)data, size, NULL) == 0;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		abort();
	outbox_list_options o = { .sel = { .state = OUTBOX_ANY } };
	errinfo err = { 0 };
	uint64_t rows = 0;
	int rc = outbox_admin_list(adm, &o, f, NULL, &rows, &err);
	fclose(f);
	if (valid) {
		if (rc != 0 || rows != 1 || len == 0 || out[len - 1] != '\n' ||
		    memchr(out, '\n', len - 1))
			abort();
		/* The line is a CloudEvent in canonical form (unless the event
		 * had too many extensions to take the fields: then as stored). */
		if (ce_parse(&ev, out, len - 1, NULL) != 0 || ev.canonical.n != len - 1)
			abort();
	} else if (rc != EXIT_DATAERR || rows != 0 || len != 0) {
		abort();
	}
	free(out);
	return 0;
}
