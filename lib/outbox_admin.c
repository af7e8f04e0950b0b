/* outbox_admin.c - status, list, requeue and purge over an outbox table.
 * See outbox_admin.h for the contract and man/outbox-relay.1 for the
 * commands. Every value from the user is a bound parameter; SQL text is
 * assembled only from the fixed fragments below and the validated,
 * double-quoted table name. */
#include "outbox_admin.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cloudevent.h"
#include "exitcode.h"
#include "sqlerr.h"
#include "json.h"
#include "timefmt.h"
#include "utf8.h"

#define DEFAULT_CHUNK 1000u
#define SQL_MAX 4096
#define LINE_MAX_BYTES ((size_t)64 << 20)

struct outbox_admin {
	outbox *ob;
	sqlite3 *db;
	char *path;
	char qtable[OUTBOX_TABLE_MAX + 3];
	buf sql;    /* statement text being assembled */
	buf line;   /* output line */
	buf canon;  /* canonical event of the row being listed */
	buf vals;   /* extension value tokens of that row */
};

/* The one SQLite mapping (sqlerr.h). */
static int fail(outbox_admin *a, int rc, const char *what, errinfo *err)
{
	return sqlerr_fail(a->db, rc, a->path, what, err);
}

static int oom(outbox_admin *a, errinfo *err)
{
	return errinfo_set(err, EXIT_SOFTWARE, "%s: out of memory", a->path);
}

static int write_failed(outbox_admin *a, errinfo *err)
{
	return errinfo_set(err, EXIT_IOERR, "%s: writing output: %s", a->path,
			   strerror(errno ? errno : EIO));
}


outbox_admin *outbox_admin_open(const char *path, const outbox_options *opt, errinfo *err)
{
	outbox_options o = { 0 };
	if (opt)
		o = *opt;
	o.no_create = 1;
	/* no_create: an inspection command pointed at the wrong file or table
	 * is refused (78), never given a new table. */
	const char *table = o.table ? o.table : OUTBOX_DEFAULT_TABLE;
	outbox *ob = outbox_open(path, &o, err);
	if (!ob)
		return NULL;
	outbox_admin *a = calloc(1, sizeof *a);
	if (!a || !(a->path = strdup(path))) {
		free(a);
		outbox_close(ob);
		errinfo_set(err, EXIT_SOFTWARE, "%s: out of memory", path);
		return NULL;
	}
	a->ob = ob;
	a->db = outbox_db(ob);
	/* outbox_open validated the name: quoting cannot be escaped. */
	snprintf(a->qtable, sizeof a->qtable, "\"%s\"", table);
	buf_init(&a->sql, SQL_MAX);
	buf_init(&a->line, LINE_MAX_BYTES);
	buf_init(&a->canon, LINE_MAX_BYTES);
	buf_init(&a->vals, LINE_MAX_BYTES);
	return a;
}

void outbox_admin_close(outbox_admin *a)
{
	if (!a)
		return;
	outbox_close(a->ob);
	buf_free(&a->sql);
	buf_free(&a->line);
	buf_free(&a->canon);
	buf_free(&a->vals);
	free(a->path);
	free(a);
}

outbox *outbox_admin_outbox(outbox_admin *a) { return a->ob; }

static const char *const state_names[] = { "any", "pending", "sent", "dead" };

int outbox_admin_parse_state(const char *s, int *state)
{
	for (int i = 0; i < 4; i++)
		if (s && !strcmp(s, state_names[i])) {
			*state = i;
			return 0;
		}
	return -1;
}

int outbox_admin_parse_age(const char *s, int64_t *us)
{
	if (!s || *s < '0' || *s > '9')
		return -1;
	uint64_t v = 0;
	const char *p = s;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > UINT64_MAX / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	uint64_t mult;
	if (!*p || !strcmp(p, "s"))
		mult = 1;
	else if (!strcmp(p, "m"))
		mult = 60;
	else if (!strcmp(p, "h"))
		mult = 3600;
	else if (!strcmp(p, "d"))
		mult = 86400;
	else if (!strcmp(p, "w"))
		mult = 7 * 86400;
	else
		return -1;
	/* 100 years bounds the product well inside int64 microseconds. */
	const uint64_t max_s = (uint64_t)100 * 366 * 86400;
	if (v > max_s / mult)
		return -1;
	*us = (int64_t)(v * mult) * 1000000;
	return 0;
}

int outbox_admin_parse_time(const char *s, int64_t now_us, int64_t *us)
{
	int64_t age;
	if (!s)
		return -1;
	if (outbox_admin_parse_age(s, &age) == 0) {
		*us = now_us - age;
		return 0;
	}
	return rfc3339_parse_us(s, strlen(s), us);
}

/* ---- SQL helpers ---- */

/* Prepare text with every "{T}" replaced by the quoted table name. */
static int prepare(outbox_admin *a, const char *tmpl, sqlite3_stmt **st, errinfo *err)
{
	buf_reset(&a->sql);
	for (const char *p = tmpl; *p;) {
		int rc;
		if (!strncmp(p, "{T}", 3)) {
			rc = buf_puts(&a->sql, a->qtable);
			p += 3;
		} else {
			rc = buf_putc(&a->sql, *p++);
		}
		if (rc != 0)
			return errinfo_set(err, EXIT_SOFTWARE, "%s: statement too long", a->path);
	}
	int rc = sqlite3_prepare_v2(a->db, a->sql.data, -1, st, NULL);
	if (rc != SQLITE_OK) {
		*st = NULL;
		return fail(a, rc, "preparing a query", err);
	}
	return 0;
}

static int exec(outbox_admin *a, const char *sql, const char *what, errinfo *err)
{
	int rc = sqlite3_exec(a->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : fail(a, rc, what, err);
}

static void end_txn(outbox_admin *a)
{
	if (!sqlite3_get_autocommit(a->db))
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
}

static int64_t mono_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* After a write chunk that held the lock since start_us, stay away as long
 * again (at most 100 ms). SQLite's busy handler polls a waiting writer at
 * 1..100 ms intervals: if the next chunk took the lock again at once, the
 * gap would be microseconds and an application writer could wait out its
 * whole busy timeout. Half the time free gives it a fair chance at every
 * poll. A signal cuts the pause short (the caller then sees its stop). */
static void yield_lock(int64_t start_us)
{
	int64_t d = mono_us() - start_us;
	if (d <= 0)
		return;
	if (d > 100000)
		d = 100000;
	struct timespec ts = { (time_t)(d / 1000000), (long)(d % 1000000) * 1000 };
	nanosleep(&ts, NULL);
}

static int bind_text(sqlite3_stmt *st, int idx, const char *s)
{
	return sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT);
}

static int bind_time(sqlite3_stmt *st, int idx, int64_t us)
{
	char t[TIMEFMT_MICROS_LEN + 1];
	rfc3339_format_us(us, t);
	return sqlite3_bind_text(st, idx, t, TIMEFMT_MICROS_LEN, SQLITE_TRANSIENT);
}

static uint64_t col_u64(sqlite3_stmt *st, int i)
{
	sqlite3_int64 v = sqlite3_column_int64(st, i);
	return v < 0 ? 0 : (uint64_t)v;
}

static void col_copy(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* ---- JSON strings from table text ---- */

static int is_noncharacter(long cp)
{
	return (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe;
}

/* Append s[0..n) as a JSON string token. Invalid UTF-8 bytes become '?'.
 * With ce_safe, also what a CloudEvents String may not hold (U+0000-001F,
 * U+007F-009F, noncharacters) becomes ' ' (tab, CR, LF) or '?', so the
 * value passes ce_parse: a last_error with a newline stays one line. */
static int put_string(buf *out, const char *s, size_t n, int ce_safe)
{
	if (!ce_safe && utf8_valid(s, n))
		return json_string_encode(out, s, n);
	buf tmp = BUF_INIT(n + 1);
	int rc = 0;
	size_t i = 0;
	while (i < n && rc == 0) {
		size_t ok = utf8_valid_prefix(s + i, n - i);
		size_t j = i;
		while (j < i + ok && rc == 0) {
			unsigned char c = (unsigned char)s[j];
			size_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
			long cp = c;
			if (len == 2)
				cp = ((c & 0x1f) << 6) | (s[j + 1] & 0x3f);
			else if (len == 3)
				cp = ((c & 0x0f) << 12) | ((s[j + 1] & 0x3f) << 6) | (s[j + 2] & 0x3f);
			else if (len == 4)
				cp = ((long)(c & 0x07) << 18) | ((s[j + 1] & 0x3f) << 12) |
				     ((s[j + 2] & 0x3f) << 6) | (s[j + 3] & 0x3f);
			if (ce_safe && (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || is_noncharacter(cp)))
				rc = buf_putc(&tmp, cp == '\t' || cp == '\n' || cp == '\r' ? ' ' : '?');
			else
				rc = buf_append(&tmp, s + j, len);
			j += len;
		}
		i += ok;
		if (i < n && rc == 0) {
			rc = buf_putc(&tmp, '?');
			i++;
		}
	}
	if (rc == 0)
		rc = json_string_encode(out, tmp.data ? tmp.data : "", tmp.len);
	buf_free(&tmp);
	return rc;
}

static int put_col_string(buf *out, sqlite3_stmt *st, int i, int ce_safe)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	return put_string(out, t ? t : "", (size_t)sqlite3_column_bytes(st, i), ce_safe);
}

/* ---- status ---- */

/* One pass over the pending rows through the partial index. */
static const char q_pending[] =
	"SELECT count(*), "
	"  coalesce(sum(next_attempt_at IS NULL OR next_attempt_at <= ?1), 0), "
	"  coalesce(sum(attempts > 0), 0), min(created_at) "
	"FROM {T} WHERE status = 'pending'";

/* Per key, the first pending row that is not due; every later pending row
 * of that key is blocked. The CTE reads pending rows only (partial index);
 * the join probes it through an automatic index on k. */
static const char q_blocked[] =
	"WITH held(k, s) AS ("
	"  SELECT partition_key, min(seq) FROM {T} "
	"  WHERE status = 'pending' AND partition_key IS NOT NULL AND next_attempt_at > ?1 "
	"  GROUP BY partition_key) "
	"SELECT count(*) FROM {T} AS r JOIN held ON r.partition_key = held.k "
	"WHERE r.status = 'pending' AND r.seq > held.s";

/* Dead and sent have no index (outbox(5) indexes pending rows only): one
 * full scan, which also finds the last success. */
static const char q_history[] =
	"SELECT coalesce(sum(status = 'dead'), 0), coalesce(sum(status = 'sent'), 0), "
	"  max(sent_at) FROM {T}";

static int64_t age_of(const char *t, int64_t now_us)
{
	int64_t us;
	if (!*t || rfc3339_parse_us(t, strlen(t), &us) != 0)
		return -1;
	return us >= now_us ? 0 : (now_us - us) / 1000000;
}

int outbox_admin_status(outbox_admin *a, int64_t now_us, outbox_status *s, errinfo *err)
{
	memset(s, 0, sizeof *s);
	s->now_us = now_us;
	s->oldest_pending_age_s = -1;
	s->last_sent_age_s = -1;
	/* One read transaction: every count sees the same instant. */
	int status = exec(a, "BEGIN", "reading the status", err);
	const char *const queries[] = { q_pending, q_blocked, q_history };
	for (int q = 0; q < 3 && status == 0; q++) {
		sqlite3_stmt *st;
		status = prepare(a, queries[q], &st, err);
		if (status)
			break;
		int rc = q < 2 ? bind_time(st, 1, now_us) : SQLITE_OK;
		if (rc == SQLITE_OK)
			rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			if (q == 0) {
				s->pending = col_u64(st, 0);
				s->due = col_u64(st, 1);
				s->retrying = col_u64(st, 2);
				col_copy(st, 3, s->oldest_pending_at, sizeof s->oldest_pending_at);
			} else if (q == 1) {
				s->blocked = col_u64(st, 0);
			} else {
				s->dead = col_u64(st, 0);
				s->sent = col_u64(st, 1);
				col_copy(st, 2, s->last_sent_at, sizeof s->last_sent_at);
			}
			rc = SQLITE_DONE;
		}
		if (rc != SQLITE_DONE)
			status = fail(a, rc, "reading the status", err);
		sqlite3_finalize(st);
	}
	if (status == 0)
		status = exec(a, "COMMIT", "reading the status", err);
	end_txn(a);
	if (status == 0) {
		s->oldest_pending_age_s = age_of(s->oldest_pending_at, now_us);
		s->last_sent_age_s = age_of(s->last_sent_at, now_us);
	}
	return status;
}

static int put_json_opt_time(buf *b, const char *name, const char *t, int64_t age, const char *agename)
{
	int rc = buf_printf(b, ",\"%s\":", name);
	if (rc == 0)
		rc = *t ? put_string(b, t, strlen(t), 0) : buf_puts(b, "null");
	if (rc == 0)
		rc = age < 0 ? buf_printf(b, ",\"%s\":null", agename)
			     : buf_printf(b, ",\"%s\":%" PRId64, agename, age);
	return rc;
}

static int status_json(const outbox_status *s, buf *b)
{
	int rc = buf_printf(b,
			    "{\"pending\":%" PRIu64 ",\"due\":%" PRIu64 ",\"retrying\":%" PRIu64
			    ",\"blocked\":%" PRIu64 ",\"dead\":%" PRIu64 ",\"sent\":%" PRIu64,
			    s->pending, s->due, s->retrying, s->blocked, s->dead, s->sent);
	if (rc == 0)
		rc = put_json_opt_time(b, "oldest_pending_created_at", s->oldest_pending_at,
				       s->oldest_pending_age_s, "oldest_pending_age_seconds");
	if (rc == 0)
		rc = put_json_opt_time(b, "last_sent_at", s->last_sent_at, s->last_sent_age_s,
				       "last_sent_age_seconds");
	if (rc == 0)
		rc = buf_puts(b, "}\n");
	return rc;
}

static int status_text(const outbox_status *s, buf *b)
{
	const struct { const char *name; uint64_t v; } rows[] = {
		{ "pending", s->pending },   { "  due", s->due },
		{ "  retrying", s->retrying }, { "  blocked", s->blocked },
		{ "dead", s->dead },         { "sent", s->sent },
	};
	int rc = 0;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0] && rc == 0; i++)
		rc = buf_printf(b, "%-20s %12" PRIu64 "\n", rows[i].name, rows[i].v);
	if (rc == 0 && s->oldest_pending_age_s >= 0)
		rc = buf_printf(b, "%-20s %11" PRId64 "s  %s\n", "oldest pending age",
				s->oldest_pending_age_s, s->oldest_pending_at);
	else if (rc == 0)
		rc = buf_printf(b, "%-20s %12s\n", "oldest pending age", "-");
	if (rc == 0 && s->last_sent_age_s >= 0)
		rc = buf_printf(b, "%-20s %11" PRId64 "s  %s\n", "last sent age", s->last_sent_age_s,
				s->last_sent_at);
	else if (rc == 0)
		rc = buf_printf(b, "%-20s %12s\n", "last sent age", "-");
	return rc;
}

static int prom_gauge(buf *b, const char *name, const char *help, const char *table, int64_t v)
{
	return buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s{table=\"%s\"} %" PRId64 "\n", name,
			  help, name, name, table, v);
}

static int status_prometheus(const outbox_status *s, const char *table, buf *b)
{
	const struct { const char *name, *help; int64_t v; } g[] = {
		{ "outbox_pending", "Rows waiting to be published.", (int64_t)s->pending },
		{ "outbox_due", "Pending rows whose next attempt time has come.", (int64_t)s->due },
		{ "outbox_retrying", "Pending rows with at least one failed attempt.",
		  (int64_t)s->retrying },
		{ "outbox_blocked",
		  "Pending rows held back behind an earlier, not yet due row of the same partition key.",
		  (int64_t)s->blocked },
		{ "outbox_dead", "Rows the relay gave up on.", (int64_t)s->dead },
		{ "outbox_sent", "Rows confirmed delivered and not yet purged.", (int64_t)s->sent },
		{ "outbox_oldest_pending_age_seconds",
		  "Age of the oldest pending row (0 when none is pending).",
		  s->oldest_pending_age_s < 0 ? 0 : s->oldest_pending_age_s },
	};
	int rc = 0;
	for (size_t i = 0; i < sizeof g / sizeof g[0] && rc == 0; i++)
		rc = prom_gauge(b, g[i].name, g[i].help, table, g[i].v);
	/* A timestamp gauge in seconds, Prometheus style; no sample when
	 * nothing was ever sent (0 would read as "sent in 1970"). */
	if (rc == 0)
		rc = buf_printf(b,
				"# HELP outbox_last_sent_timestamp_seconds When the last delivery was confirmed.\n"
				"# TYPE outbox_last_sent_timestamp_seconds gauge\n");
	int64_t us;
	if (rc == 0 && *s->last_sent_at &&
	    rfc3339_parse_us(s->last_sent_at, strlen(s->last_sent_at), &us) == 0)
		rc = buf_printf(b, "outbox_last_sent_timestamp_seconds{table=\"%s\"} %" PRId64 ".%06d\n",
				table, us / 1000000 - (us % 1000000 < 0),
				(int)(((us % 1000000) + 1000000) % 1000000));
	return rc;
}

int outbox_admin_status_print(const outbox_status *s, int format, const char *table, FILE *out,
			      errinfo *err)
{
	if (!table)
		table = OUTBOX_DEFAULT_TABLE;
	if (!outbox_table_valid(table))
		return errinfo_set(err, EXIT_USAGE, "invalid table name");
	buf b = BUF_INIT(1 << 16);
	int rc = format == OUTBOX_FMT_JSON ? status_json(s, &b)
	       : format == OUTBOX_FMT_PROMETHEUS ? status_prometheus(s, table, &b)
						  : status_text(s, &b);
	int status = 0;
	if (rc != 0)
		status = errinfo_set(err, EXIT_SOFTWARE, "formatting the status: out of memory");
	else if (fwrite(b.data, 1, b.len, out) != b.len || fflush(out) != 0)
		status = errinfo_set(err, EXIT_IOERR, "writing the status: %s",
				     strerror(errno ? errno : EIO));
	buf_free(&b);
	return status;
}

static int over(char *msg, size_t cap, size_t *len, const char *what, int64_t v, const char *lim,
		int64_t max, const char *unit)
{
	if (max < 0 || v <= max)
		return 0;
	int n = snprintf(msg + *len, cap - *len, "%s%s %" PRId64 "%s > %s %" PRId64 "%s (+%" PRId64 "%s)",
			 *len ? "; " : "", what, v, unit, lim, max, unit, v - max, unit);
	if (n > 0)
		*len += (size_t)n < cap - *len ? (size_t)n : cap - *len - 1;
	return 1;
}

int outbox_admin_check(const outbox_status *s, const outbox_thresholds *t, errinfo *err)
{
	char msg[sizeof err->text];
	size_t len = 0;
	int bad = 0;
	msg[0] = '\0';
	bad |= over(msg, sizeof msg, &len, "oldest pending age", s->oldest_pending_age_s, "max-age",
		    t->max_age_s, "s");
	bad |= over(msg, sizeof msg, &len, "pending", (int64_t)s->pending, "max-pending",
		    t->max_pending, "");
	bad |= over(msg, sizeof msg, &len, "dead", (int64_t)s->dead, "max-dead", t->max_dead, "");
	if (!bad)
		return 0;
	return errinfo_set(err, EXIT_NO, "%s", msg);
}

/* ---- selection ---- */

enum { P_TYPE = 1, P_SOURCE, P_SINCE, P_IDS, P_AFTER, P_LIMIT };

/* Columns every selecting statement returns, in this order. */
enum { C_SEQ, C_EVENT, C_STATUS, C_ATTEMPTS, C_NEXT, C_ERROR, C_SENT, C_TOPIC, C_PART,
       C_OFFSET, C_CREATED, C_ID, C_SOURCE, C_TYPE };
static const char sel_cols[] =
	"seq, event, status, attempts, next_attempt_at, last_error, sent_at, topic, "
	"kafka_partition, kafka_offset, created_at, id, source, type";

/* Append the WHERE terms of sel (each "AND ..."). A state is written as a
 * literal so the planner can use the partial index for pending rows. */
static int where_terms(buf *b, const outbox_select *sel)
{
	static const char *const lit[] = { "", " AND status = 'pending'", " AND status = 'sent'",
					   " AND status = 'dead'" };
	int rc = buf_puts(b, lit[sel->state]);
	if (rc == 0 && sel->type)
		rc = buf_puts(b, " AND type = ?1");
	if (rc == 0 && sel->source)
		rc = buf_puts(b, " AND source = ?2");
	if (rc == 0 && sel->has_since)
		rc = buf_puts(b, " AND created_at >= ?3");
	if (rc == 0 && sel->n_ids)
		rc = buf_puts(b, " AND id IN (SELECT value FROM json_each(?4))");
	return rc;
}

/* The ids as one JSON array, bound to ?4: any number of ids, one
 * parameter. */
static int ids_json(outbox_admin *a, const outbox_select *sel, buf *out, errinfo *err)
{
	buf_reset(out);
	int rc = buf_putc(out, '[');
	for (size_t i = 0; i < sel->n_ids && rc == 0; i++) {
		size_t n = strlen(sel->ids[i]);
		if (!utf8_valid(sel->ids[i], n))
			return errinfo_set(err, EXIT_USAGE, "id %zu is not valid UTF-8", i + 1);
		if (i)
			rc = buf_putc(out, ',');
		if (rc == 0)
			rc = json_string_encode(out, sel->ids[i], n);
	}
	if (rc == 0)
		rc = buf_putc(out, ']');
	return rc ? oom(a, err) : 0;
}

static int bind_select(outbox_admin *a, sqlite3_stmt *st, const outbox_select *sel,
		       const buf *ids, errinfo *err)
{
	int rc = SQLITE_OK;
	if (sel->type)
		rc = bind_text(st, P_TYPE, sel->type);
	if (rc == SQLITE_OK && sel->source)
		rc = bind_text(st, P_SOURCE, sel->source);
	if (rc == SQLITE_OK && sel->has_since)
		rc = bind_time(st, P_SINCE, sel->since_us);
	if (rc == SQLITE_OK && sel->n_ids)
		rc = sqlite3_bind_text(st, P_IDS, ids->data, (int)ids->len, SQLITE_TRANSIENT);
	return rc == SQLITE_OK ? 0 : fail(a, rc, "binding a query", err);
}

/* Prepare "SELECT cols FROM T WHERE seq > ?5 <terms> ORDER BY seq LIMIT ?6". */
static int prepare_select(outbox_admin *a, const outbox_select *sel, sqlite3_stmt **st,
			  errinfo *err)
{
	if (sel->state < OUTBOX_ANY || sel->state > OUTBOX_DEAD)
		return errinfo_set(err, EXIT_USAGE, "unknown row state %d", sel->state);
	buf t = BUF_INIT(SQL_MAX);
	int rc = buf_printf(&t, "SELECT %s FROM {T} WHERE seq > ?5", sel_cols);
	if (rc == 0)
		rc = where_terms(&t, sel);
	if (rc == 0)
		rc = buf_puts(&t, " ORDER BY seq LIMIT ?6");
	int status = rc ? oom(a, err) : prepare(a, t.data, st, err);
	buf_free(&t);
	return status;
}

/* ---- list ---- */

/* Delivery fields as extension attributes, in sorted name order. */
enum { X_ATTEMPTS, X_CREATED, X_ERROR, X_NEXT, X_OFFSET, X_PART, X_SENT, X_SEQ, X_STATUS,
       X_TOPIC, N_X };
static const char *const x_names[N_X] = {
	"outboxattempts", "outboxcreated", "outboxerror", "outboxnext", "outboxoffset",
	"outboxpartition", "outboxsent", "outboxseq", "outboxstatus", "outboxtopic",
};

struct xval { size_t off, len; int present; };

/* CloudEvents Integer is 32-bit: a value outside it is written as a
 * string, like seq and offset always are (they are 64-bit by nature). */
static int put_int_attr(buf *b, sqlite3_stmt *st, int col, int as_string)
{
	sqlite3_int64 v = sqlite3_column_int64(st, col);
	if (!as_string && v >= INT32_MIN && v <= INT32_MAX)
		return buf_printf(b, "%lld", (long long)v);
	return buf_printf(b, "\"%lld\"", (long long)v);
}

static int build_xvals(outbox_admin *a, sqlite3_stmt *st, struct xval x[N_X])
{
	static const int col[N_X] = { C_ATTEMPTS, C_CREATED, C_ERROR, C_NEXT, C_OFFSET,
				      C_PART, C_SENT, C_SEQ, C_STATUS, C_TOPIC };
	buf *b = &a->vals;
	buf_reset(b);
	for (int i = 0; i < N_X; i++) {
		x[i].present = sqlite3_column_type(st, col[i]) != SQLITE_NULL;
		x[i].off = b->len;
		if (!x[i].present)
			continue;
		int rc;
		switch (i) {
		case X_ATTEMPTS:
		case X_PART:
			rc = sqlite3_column_type(st, col[i]) == SQLITE_INTEGER
				     ? put_int_attr(b, st, col[i], 0)
				     : put_col_string(b, st, col[i], 1);
			break;
		case X_OFFSET:
		case X_SEQ:
			rc = sqlite3_column_type(st, col[i]) == SQLITE_INTEGER
				     ? put_int_attr(b, st, col[i], 1)
				     : put_col_string(b, st, col[i], 1);
			break;
		default:
			rc = put_col_string(b, st, col[i], 1);
		}
		if (rc != 0)
			return -1;
		x[i].len = b->len - x[i].off;
	}
	return 0;
}

/* Compare an extension's name token (canonical: plain, quoted) with a C
 * name, by bytes as ce_write_json orders them. */
static int name_cmp(const ce_attr *e, const char *name)
{
	size_t n = e->name.n - 2, m = strlen(name);
	int c = memcmp(e->name.p + 1, name, n < m ? n : m);
	return c ? c : (n > m) - (n < m);
}

/* Write ev (parsed from canonical text c) with the delivery fields merged
 * into its sorted extensions. The event's own extensions of those names
 * are replaced. */
static int splice(outbox_admin *a, const cloudevent *ev, const buf *c, const struct xval x[N_X],
		  buf *line)
{
	const ce_attr *core[] = { &ev->specversion, &ev->id, &ev->source, &ev->type,
				  &ev->subject, &ev->time, &ev->datacontenttype, &ev->dataschema };
	const char *core_end = c->data + 1;
	for (size_t i = 0; i < sizeof core / sizeof core[0]; i++)
		if (core[i]->value.p && core[i]->value.p + core[i]->value.n > core_end)
			core_end = core[i]->value.p + core[i]->value.n;
	const char *ext_end = core_end;
	for (size_t i = 0; i < ev->n_ext; i++)
		if (ev->ext[i].value.p + ev->ext[i].value.n > ext_end)
			ext_end = ev->ext[i].value.p + ev->ext[i].value.n;
	/* Canonical text lists extensions in increasing order, ev->ext in
	 * input order: the same order. */
	int rc = buf_append(line, c->data, (size_t)(core_end - c->data));
	size_t e = 0;
	int k = 0;
	while (rc == 0 && (e < ev->n_ext || k < N_X)) {
		if (k < N_X && !x[k].present) {
			k++;
			continue;
		}
		int cmp = e >= ev->n_ext ? 1 : k >= N_X ? -1 : name_cmp(&ev->ext[e], x_names[k]);
		if (cmp < 0) {
			const ce_attr *m = &ev->ext[e++];
			rc = buf_putc(line, ',');
			if (rc == 0)
				rc = buf_append(line, m->name.p,
						(size_t)(m->value.p + m->value.n - m->name.p));
		} else {
			if (cmp == 0)
				e++; /* replaced by ours */
			rc = buf_printf(line, ",\"%s\":", x_names[k]);
			if (rc == 0)
				rc = buf_append(line, a->vals.data + x[k].off, x[k].len);
			k++;
		}
	}
	if (rc == 0)
		rc = buf_append(line, ext_end, (size_t)(c->data + c->len - ext_end));
	return rc;
}

static unsigned count_x(const cloudevent *ev, const struct xval x[N_X])
{
	unsigned n = (unsigned)ev->n_ext;
	for (int k = 0; k < N_X; k++)
		if (x[k].present && !ce_find_extension(ev, x_names[k]))
			n++;
	return n;
}

/* One row to out. 1 if the stored event was invalid (warned, skipped). */
static int list_row(outbox_admin *a, sqlite3_stmt *st, int events, FILE *out, FILE *info,
		    errinfo *err)
{
	const char *text = (const char *)sqlite3_column_text(st, C_EVENT);
	size_t n = (size_t)sqlite3_column_bytes(st, C_EVENT);
	cloudevent ev;
	ce_error ce;
	long long seq = sqlite3_column_int64(st, C_SEQ);
	if (!text || ce_parse(&ev, text, n, &ce) != 0) {
		if (info)
			fprintf(info, "%s: warning: %s: seq %lld: stored event is not a valid CloudEvent: %s%s%s\n",
				diag_prog(), a->path, seq, text ? ce.attribute : "",
				text && *ce.attribute ? ": " : "", text ? ce.text : "NULL");
		return 1;
	}
	buf_reset(&a->canon);
	buf_reset(&a->line);
	if (ce_write_json(&ev, &a->canon) != 0)
		return oom(a, err);
	if (!events) {
		/* Re-read the canonical text so spans point into it. */
		struct xval x[N_X];
		if (ce_parse(&ev, a->canon.data, a->canon.len, &ce) != 0)
			return errinfo_set(err, EXIT_SOFTWARE, "%s: seq %lld: canonical form does not parse",
					   a->path, seq);
		if (build_xvals(a, st, x) != 0)
			return oom(a, err);
		if (count_x(&ev, x) > CE_MAX_EXTENSIONS) {
			/* The readers' limit: such a line would not parse. */
			if (info)
				fprintf(info, "%s: warning: %s: seq %lld: too many extensions to add the delivery fields; event written as stored\n",
					diag_prog(), a->path, seq);
			if (buf_append(&a->line, a->canon.data, a->canon.len) != 0)
				return oom(a, err);
		} else if (splice(a, &ev, &a->canon, x, &a->line) != 0) {
			return oom(a, err);
		}
	} else if (buf_append(&a->line, a->canon.data, a->canon.len) != 0) {
		return oom(a, err);
	}
	if (buf_putc(&a->line, '\n') != 0)
		return oom(a, err);
	if (fwrite(a->line.data, 1, a->line.len, out) != a->line.len)
		return write_failed(a, err);
	return 0;
}

int outbox_admin_list(outbox_admin *a, const outbox_list_options *o, FILE *out, FILE *info,
		      uint64_t *rows, errinfo *err)
{
	sqlite3_stmt *st = NULL;
	buf ids = BUF_INIT(LINE_MAX_BYTES);
	uint64_t written = 0, bad = 0;
	int status = ids_json(a, &o->sel, &ids, err);
	if (status == 0)
		status = prepare_select(a, &o->sel, &st, err);
	/* One read transaction: a consistent snapshot, streamed row by row. */
	if (status == 0)
		status = exec(a, "BEGIN", "listing", err);
	if (status == 0)
		status = bind_select(a, st, &o->sel, &ids, err);
	if (status == 0) {
		int rc = sqlite3_bind_int64(st, P_AFTER, INT64_MIN);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st, P_LIMIT,
						o->limit && o->limit < INT64_MAX ? (sqlite3_int64)o->limit : -1);
		while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			int r = list_row(a, st, o->events, out, info, err);
			if (r == 1)
				bad++;
			else if (r) {
				status = r;
				break;
			} else
				written++;
			rc = SQLITE_OK;
		}
		if (status == 0 && rc != SQLITE_DONE)
			status = fail(a, rc, "listing", err);
	}
	sqlite3_finalize(st);
	end_txn(a);
	buf_free(&ids);
	if (status == 0 && fflush(out) != 0)
		status = write_failed(a, err);
	if (rows)
		*rows = written;
	if (status == 0 && bad)
		status = errinfo_set(err, EXIT_DATAERR,
				     "%s: %" PRIu64 " stored event(s) are not valid CloudEvents (skipped)",
				     a->path, bad);
	return status;
}

/* ---- requeue ---- */

static int id_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static int state_of(const char *s)
{
	int state = OUTBOX_ANY;
	if (s)
		outbox_admin_parse_state(s, &state);
	return state;
}

static int requeue_line(outbox_admin *a, sqlite3_stmt *st, FILE *out, errinfo *err)
{
	buf *b = &a->line;
	buf_reset(b);
	int rc = buf_printf(b, "{\"seq\":%lld,\"source\":", (long long)sqlite3_column_int64(st, C_SEQ));
	if (rc == 0)
		rc = put_col_string(b, st, C_SOURCE, 0);
	if (rc == 0)
		rc = buf_puts(b, ",\"id\":");
	if (rc == 0)
		rc = put_col_string(b, st, C_ID, 0);
	if (rc == 0)
		rc = buf_puts(b, ",\"type\":");
	if (rc == 0)
		rc = put_col_string(b, st, C_TYPE, 0);
	if (rc == 0)
		rc = buf_puts(b, ",\"status\":");
	if (rc == 0)
		rc = put_col_string(b, st, C_STATUS, 0);
	if (rc == 0)
		rc = buf_puts(b, "}\n");
	if (rc)
		return oom(a, err);
	if (out && fwrite(b->data, 1, b->len, out) != b->len)
		return write_failed(a, err);
	return 0;
}

static const char q_requeue[] =
	"UPDATE {T} SET status = 'pending', attempts = 0, next_attempt_at = NULL, "
	"last_error = NULL, sent_at = NULL, topic = NULL, kafka_partition = NULL, "
	"kafka_offset = NULL WHERE seq > ?5 AND seq <= ?6";

static int prepare_update(outbox_admin *a, const char *head, const outbox_select *sel,
			  sqlite3_stmt **st, errinfo *err)
{
	buf t = BUF_INIT(SQL_MAX);
	int rc = buf_puts(&t, head);
	if (rc == 0)
		rc = where_terms(&t, sel);
	int status = rc ? oom(a, err) : prepare(a, t.data, st, err);
	buf_free(&t);
	return status;
}

int outbox_admin_requeue(outbox_admin *a, const outbox_requeue_options *o, FILE *out,
			 FILE *info, outbox_requeue_result *res, errinfo *err)
{
	outbox_requeue_result r = { 0 };
	outbox_select sel = o->sel;
	if (sel.state < OUTBOX_ANY || sel.state > OUTBOX_DEAD)
		return errinfo_set(err, EXIT_USAGE, "unknown row state %d", sel.state);
	if (!sel.n_ids) {
		if (sel.state == OUTBOX_ANY)
			sel.state = OUTBOX_DEAD;
		if (sel.state != OUTBOX_DEAD && !sel.type)
			return errinfo_set(err, EXIT_USAGE,
					   "requeueing %s rows needs a type (or ids): a broad selection of sent rows would re-publish them all",
					   state_names[sel.state]);
	}
	unsigned chunk = o->chunk ? o->chunk : DEFAULT_CHUNK;
	const char **sorted = NULL;
	unsigned char *seen = NULL;
	if (sel.n_ids) {
		sorted = malloc(sel.n_ids * sizeof *sorted);
		seen = calloc(sel.n_ids, 1);
		if (!sorted || !seen) {
			free(sorted);
			free(seen);
			return oom(a, err);
		}
		memcpy(sorted, sel.ids, sel.n_ids * sizeof *sorted);
		qsort(sorted, sel.n_ids, sizeof *sorted, id_cmp);
	}
	buf ids = BUF_INIT(LINE_MAX_BYTES);
	sqlite3_stmt *st = NULL, *up = NULL;
	int status = ids_json(a, &sel, &ids, err);
	if (status == 0)
		status = prepare_select(a, &sel, &st, err);
	if (status == 0 && !o->dry_run)
		status = prepare_update(a, q_requeue, &sel, &up, err);
	if (status == 0)
		status = bind_select(a, st, &sel, &ids, err);
	if (status == 0 && up)
		status = bind_select(a, up, &sel, &ids, err);
	sqlite3_int64 after = INT64_MIN;
	int interrupted = 0;
	while (status == 0) {
		if (o->stop && *o->stop) {
			interrupted = 1;
			break;
		}
		/* A dry run only reads: no write lock. */
		int64_t t0 = mono_us();
		status = exec(a, o->dry_run ? "BEGIN" : "BEGIN IMMEDIATE", "requeueing", err);
		if (status)
			break;
		int rc = sqlite3_bind_int64(st, P_AFTER, after);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(st, P_LIMIT, chunk);
		unsigned got = 0;
		uint64_t n_state[4] = { 0 };
		sqlite3_int64 last = after;
		while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			got++;
			last = sqlite3_column_int64(st, C_SEQ);
			n_state[state_of((const char *)sqlite3_column_text(st, C_STATUS))]++;
			if (sorted) {
				const char *id = (const char *)sqlite3_column_text(st, C_ID);
				const char **hit = id ? bsearch(&id, sorted, sel.n_ids, sizeof *sorted, id_cmp) : NULL;
				/* Duplicates in the list: mark every copy. */
				while (hit && hit > sorted && !strcmp(hit[-1], id))
					hit--;
				for (; hit && hit < sorted + sel.n_ids && !strcmp(*hit, id); hit++)
					seen[hit - sorted] = 1;
			}
			status = requeue_line(a, st, out, err);
			if (status)
				break;
			rc = SQLITE_OK;
		}
		if (status == 0 && rc != SQLITE_DONE)
			status = fail(a, rc, "requeueing", err);
		sqlite3_reset(st);
		if (status == 0 && up && got) {
			rc = sqlite3_bind_int64(up, P_AFTER, after);
			if (rc == SQLITE_OK)
				rc = sqlite3_bind_int64(up, P_LIMIT, last);
			if (rc == SQLITE_OK)
				rc = sqlite3_step(up);
			if (rc != SQLITE_DONE)
				status = fail(a, rc, "requeueing", err);
			else if ((unsigned)sqlite3_changes(a->db) != got)
				status = errinfo_set(err, EXIT_SOFTWARE, "%s: requeue changed %d rows, selected %u",
						     a->path, sqlite3_changes(a->db), got);
			sqlite3_reset(up);
		}
		if (status == 0)
			status = exec(a, "COMMIT", "requeueing", err);
		end_txn(a);
		if (status)
			break;
		r.rows += got;
		r.pending += n_state[OUTBOX_PENDING];
		r.sent += n_state[OUTBOX_SENT];
		r.dead += n_state[OUTBOX_DEAD];
		after = last;
		if (got < chunk)
			break;
		if (!o->dry_run)
			yield_lock(t0);
	}
	sqlite3_finalize(st);
	sqlite3_finalize(up);
	buf_free(&ids);
	if (out && fflush(out) != 0 && status == 0)
		status = write_failed(a, err);
	const char *first_missing = NULL;
	for (size_t i = 0; sorted && i < sel.n_ids; i++)
		if (!seen[i] && (i == 0 || strcmp(sorted[i], sorted[i - 1]))) {
			r.ids_unmatched++;
			if (!first_missing)
				first_missing = sorted[i];
		}
	if (info && (status == 0 || r.rows))
		fprintf(info, "%s: %s %" PRIu64 " row(s) (%" PRIu64 " dead, %" PRIu64
			" sent, %" PRIu64 " pending)%s\n",
			diag_prog(), o->dry_run ? "would requeue" : "requeued", r.rows, r.dead, r.sent, r.pending,
			interrupted ? "; interrupted" : "");
	if (status == 0 && interrupted)
		status = errinfo_set(err, EXIT_TEMPFAIL, "%s: interrupted after %" PRIu64 " row(s)",
				     a->path, r.rows);
	if (status == 0 && r.ids_unmatched)
		status = errinfo_set(err, EXIT_NO, "%s: %" PRIu64 " id(s) matched no row (first: %.100s)",
				     a->path, r.ids_unmatched, first_missing);
	free(sorted);
	free(seen);
	if (res)
		*res = r;
	return status;
}

/* ---- purge ---- */

/* The next chunk: the largest seq among the first ?3 matching rows past
 * ?1, and how many; the newest row of the table never matches. */
static const char q_purge_sent_scan[] =
	"SELECT max(seq), count(*) FROM (SELECT seq FROM {T} WHERE seq > ?1 AND seq < ?2 "
	"AND status = 'sent' AND sent_at < ?4 ORDER BY seq LIMIT ?3)";
static const char q_purge_sent[] =
	"DELETE FROM {T} WHERE seq > ?1 AND seq <= ?2 AND status = 'sent' AND sent_at < ?4";
static const char q_purge_dead_scan[] =
	"SELECT max(seq), count(*) FROM (SELECT seq FROM {T} WHERE seq > ?1 AND seq < ?2 "
	"AND status = 'dead' AND created_at < ?4 ORDER BY seq LIMIT ?3)";
static const char q_purge_dead[] =
	"DELETE FROM {T} WHERE seq > ?1 AND seq <= ?2 AND status = 'dead' AND created_at < ?4";

static int purge_one(outbox_admin *a, const char *scan_sql, const char *del_sql, int64_t before,
		     const outbox_purge_options *o, uint64_t *count, uint64_t *txns, int *stopped,
		     errinfo *err)
{
	unsigned chunk = o->chunk ? o->chunk : DEFAULT_CHUNK;
	sqlite3_stmt *top = NULL, *scan = NULL, *del = NULL;
	int status = prepare(a, "SELECT coalesce(max(seq), 0) FROM {T}", &top, err);
	if (status == 0)
		status = prepare(a, scan_sql, &scan, err);
	if (status == 0 && !o->dry_run)
		status = prepare(a, del_sql, &del, err);
	sqlite3_int64 newest = 0;
	if (status == 0) {
		int rc = sqlite3_step(top);
		if (rc == SQLITE_ROW)
			newest = sqlite3_column_int64(top, 0);
		else
			status = fail(a, rc, "purging", err);
		/* An unfinished statement would keep a read snapshot open, and
		 * BEGIN IMMEDIATE on a stale snapshot fails at once with
		 * SQLITE_BUSY_SNAPSHOT when another writer committed meanwhile. */
		sqlite3_reset(top);
	}
	sqlite3_int64 after = INT64_MIN;
	while (status == 0) {
		if (o->stop && *o->stop) {
			*stopped = 1;
			break;
		}
		int64_t t0 = mono_us();
		status = exec(a, o->dry_run ? "BEGIN" : "BEGIN IMMEDIATE", "purging", err);
		if (status)
			break;
		int rc = sqlite3_bind_int64(scan, 1, after);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(scan, 2, newest);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(scan, 3, chunk);
		if (rc == SQLITE_OK)
			rc = bind_time(scan, 4, before);
		sqlite3_int64 last = 0, got = 0;
		if (rc == SQLITE_OK && (rc = sqlite3_step(scan)) == SQLITE_ROW) {
			last = sqlite3_column_int64(scan, 0);
			got = sqlite3_column_int64(scan, 1);
			rc = SQLITE_DONE;
		}
		if (rc != SQLITE_DONE)
			status = fail(a, rc, "purging", err);
		sqlite3_reset(scan);
		if (status == 0 && del && got) {
			rc = sqlite3_bind_int64(del, 1, after);
			if (rc == SQLITE_OK)
				rc = sqlite3_bind_int64(del, 2, last);
			if (rc == SQLITE_OK)
				rc = bind_time(del, 4, before);
			if (rc == SQLITE_OK)
				rc = sqlite3_step(del);
			if (rc != SQLITE_DONE)
				status = fail(a, rc, "purging", err);
			else if (sqlite3_changes(a->db) != got)
				status = errinfo_set(err, EXIT_SOFTWARE, "%s: purge deleted %d rows, counted %lld",
						     a->path, sqlite3_changes(a->db), (long long)got);
			sqlite3_reset(del);
		}
		if (status == 0)
			status = exec(a, "COMMIT", "purging", err);
		end_txn(a);
		if (status)
			break;
		if (got) {
			*count += (uint64_t)got;
			(*txns)++;
		}
		if (got < (sqlite3_int64)chunk)
			break;
		after = last;
		if (!o->dry_run)
			yield_lock(t0);
	}
	sqlite3_finalize(top);
	sqlite3_finalize(scan);
	sqlite3_finalize(del);
	return status;
}

int outbox_admin_purge(outbox_admin *a, const outbox_purge_options *o, FILE *info,
		       outbox_purge_result *res, errinfo *err)
{
	outbox_purge_result r = { 0 };
	if (!o->has_sent_before && !o->has_dead_before)
		return errinfo_set(err, EXIT_USAGE, "purge needs a bound: sent rows before, or dead rows before");
	int status = 0, stopped = 0;
	if (o->has_sent_before)
		status = purge_one(a, q_purge_sent_scan, q_purge_sent, o->sent_before_us, o, &r.sent,
				   &r.transactions, &stopped, err);
	if (status == 0 && !stopped && o->has_dead_before)
		status = purge_one(a, q_purge_dead_scan, q_purge_dead, o->dead_before_us, o, &r.dead,
				   &r.transactions, &stopped, err);
	if (info && (status == 0 || r.sent || r.dead))
		fprintf(info, "%s: %s %" PRIu64 " sent and %" PRIu64 " dead row(s)%s\n",
			diag_prog(), o->dry_run ? "would purge" : "purged", r.sent, r.dead,
			stopped ? "; interrupted" : "");
	if (status == 0 && stopped)
		status = errinfo_set(err, EXIT_TEMPFAIL, "%s: purge interrupted after %" PRIu64 " row(s)",
				     a->path, r.sent + r.dead);
	if (res)
		*res = r;
	return status;
}
