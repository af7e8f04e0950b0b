/* test_outbox_admin.c - unit tests of the operator commands
 * (lib/outbox_admin.c) on real SQLite files in a private temporary
 * directory: rows are appended with outbox_append_json and put into every
 * state with UPDATE statements, then counts, output lines and the table's
 * contents after requeue and purge are compared with exact expectations. */
#include "cloudevent.h"
#include "exitcode.h"
#include "outbox.h"
#include "outbox_admin.h"
#include "timefmt.h"
#include "unit.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256];
static int64_t NOW; /* 2026-11-30T12:00:00Z */

static const char *path_of(const char *name)
{
	static char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return p;
}

static int raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	int rc = sqlite3_open(path, &db);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		printf("# raw_exec: %s\n", sqlite3_errmsg(db));
	sqlite3_close(db);
	return rc;
}

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

/* Column 0 of every row joined with ",". */
static const char *raw_list(const char *path, const char *sql)
{
	static char out[4096];
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	out[0] = '\0';
	if (sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK)
		while (sqlite3_step(st) == SQLITE_ROW) {
			const unsigned char *t = sqlite3_column_text(st, 0);
			n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", n ? "," : "",
					      t ? (const char *)t : "NULL");
			if (n >= sizeof out)
				break;
		}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

/* An event with id ID from /s, type TYPE, optional partition key. */
static int add(outbox *ob, const char *id, const char *source, const char *type, const char *key)
{
	char ev[512];
	errinfo err = { 0 };
	int n;
	if (key)
		n = snprintf(ev, sizeof ev,
			     "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"%s\",\"type\":\"%s\","
			     "\"partitionkey\":\"%s\",\"data\":{\"n\":1}}", id, source, type, key);
	else
		n = snprintf(ev, sizeof ev,
			     "{\"specversion\":\"1.0\",\"id\":\"%s\",\"source\":\"%s\",\"type\":\"%s\","
			     "\"data\":{\"n\":1}}", id, source, type);
	int res = 0;
	int rc = outbox_append_json(ob, ev, (size_t)n, &res, &err);
	if (rc)
		printf("# add %s: %s\n", id, err.text);
	return rc == 0 && res == OUTBOX_INSERTED ? 0 : -1;
}

/* The fixture: rows in every state, created_at 11:00:0<seq>, now 12:00.
 *  1 a1 k1 pending attempts 2, next 12:01 (not due: holds k1 back)
 *  2 a2 k1 pending due                 -> blocked behind 1
 *  3 a3 k2 pending attempts 1, next 11:59 (due)
 *  4 a4 k2 pending due                 -> not blocked (3 is due)
 *  5 a5 -  dead attempts 5, error with a newline
 *  6 a6 -  sent (type Other) at 11:30, topic t, partition 0, offset 42
 *  7 a7 -  sent at 11:45
 *  8 a8 k1 pending due                 -> blocked behind 1 */
static const char *fixture(const char *name)
{
	const char *p = path_of(name);
	static char path[512];
	snprintf(path, sizeof path, "%s", p);
	errinfo err = { 0 };
	outbox *ob = outbox_open(path, NULL, &err);
	if (!ob) {
		printf("# fixture: %s\n", err.text);
		return path;
	}
	int bad = 0;
	bad |= add(ob, "a1", "/s", "T", "k1");
	bad |= add(ob, "a2", "/s", "T", "k1");
	bad |= add(ob, "a3", "/s", "T", "k2");
	bad |= add(ob, "a4", "/s", "T", "k2");
	bad |= add(ob, "a5", "/s", "T", NULL);
	bad |= add(ob, "a6", "/s", "Other", NULL);
	bad |= add(ob, "a7", "/s", "T", NULL);
	bad |= add(ob, "a8", "/s", "T", "k1");
	outbox_close(ob);
	bad |= raw_exec(path,
			"UPDATE outbox SET created_at = '2026-11-30T11:00:0' || seq || '.000000Z';"
			"UPDATE outbox SET attempts = 2, next_attempt_at = '2026-11-30T12:01:00.000000Z',"
			" last_error = 'timeout' WHERE seq = 1;"
			"UPDATE outbox SET attempts = 1, next_attempt_at = '2026-11-30T11:59:00.000000Z'"
			" WHERE seq = 3;"
			"UPDATE outbox SET status = 'dead', attempts = 5,"
			" last_error = 'broker said:' || char(10) || 'no \"' WHERE seq = 5;"
			"UPDATE outbox SET status = 'sent', attempts = 1,"
			" sent_at = '2026-11-30T11:30:00.000000Z', topic = 't', kafka_partition = 0,"
			" kafka_offset = 42 WHERE seq = 6;"
			"UPDATE outbox SET status = 'sent', attempts = 1,"
			" sent_at = '2026-11-30T11:45:00.000000Z', topic = 't', kafka_partition = 1,"
			" kafka_offset = 7 WHERE seq = 7;");
	if (bad)
		printf("# fixture %s incomplete\n", name);
	return path;
}

static outbox_admin *open_admin(const char *path)
{
	errinfo err = { 0 };
	outbox_admin *a = outbox_admin_open(path, NULL, &err);
	if (!a)
		printf("# open %s: %s\n", path, err.text);
	return a;
}

/* Capture what a function writes to a FILE. */
typedef struct capture { char *data; size_t len; FILE *f; } capture;
static void cap_open(capture *c) { c->data = NULL; c->len = 0; c->f = open_memstream(&c->data, &c->len); }
static const char *cap_text(capture *c) { fflush(c->f); return c->data ? c->data : ""; }
static void cap_close(capture *c) { fclose(c->f); free(c->data); }

static void test_parse_time(void)
{
	int64_t us;
	CHECK_INT(outbox_admin_parse_age("90", &us), 0);
	CHECK_INT(us, 90000000);
	CHECK_INT(outbox_admin_parse_age("2h", &us), 0);
	CHECK_INT(us, 7200LL * 1000000);
	CHECK_INT(outbox_admin_parse_age("7d", &us), 0);
	CHECK_INT(us, 7LL * 86400 * 1000000);
	CHECK_INT(outbox_admin_parse_age("1w", &us), 0);
	CHECK_INT(us, 7LL * 86400 * 1000000);
	CHECK_INT(outbox_admin_parse_age("5m", &us), 0);
	CHECK_INT(us, 300000000);
	static const char *const bad[] = { "", "h", "-1h", "1x", "1 h", "1hh", "1.5h",
					   "99999999999999999999", "36601d", NULL };
	for (int i = 0; bad[i]; i++)
		CHECK_INT(outbox_admin_parse_age(bad[i], &us), -1);
	CHECK_INT(outbox_admin_parse_age(NULL, &us), -1);
	CHECK_INT(outbox_admin_parse_time("1h", NOW, &us), 0);
	CHECK_INT(us, NOW - 3600LL * 1000000);
	CHECK_INT(outbox_admin_parse_time("2026-11-30T13:00:00+01:00", NOW, &us), 0);
	CHECK_INT(us, NOW);
	CHECK_INT(outbox_admin_parse_time("2026-11-30", NOW, &us), -1);
	CHECK_INT(outbox_admin_parse_time("yesterday", NOW, &us), -1);
	int state = -1;
	CHECK_INT(outbox_admin_parse_state("dead", &state), 0);
	CHECK_INT(state, OUTBOX_DEAD);
	CHECK_INT(outbox_admin_parse_state("Dead", &state), -1);
}

static void test_open(void)
{
	errinfo err = { 0 };
	CHECK(outbox_admin_open(path_of("missing.db"), NULL, &err) == NULL);
	CHECK_INT(err.code, EXIT_CANTCREAT);
	CHECK(access(path_of("missing.db"), F_OK) != 0); /* never created */
	/* A database without the table is refused and left as it was. */
	const char *other = path_of("other.db");
	CHECK_INT(raw_exec(other, "CREATE TABLE t (x)"), SQLITE_OK);
	CHECK(outbox_admin_open(other, NULL, &err) == NULL);
	CHECK_INT(err.code, EXIT_CONFIG);
	CHECK(strstr(err.text, "no outbox table \"outbox\"") != NULL);
	CHECK_INT(raw_int(other, "SELECT count(*) FROM sqlite_master"), 1);
	CHECK_INT(raw_int(other, "PRAGMA user_version"), 0); /* outbox_open would create */
	outbox_options o = { .table = "x\"y" };
	CHECK(outbox_admin_open(path_of("missing.db"), &o, &err) == NULL);
	CHECK_INT(err.code, EXIT_USAGE);
}

static void test_status(void)
{
	const char *p = fixture("status.db");
	outbox_admin *a = open_admin(p);
	if (!a)
		return;
	errinfo err = { 0 };
	outbox_status s;
	CHECK_INT(outbox_admin_status(a, NOW, &s, &err), 0);
	CHECK_INT(s.pending, 5);
	CHECK_INT(s.due, 4);
	CHECK_INT(s.retrying, 2);
	CHECK_INT(s.blocked, 2);
	CHECK_INT(s.dead, 1);
	CHECK_INT(s.sent, 2);
	CHECK_INT(s.oldest_pending_age_s, 3599);
	CHECK_STR(s.oldest_pending_at, "2026-11-30T11:00:01.000000Z");
	CHECK_STR(s.last_sent_at, "2026-11-30T11:45:00.000000Z");
	CHECK_INT(s.last_sent_age_s, 900);

	capture c;
	cap_open(&c);
	CHECK_INT(outbox_admin_status_print(&s, OUTBOX_FMT_TEXT, NULL, c.f, &err), 0);
	CHECK_STR(cap_text(&c),
		  "pending                         5\n"
		  "  due                           4\n"
		  "  retrying                      2\n"
		  "  blocked                       2\n"
		  "dead                            1\n"
		  "sent                            2\n"
		  "oldest pending age          3599s  2026-11-30T11:00:01.000000Z\n"
		  "last sent age                900s  2026-11-30T11:45:00.000000Z\n");
	cap_close(&c);

	cap_open(&c);
	CHECK_INT(outbox_admin_status_print(&s, OUTBOX_FMT_JSON, NULL, c.f, &err), 0);
	const char *js = cap_text(&c);
	CHECK_STR(js, "{\"pending\":5,\"due\":4,\"retrying\":2,\"blocked\":2,\"dead\":1,\"sent\":2,"
		      "\"oldest_pending_created_at\":\"2026-11-30T11:00:01.000000Z\","
		      "\"oldest_pending_age_seconds\":3599,"
		      "\"last_sent_at\":\"2026-11-30T11:45:00.000000Z\",\"last_sent_age_seconds\":900}\n");
	cJSON *j = cJSON_Parse(js);
	CHECK(j != NULL && cJSON_GetObjectItem(j, "blocked")->valuedouble == 2);
	cJSON_Delete(j);
	cap_close(&c);

	cap_open(&c);
	CHECK_INT(outbox_admin_status_print(&s, OUTBOX_FMT_PROMETHEUS, "outbox", c.f, &err), 0);
	const char *prom = cap_text(&c);
	CHECK(strstr(prom, "# HELP outbox_pending Rows waiting to be published.\n"
			   "# TYPE outbox_pending gauge\n"
			   "outbox_pending{table=\"outbox\"} 5\n") != NULL);
	CHECK(strstr(prom, "\noutbox_blocked{table=\"outbox\"} 2\n") != NULL);
	CHECK(strstr(prom, "\noutbox_dead{table=\"outbox\"} 1\n") != NULL);
	CHECK(strstr(prom, "# TYPE outbox_oldest_pending_age_seconds gauge\n"
			   "outbox_oldest_pending_age_seconds{table=\"outbox\"} 3599\n") != NULL);
	CHECK(strstr(prom, "outbox_last_sent_timestamp_seconds{table=\"outbox\"} 1796039100.000000\n") != NULL);
	/* Every line is a comment or "name{labels} value". */
	int lines = 0, samples = 0;
	for (const char *l = prom; *l; l = strchr(l, '\n') + 1, lines++)
		if (*l != '#')
			samples++;
	CHECK_INT(samples, 8);
	CHECK_INT(lines, 24);
	cap_close(&c);

	/* An empty table: no ages, nulls in JSON, no last-sent sample. */
	CHECK_INT(raw_exec(p, "DELETE FROM outbox"), SQLITE_OK);
	CHECK_INT(outbox_admin_status(a, NOW, &s, &err), 0);
	CHECK_INT(s.pending + s.dead + s.sent, 0);
	CHECK_INT(s.oldest_pending_age_s, -1);
	cap_open(&c);
	CHECK_INT(outbox_admin_status_print(&s, OUTBOX_FMT_JSON, NULL, c.f, &err), 0);
	CHECK(strstr(cap_text(&c), "\"oldest_pending_created_at\":null,\"oldest_pending_age_seconds\":null,"
				   "\"last_sent_at\":null,\"last_sent_age_seconds\":null}") != NULL);
	cap_close(&c);
	cap_open(&c);
	CHECK_INT(outbox_admin_status_print(&s, OUTBOX_FMT_PROMETHEUS, NULL, c.f, &err), 0);
	CHECK(strstr(cap_text(&c), "outbox_oldest_pending_age_seconds{table=\"outbox\"} 0\n") != NULL);
	CHECK(strstr(cap_text(&c), "outbox_last_sent_timestamp_seconds{") == NULL);
	cap_close(&c);
	outbox_admin_close(a);
}

static void test_check(void)
{
	outbox_status s = { .pending = 5, .dead = 1, .oldest_pending_age_s = 3599 };
	errinfo err = { 0 };
	outbox_thresholds none = OUTBOX_THRESHOLDS_NONE;
	CHECK_INT(outbox_admin_check(&s, &none, &err), 0);
	outbox_thresholds at = { 3599, 5, 1 }; /* equal is within */
	CHECK_INT(outbox_admin_check(&s, &at, &err), 0);
	outbox_thresholds p = { -1, 3, -1 };
	CHECK_INT(outbox_admin_check(&s, &p, &err), EXIT_NO);
	CHECK_STR(err.text, "pending 5 > max-pending 3 (+2)");
	outbox_thresholds all = { 60, 0, 0 };
	CHECK_INT(outbox_admin_check(&s, &all, &err), EXIT_NO);
	CHECK_STR(err.text, "oldest pending age 3599s > max-age 60s (+3539s); pending 5 > "
			    "max-pending 0 (+5); dead 1 > max-dead 0 (+1)");
	/* Nothing pending: an age threshold holds. */
	outbox_status empty = { .oldest_pending_age_s = -1 };
	outbox_thresholds age = { 0, -1, -1 };
	CHECK_INT(outbox_admin_check(&empty, &age, &err), 0);
}

static void test_list(void)
{
	const char *p = fixture("list.db");
	outbox_admin *a = open_admin(p);
	if (!a)
		return;
	errinfo err = { 0 };
	capture c;
	uint64_t rows = 0;

	outbox_list_options o = { .sel = { .state = OUTBOX_DEAD } };
	cap_open(&c);
	CHECK_INT(outbox_admin_list(a, &o, c.f, stderr, &rows, &err), 0);
	static const char dead_line[] =
		"{\"specversion\":\"1.0\",\"id\":\"a5\",\"source\":\"/s\",\"type\":\"T\","
		"\"outboxattempts\":5,\"outboxcreated\":\"2026-11-30T11:00:05.000000Z\","
		"\"outboxerror\":\"broker said: no \\\"\",\"outboxseq\":\"5\","
		"\"outboxstatus\":\"dead\",\"data\":{\"n\":1}}\n";
	CHECK_STR(cap_text(&c), dead_line);
	CHECK_INT(rows, 1);
	/* Still a valid CloudEvent, and already canonical. */
	cloudevent ev;
	ce_error ce;
	CHECK_INT(ce_parse(&ev, dead_line, strlen(dead_line), &ce), 0);
	buf w = BUF_INIT(4096);
	CHECK_INT(ce_write_json(&ev, &w), 0);
	CHECK(w.len == strlen(dead_line) - 1 && !memcmp(w.data, dead_line, w.len));
	buf_free(&w);
	cap_close(&c);

	/* Sent rows: delivery fields between the partitionkey-less core and
	 * data; --type filter. */
	o.sel.state = OUTBOX_SENT;
	o.sel.type = "Other";
	cap_open(&c);
	CHECK_INT(outbox_admin_list(a, &o, c.f, stderr, &rows, &err), 0);
	CHECK_STR(cap_text(&c),
		  "{\"specversion\":\"1.0\",\"id\":\"a6\",\"source\":\"/s\",\"type\":\"Other\","
		  "\"outboxattempts\":1,\"outboxcreated\":\"2026-11-30T11:00:06.000000Z\","
		  "\"outboxoffset\":\"42\",\"outboxpartition\":0,"
		  "\"outboxsent\":\"2026-11-30T11:30:00.000000Z\",\"outboxseq\":\"6\","
		  "\"outboxstatus\":\"sent\",\"outboxtopic\":\"t\",\"data\":{\"n\":1}}\n");
	cap_close(&c);

	/* Pending rows in seq order, merged with the event's own partitionkey
	 * extension; --since and --limit. */
	o.sel.type = NULL;
	o.sel.state = OUTBOX_PENDING;
	o.sel.has_since = 1;
	o.sel.since_us = NOW - 3600LL * 1000000 + 2 * 1000000; /* 11:00:02 */
	o.limit = 2;
	cap_open(&c);
	CHECK_INT(outbox_admin_list(a, &o, c.f, stderr, &rows, &err), 0);
	CHECK_STR(cap_text(&c),
		  "{\"specversion\":\"1.0\",\"id\":\"a2\",\"source\":\"/s\",\"type\":\"T\","
		  "\"outboxattempts\":0,\"outboxcreated\":\"2026-11-30T11:00:02.000000Z\","
		  "\"outboxseq\":\"2\",\"outboxstatus\":\"pending\",\"partitionkey\":\"k1\","
		  "\"data\":{\"n\":1}}\n"
		  "{\"specversion\":\"1.0\",\"id\":\"a3\",\"source\":\"/s\",\"type\":\"T\","
		  "\"outboxattempts\":1,\"outboxcreated\":\"2026-11-30T11:00:03.000000Z\","
		  "\"outboxnext\":\"2026-11-30T11:59:00.000000Z\",\"outboxseq\":\"3\","
		  "\"outboxstatus\":\"pending\",\"partitionkey\":\"k2\",\"data\":{\"n\":1}}\n");
	CHECK_INT(rows, 2);
	cap_close(&c);

	/* --events: the stored events as they are, every state. */
	outbox_list_options e = { .sel = { .state = OUTBOX_ANY }, .events = 1 };
	cap_open(&c);
	CHECK_INT(outbox_admin_list(a, &e, c.f, stderr, &rows, &err), 0);
	CHECK_INT(rows, 8);
	const char *t = cap_text(&c);
	static const char first[] =
		"{\"specversion\":\"1.0\",\"id\":\"a1\",\"source\":\"/s\",\"type\":\"T\","
		"\"partitionkey\":\"k1\",\"data\":{\"n\":1}}\n{";
	CHECK(!strncmp(t, first, strlen(first)));
	CHECK(strstr(t, "outbox") == NULL);
	cap_close(&c);

	/* By ids, several sources. */
	outbox_list_options byid = { .sel = { .ids = (const char *[]){ "a7", "a1" }, .n_ids = 2 },
				     .events = 1 };
	cap_open(&c);
	CHECK_INT(outbox_admin_list(a, &byid, c.f, NULL, &rows, &err), 0);
	CHECK_INT(rows, 2);
	CHECK(strstr(cap_text(&c), "\"id\":\"a1\"") < strstr(cap_text(&c), "\"id\":\"a7\""));
	cap_close(&c);
	outbox_admin_close(a);
}

/* Rows written by other programs: an event with its own outbox*
 * extensions, one with extensions on both sides of ours, a broken one. */
static void test_list_foreign_rows(void)
{
	const char *p = path_of("foreign.db");
	errinfo err = { 0 };
	outbox *ob = outbox_open(p, NULL, &err);
	CHECK(ob != NULL);
	outbox_close(ob);
	CHECK_INT(raw_exec(p,
			   "INSERT INTO outbox (id, source, type, event, created_at) VALUES "
			   "('x1', '/s', 'T', '{\"specversion\":\"1.0\",\"id\":\"x1\",\"source\":\"/s\","
			   "\"type\":\"T\",\"time\":\"2026-11-30T10:00:00Z\",\"aa\":1,\"outboxseq\":\"99\","
			   "\"zz\":true,\"data_base64\":\"AAE=\"}', '2026-11-30T11:00:00.000000Z'),"
			   "('x2', '/s', 'T', '{\"specversion\":\"1.0\",\"id\":\"x2\"}',"
			   " '2026-11-30T11:00:00.000000Z'),"
			   "('x3', '/s', 'T', '{ \"type\" : \"T\", \"specversion\":\"1.0\",\"id\":\"x3\",\"source\":\"/s\"}',"
			   " '2026-11-30T11:00:00.000000Z');"
			   "UPDATE outbox SET last_error = 'tab' || char(9) || 'bel' || char(7) || 'x'"
			   " || char(133) WHERE seq = 3;"),
		  SQLITE_OK);
	outbox_admin *a = open_admin(p);
	if (!a)
		return;
	capture c, info;
	uint64_t rows = 0;
	outbox_list_options o = { .sel = { .state = OUTBOX_PENDING } };
	cap_open(&c);
	cap_open(&info);
	CHECK_INT(outbox_admin_list(a, &o, c.f, info.f, &rows, &err), EXIT_DATAERR);
	CHECK_INT(rows, 2);
	CHECK(strstr(err.text, "1 stored event(s) are not valid CloudEvents") != NULL);
	CHECK(strstr(cap_text(&info), "seq 2: stored event is not a valid CloudEvent: source:") != NULL);
	const char *want =
		"{\"specversion\":\"1.0\",\"id\":\"x1\",\"source\":\"/s\",\"type\":\"T\","
		"\"time\":\"2026-11-30T10:00:00Z\",\"aa\":1,\"outboxattempts\":0,"
		"\"outboxcreated\":\"2026-11-30T11:00:00.000000Z\",\"outboxseq\":\"1\","
		"\"outboxstatus\":\"pending\",\"zz\":true,\"data_base64\":\"AAE=\"}\n"
		/* not canonical as stored: written canonically; controls in
		 * last_error replaced, so the line still parses */
		"{\"specversion\":\"1.0\",\"id\":\"x3\",\"source\":\"/s\",\"type\":\"T\","
		"\"outboxattempts\":0,\"outboxcreated\":\"2026-11-30T11:00:00.000000Z\","
		"\"outboxerror\":\"tab bel?x?\",\"outboxseq\":\"3\",\"outboxstatus\":\"pending\"}\n";
	CHECK_STR(cap_text(&c), want);
	/* Each line parses and is canonical. */
	const char *l = cap_text(&c);
	for (int i = 0; i < 2; i++) {
		const char *nl = strchr(l, '\n');
		cloudevent ev;
		ce_error ce;
		CHECK(nl && ce_parse(&ev, l, (size_t)(nl - l), &ce) == 0);
		CHECK(nl && ev.canonical.n == (size_t)(nl - l));
		l = nl ? nl + 1 : l;
	}
	cap_close(&c);
	cap_close(&info);
	outbox_admin_close(a);
}

static void test_requeue_ids(void)
{
	const char *p = fixture("requeue-ids.db");
	errinfo err = { 0 };
	outbox *ob = outbox_open(p, NULL, &err);
	CHECK(ob != NULL && add(ob, "a5", "/other", "T", NULL) == 0); /* seq 9, same id */
	outbox_close(ob);
	CHECK_INT(raw_exec(p, "UPDATE outbox SET status = 'dead', last_error = 'x' WHERE seq = 9"), 0);
	outbox_admin *a = open_admin(p);
	if (!a)
		return;
	capture out, info;
	outbox_requeue_result r;

	/* Dry run: reports both sources of a5 and the sent a6, changes nothing. */
	outbox_requeue_options o = { .sel = { .ids = (const char *[]){ "a6", "a5" }, .n_ids = 2 },
				     .dry_run = 1 };
	cap_open(&out);
	cap_open(&info);
	CHECK_INT(outbox_admin_requeue(a, &o, out.f, info.f, &r, &err), 0);
	CHECK_STR(cap_text(&out),
		  "{\"seq\":5,\"source\":\"/s\",\"id\":\"a5\",\"type\":\"T\",\"status\":\"dead\"}\n"
		  "{\"seq\":6,\"source\":\"/s\",\"id\":\"a6\",\"type\":\"Other\",\"status\":\"sent\"}\n"
		  "{\"seq\":9,\"source\":\"/other\",\"id\":\"a5\",\"type\":\"T\",\"status\":\"dead\"}\n");
	CHECK(strstr(cap_text(&info), ": would requeue 3 row(s) (2 dead, 1 sent, 0 pending)\n") != NULL);
	CHECK_INT(r.rows, 3);
	CHECK_STR(raw_list(p, "SELECT status FROM outbox WHERE seq IN (5, 6, 9) ORDER BY seq"),
		  "dead,sent,dead");
	cap_close(&out);
	cap_close(&info);

	/* --source narrows; an id that matches nothing is 1 after the rest. */
	o.dry_run = 0;
	o.sel.source = "/other";
	o.sel.ids = (const char *[]){ "a5", "nope", "a5" };
	o.sel.n_ids = 3;
	CHECK_INT(outbox_admin_requeue(a, &o, NULL, NULL, &r, &err), EXIT_NO);
	CHECK(strstr(err.text, "1 id(s) matched no row (first: nope)") != NULL);
	CHECK_INT(r.rows, 1);
	CHECK_INT(r.ids_unmatched, 1);
	CHECK_STR(raw_list(p, "SELECT status || ':' || attempts || ':' || coalesce(last_error, 'NULL')"
			      " FROM outbox WHERE seq IN (5, 9) ORDER BY seq"),
		  "dead:5:broker said:\nno \",pending:0:NULL");

	/* A sent row by id: re-published, every delivery column cleared. */
	o.sel.source = NULL;
	o.sel.ids = (const char *[]){ "a6" };
	o.sel.n_ids = 1;
	CHECK_INT(outbox_admin_requeue(a, &o, NULL, NULL, &r, &err), 0);
	CHECK_INT(r.sent, 1);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM outbox WHERE seq = 6 AND status = 'pending' AND "
			     "attempts = 0 AND next_attempt_at IS NULL AND last_error IS NULL AND "
			     "sent_at IS NULL AND topic IS NULL AND kafka_partition IS NULL AND "
			     "kafka_offset IS NULL"),
		  1);
	/* A pending row by id: made due now (the retry-now use). */
	o.sel.ids = (const char *[]){ "a1" };
	CHECK_INT(outbox_admin_requeue(a, &o, NULL, NULL, &r, &err), 0);
	CHECK_INT(raw_int(p, "SELECT attempts + (next_attempt_at IS NOT NULL) FROM outbox WHERE seq = 1"), 0);
	outbox_admin_close(a);
}

static void test_requeue_selection(void)
{
	const char *p = fixture("requeue-sel.db");
	/* Twelve more dead rows, seq 9..20, types D and T alternating. */
	CHECK_INT(raw_exec(p,
			   "WITH RECURSIVE n(i) AS (SELECT 9 UNION ALL SELECT i + 1 FROM n WHERE i < 20) "
			   "INSERT INTO outbox (id, source, type, event, status, attempts, last_error, created_at) "
			   "SELECT 'd' || i, '/s', CASE i % 2 WHEN 0 THEN 'D' ELSE 'T' END,"
			   " json_object('specversion', '1.0', 'id', 'd' || i, 'source', '/s', 'type',"
			   "  CASE i % 2 WHEN 0 THEN 'D' ELSE 'T' END),"
			   " 'dead', 3, 'gone', printf('2026-11-30T11:00:%02d.000000Z', i) FROM n"),
		  SQLITE_OK);
	outbox_admin *a = open_admin(p);
	if (!a)
		return;
	errinfo err = { 0 };
	outbox_requeue_result r;

	/* Sent rows need a type; the state alone is refused. */
	outbox_requeue_options o = { .sel = { .state = OUTBOX_SENT } };
	CHECK_INT(outbox_admin_requeue(a, &o, NULL, NULL, &r, &err), EXIT_USAGE);
	o.sel.state = OUTBOX_PENDING;
	CHECK_INT(outbox_admin_requeue(a, &o, NULL, NULL, &r, &err), EXIT_USAGE);

	/* --type T: dead rows only by default (not pending or sent a7),
	 * since 11:00:12, in chunks of 2. */
	o = (outbox_requeue_options){ .sel = { .type = "T", .has_since = 1,
					       .since_us = NOW - 3600LL * 1000000 + 12 * 1000000 },
				      .chunk = 2 };
	CHECK_INT(outbox_admin_requeue(a, &o, NULL, NULL, &r, &err), 0);
	CHECK_INT(r.rows, 4); /* 13, 15, 17, 19 */
	CHECK_STR(raw_list(p, "SELECT seq FROM outbox WHERE status = 'pending' AND seq > 8 ORDER BY seq"),
		  "13,15,17,19");
	CHECK_STR(raw_list(p, "SELECT status FROM outbox WHERE seq = 7"), "sent");

	/* --type Other --status sent: the manual replay. */
	o = (outbox_requeue_options){ .sel = { .type = "Other", .state = OUTBOX_SENT } };
	CHECK_INT(outbox_admin_requeue(a, &o, NULL, NULL, &r, &err), 0);
	CHECK_INT(r.sent, 1);
	CHECK_STR(raw_list(p, "SELECT status FROM outbox WHERE seq IN (6, 7) ORDER BY seq"), "pending,sent");

	/* --dead, chunk 3, with a stop request after the first chunk. */
	static volatile sig_atomic_t stop = 0;
	o = (outbox_requeue_options){ .sel = { .state = OUTBOX_DEAD }, .chunk = 3, .stop = &stop };
	stop = 1;
	CHECK_INT(outbox_admin_requeue(a, &o, NULL, NULL, &r, &err), EXIT_TEMPFAIL);
	CHECK_INT(r.rows, 0);
	stop = 0;
	capture out;
	cap_open(&out);
	CHECK_INT(outbox_admin_requeue(a, &o, out.f, NULL, &r, &err), 0);
	CHECK_INT(r.rows, 9); /* 5, 9, 10, 11, 12, 14, 16, 18, 20 */
	CHECK_INT(r.dead, 9);
	const char *t = cap_text(&out);
	CHECK(!strncmp(t, "{\"seq\":5,", 9));
	CHECK(strstr(t, "{\"seq\":20,\"source\":\"/s\",\"id\":\"d20\",\"type\":\"D\",\"status\":\"dead\"}\n") != NULL);
	cap_close(&out);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM outbox WHERE status = 'dead'"), 0);
	/* Nothing left to requeue is not an error. */
	CHECK_INT(outbox_admin_requeue(a, &o, NULL, NULL, &r, &err), 0);
	CHECK_INT(r.rows, 0);
	outbox_admin_close(a);
}

static void test_purge(void)
{
	const char *p = fixture("purge.db");
	/* Ten more sent rows, seq 9..18, sent at 11:00:09..18; and a sent row
	 * as the newest (seq 19), old enough but kept to keep seq unique. */
	CHECK_INT(raw_exec(p,
			   "WITH RECURSIVE n(i) AS (SELECT 9 UNION ALL SELECT i + 1 FROM n WHERE i < 19) "
			   "INSERT INTO outbox (id, source, type, event, status, sent_at, created_at) "
			   "SELECT 'p' || i, '/s', 'T', json_object('specversion', '1.0', 'id', 'p' || i,"
			   " 'source', '/s', 'type', 'T'), 'sent', printf('2026-11-30T11:00:%02d.000000Z', i),"
			   " '2026-11-30T10:00:00.000000Z' FROM n"),
		  SQLITE_OK);
	outbox_admin *a = open_admin(p);
	if (!a)
		return;
	errinfo err = { 0 };
	outbox_purge_result r;
	capture info;

	outbox_purge_options none = { 0 };
	CHECK_INT(outbox_admin_purge(a, &none, NULL, &r, &err), EXIT_USAGE);

	/* Sent before 11:40: seq 6 (11:30) and 9..19 but not 19 (newest), not
	 * 7 (11:45); dry run first. */
	outbox_purge_options o = { .has_sent_before = 1,
				   .sent_before_us = NOW - 20LL * 60 * 1000000, .chunk = 3,
				   .dry_run = 1 };
	cap_open(&info);
	CHECK_INT(outbox_admin_purge(a, &o, info.f, &r, &err), 0);
	CHECK_INT(r.sent, 11);
	CHECK(strstr(cap_text(&info), ": would purge 11 sent and 0 dead row(s)\n") != NULL);
	cap_close(&info);
	CHECK_INT(raw_int(p, "SELECT count(*) FROM outbox"), 19);

	o.dry_run = 0;
	CHECK_INT(outbox_admin_purge(a, &o, NULL, &r, &err), 0);
	CHECK_INT(r.sent, 11);
	CHECK_INT(r.transactions, 4); /* 3 + 3 + 3 + 2 */
	CHECK_STR(raw_list(p, "SELECT seq FROM outbox ORDER BY seq"), "1,2,3,4,5,7,8,19");
	/* Again: nothing left. Dead rows only when asked. */
	CHECK_INT(outbox_admin_purge(a, &o, NULL, &r, &err), 0);
	CHECK_INT(r.sent + r.transactions, 0);
	o = (outbox_purge_options){ .has_dead_before = 1, .dead_before_us = NOW };
	CHECK_INT(outbox_admin_purge(a, &o, NULL, &r, &err), 0);
	CHECK_INT(r.dead, 1);
	CHECK_STR(raw_list(p, "SELECT seq FROM outbox ORDER BY seq"), "1,2,3,4,7,8,19");
	/* Pending rows are never purged, whatever the bounds. */
	o = (outbox_purge_options){ .has_dead_before = 1, .dead_before_us = NOW + 86400000000LL,
				    .has_sent_before = 1, .sent_before_us = NOW + 86400000000LL };
	CHECK_INT(outbox_admin_purge(a, &o, NULL, &r, &err), 0);
	CHECK_STR(raw_list(p, "SELECT seq FROM outbox ORDER BY seq"), "1,2,3,4,8,19");
	outbox_admin_close(a);
}

/* Another process writing while purge and requeue run: a progress handler
 * on the admin connection commits a row through a second connection
 * whenever the admin connection holds no write lock (between and before
 * its write transactions, e.g. while it reads max(seq)). */
static sqlite3 *other_db;
static int other_writes, other_tries;
static int write_meanwhile(void *unused)
{
	(void)unused;
	if (other_tries >= 400)
		return 0;
	other_tries++;
	char sql[256];
	snprintf(sql, sizeof sql,
		 "INSERT INTO outbox (id, source, type, event) VALUES ('w%d', '/w', 'T', "
		 "'{\"specversion\":\"1.0\",\"id\":\"w%d\",\"source\":\"/w\",\"type\":\"T\"}')",
		 other_writes, other_writes);
	if (sqlite3_exec(other_db, sql, NULL, NULL, NULL) == SQLITE_OK)
		other_writes++;
	return 0;
}

static void test_concurrent_writer(void)
{
	const char *p = fixture("concurrent.db");
	CHECK_INT(raw_exec(p,
			   "WITH RECURSIVE n(i) AS (SELECT 9 UNION ALL SELECT i + 1 FROM n WHERE i < 40) "
			   "INSERT INTO outbox (id, source, type, event, status, sent_at) "
			   "SELECT 'p' || i, '/s', 'T', '{}', 'sent', '2026-11-30T11:00:00.000000Z' FROM n"),
		  SQLITE_OK);
	outbox_options opt = { .busy_ms = 2000 };
	errinfo err = { 0 };
	outbox_admin *a = outbox_admin_open(p, &opt, &err);
	CHECK(a != NULL);
	if (!a)
		return;
	CHECK_INT(sqlite3_open(p, &other_db), SQLITE_OK);
	sqlite3_busy_timeout(other_db, 0);
	other_writes = other_tries = 0;
	sqlite3_progress_handler(outbox_db(outbox_admin_outbox(a)), 1, write_meanwhile, NULL);
	outbox_purge_result r;
	outbox_purge_options o = { .has_sent_before = 1, .sent_before_us = NOW, .chunk = 4 };
	CHECK_INT(outbox_admin_purge(a, &o, NULL, &r, &err), 0);
	if (err.code)
		printf("# %s\n", err.text);
	CHECK_INT(r.sent, 33); /* 6, 7, 9..39: 40 was the newest row when it began */
	CHECK(other_writes > 0);
	int before = other_writes;
	other_tries = 0;
	outbox_requeue_result rr;
	outbox_requeue_options ro = { .sel = { .state = OUTBOX_PENDING, .type = "T" }, .chunk = 2 };
	CHECK_INT(outbox_admin_requeue(a, &ro, NULL, NULL, &rr, &err), 0);
	if (err.code)
		printf("# %s\n", err.text);
	CHECK(other_writes > before);
	sqlite3_progress_handler(outbox_db(outbox_admin_outbox(a)), 0, NULL, NULL);
	outbox_admin_close(a);
	sqlite3_close(other_db);
	/* Every row the other connection wrote is there, pending. */
	CHECK_INT(raw_int(p, "SELECT count(*) FROM outbox WHERE source = '/w' AND status = 'pending'"),
		  other_writes);
	CHECK_STR(raw_list(p, "SELECT seq FROM outbox WHERE status = 'sent'"), "40");
}

/* Another connection holds the write lock: writes fail with 75 at once
 * (no busy wait), nothing half-done; reads still work (WAL). */
static void test_locked(void)
{
	const char *p = fixture("locked.db");
	outbox_options opt = { .busy_ms = OUTBOX_NO_WAIT };
	errinfo err = { 0 };
	outbox_admin *a = outbox_admin_open(p, &opt, &err);
	CHECK(a != NULL);
	if (!a)
		return;
	sqlite3 *db;
	CHECK_INT(sqlite3_open(p, &db), SQLITE_OK);
	CHECK_INT(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	outbox_requeue_result r;
	outbox_requeue_options o = { .sel = { .state = OUTBOX_DEAD } };
	CHECK_INT(outbox_admin_requeue(a, &o, NULL, NULL, &r, &err), EXIT_TEMPFAIL);
	CHECK(strstr(err.text, "locked") != NULL);
	outbox_purge_result pr;
	outbox_purge_options po = { .has_sent_before = 1, .sent_before_us = NOW };
	CHECK_INT(outbox_admin_purge(a, &po, NULL, &pr, &err), EXIT_TEMPFAIL);
	outbox_status s;
	CHECK_INT(outbox_admin_status(a, NOW, &s, &err), 0);
	CHECK_INT(s.dead, 1);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	/* The handle works again once the lock is gone. */
	CHECK_INT(outbox_admin_requeue(a, &o, NULL, NULL, &r, &err), 0);
	CHECK_INT(r.rows, 1);
	outbox_admin_close(a);
}

/* A table name other than the default, and a write error on out. */
static void test_table_and_write_error(void)
{
	const char *p = path_of("named.db");
	errinfo err = { 0 };
	outbox_options opt = { .table = "events_out" };
	outbox *ob = outbox_open(p, &opt, &err);
	CHECK(ob != NULL && add(ob, "n1", "/s", "T", NULL) == 0);
	outbox_close(ob);
	outbox_admin *a = outbox_admin_open(p, &opt, &err);
	CHECK(a != NULL);
	if (!a)
		return;
	outbox_status s;
	CHECK_INT(outbox_admin_status(a, NOW, &s, &err), 0);
	CHECK_INT(s.pending, 1);
	FILE *full = fopen("/dev/full", "w");
	if (full) {
		outbox_list_options o = { .sel = { .state = OUTBOX_ANY } };
		CHECK_INT(outbox_admin_list(a, &o, full, NULL, NULL, &err), EXIT_IOERR);
		CHECK_INT(outbox_admin_status_print(&s, OUTBOX_FMT_JSON, NULL, full, &err), EXIT_IOERR);
		fclose(full);
	}
	outbox_admin_close(a);
}

int main(void)
{
	snprintf(dir, sizeof dir, "%s/test_outbox_admin.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	if (rfc3339_parse_us("2026-11-30T12:00:00Z", 20, &NOW) != 0)
		return 1;
	RUN(test_parse_time);
	RUN(test_open);
	RUN(test_status);
	RUN(test_check);
	RUN(test_list);
	RUN(test_list_foreign_rows);
	RUN(test_requeue_ids);
	RUN(test_requeue_selection);
	RUN(test_purge);
	RUN(test_locked);
	RUN(test_concurrent_writer);
	RUN(test_table_and_write_error);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return unit_done();
}
