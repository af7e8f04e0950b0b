/* outbox.c - see outbox.h; the schema itself is documented in man/outbox.5. */
#include "outbox.h"
#include "buf.h"
#include "exitcode.h"
#include "sqlerr.h"
#include "json.h"
#include "timefmt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_EVENT (16u * 1024 * 1024)

/* Decoded values of the text columns, in bind order. */
enum { COL_ID, COL_SOURCE, COL_TYPE, COL_SUBJECT, COL_PKEY, N_COLS };

#define N_PARAMS 6 /* per row: the columns above and event; then one created_at */

/* A held row of a deferred append: the event's canonical JSON and its
 * decoded column values, one after another in data (offsets, not
 * pointers: data may move while it grows). */
struct held {
	buf data;
	size_t off[N_COLS], len[N_COLS];
	unsigned nulls;  /* bit i: column i is NULL */
	size_t event_len; /* the event is data[0, event_len) */
};

struct outbox {
	sqlite3 *db;
	int no_create;                           /* options.no_create */
	sqlite3_stmt *ins;                       /* one row */
	sqlite3_stmt *exists;                    /* is (source, id) stored? */
	sqlite3_stmt *triggers;                  /* has the table a trigger? */
	sqlite3_stmt *ins_n[OUTBOX_GROUP_MAX + 1]; /* n rows, prepared when used */
	char *path;                            /* for messages */
	char qtable[OUTBOX_TABLE_MAX + 3];     /* "name", double-quoted */
	char table[OUTBOX_TABLE_MAX + 1];
	unsigned busy_ms;
	const volatile sig_atomic_t *stop; /* opt->stop, or NULL */
	int64_t wait_start_us; /* when the current lock wait began */
	int timed_out;  /* the busy handler gave up: busy_ms has passed */
	int last_rc;    /* the SQLite result fail_sqlite() saw last */
	int created;
	int denied_txn; /* the authorizer refused transaction control */
	buf event;      /* canonical JSON of the event being appended */
	buf col[N_COLS];
	unsigned group;    /* rows per multi-row INSERT; <= 1: no deferral */
	unsigned nheld;    /* rows held in held[0, nheld) */
	struct held *held; /* group of them, allocated on first use */
	unsigned long txn_ins, txn_dup, txn_ign;    /* in the open transaction */
	unsigned long done_ins, done_dup, done_ign; /* committed */
};

/* The status CHECK is written with OR, not IN: SQLite (3.40) builds an
 * ephemeral table for an IN list on every insert, which measured as a
 * third of the whole insert cost.
 *
 * Schema migrations, applied in order inside one transaction. Step k
 * takes a table from version k-1 to k; version 0 is "no table", so step 1
 * creates it. "{T}" is replaced by the double-quoted table name and "{I}"
 * by the double-quoted name of its pending index; nothing else is ever
 * interpolated. Never edit a released step: add the next one. */
static const char *const migrations[] = {
	/* 1 */
	"CREATE TABLE {T} (\n"
	"  seq INTEGER PRIMARY KEY,\n"
	"  id TEXT NOT NULL,\n"
	"  source TEXT NOT NULL,\n"
	"  type TEXT NOT NULL,\n"
	"  subject TEXT,\n"
	"  partition_key TEXT,\n"
	"  event TEXT NOT NULL,\n"
	"  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),\n"
	"  status TEXT NOT NULL DEFAULT 'pending' CHECK (status = 'pending' OR status = 'sent' OR status = 'dead'),\n"
	"  attempts INTEGER NOT NULL DEFAULT 0,\n"
	"  next_attempt_at TEXT,\n"
	"  last_error TEXT,\n"
	"  sent_at TEXT,\n"
	"  topic TEXT,\n"
	"  kafka_partition INTEGER,\n"
	"  kafka_offset INTEGER,\n"
	"  UNIQUE (source, id)\n"
	");\n"
	"CREATE INDEX {I} ON {T}(seq) WHERE status = 'pending';\n",
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

/* Every column of the current version: a table that cannot be selected
 * this way is not an outbox table of this version. */
static const char all_columns[] =
	"seq, id, source, type, subject, partition_key, event, created_at, "
	"status, attempts, next_attempt_at, last_error, sent_at, topic, "
	"kafka_partition, kafka_offset";

int outbox_table_valid(const char *name)
{
	if (!name)
		return 0;
	size_t n = 0;
	for (const char *p = name; *p; p++, n++) {
		char c = *p;
		int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
		int digit = c >= '0' && c <= '9';
		if (!alpha && !(digit && n > 0))
			return 0;
	}
	/* SQLite reserves sqlite_* (any case) for itself: CREATE TABLE fails. */
	return n >= 1 && n <= OUTBOX_TABLE_MAX && strncasecmp(name, "sqlite_", 7) != 0;
}

int outbox_path_check(const char *path, errinfo *err)
{
	/* Each of these opens a database that is gone when the connection
	 * closes (or, for a URI, whatever its parameters say): an enqueue
	 * would report success and keep nothing. */
	if (!path || !*path)
		return errinfo_set(err, EXIT_USAGE,
				   "an empty database name is SQLite's temporary database, deleted at "
				   "exit: give a file");
	if (!strcmp(path, ":memory:"))
		return errinfo_set(err, EXIT_USAGE,
				   ":memory: is an in-memory database, lost at exit: give a file");
	if (!strncmp(path, "file:", 5))
		return errinfo_set(err, EXIT_USAGE,
				   "%.200s: SQLite URIs are not accepted, give a plain file path "
				   "(./%.200s for a file of that name)", path, path);
	return 0;
}

static int stop_requested(const outbox *ob) { return ob->stop && *ob->stop; }

static int64_t mono_us(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Sleep one slice of a lock wait that began at start: short first (a lock
 * is usually held for a commit's fsync), at most 25 ms, never past the
 * busy timeout. A signal cuts nanosleep() short, and the slices are short
 * enough that a stop flag set just before the sleep is seen soon after.
 * Returns 0 to try again, -1 when the wait is over (time up or stop). */
static int wait_slice(outbox *ob, int64_t start, int n)
{
	static const int delay_ms[] = { 1, 2, 5, 10, 15, 20, 25 };
	if (stop_requested(ob))
		return -1;
	int64_t left = (int64_t)ob->busy_ms * 1000 - (mono_us() - start);
	if (left <= 0) {
		ob->timed_out = 1;
		return -1;
	}
	int nd = (int)(sizeof delay_ms / sizeof delay_ms[0]);
	int64_t us = (int64_t)delay_ms[n < nd ? n : nd - 1] * 1000;
	if (us > left)
		us = left;
	struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
	(void)nanosleep(&ts, NULL); /* EINTR: a signal, seen at the next call */
	return stop_requested(ob) ? -1 : 0;
}

/* SQLite's busy handler: wait within busy_ms for a lock another connection
 * holds, but give up at once when the stop flag is raised. (SQLite's own
 * sqlite3_busy_timeout() sleeps through signals.) */
static int on_busy(void *ctx, int n)
{
	outbox *ob = ctx;
	if (n == 0) {
		ob->wait_start_us = mono_us();
		ob->timed_out = 0;
	}
	return wait_slice(ob, ob->wait_start_us, n) == 0;
}

/* Progress handler while statements are interruptible: a nonzero return
 * makes the running statement fail with SQLITE_INTERRUPT. Reading a
 * sig_atomic_t is all a signal handler's flag allows, and all this does. */
static int on_progress(void *ctx) { return stop_requested(ctx); }

/* Opcodes between stop checks: a few microseconds of work. */
#define PROGRESS_OPS 1000

void outbox_set_interruptible(outbox *ob, int on)
{
	if (ob->db && ob->stop)
		sqlite3_progress_handler(ob->db, on ? PROGRESS_OPS : 0, on ? on_progress : NULL, ob);
}

/* Map a SQLite result to an exit status and a message naming the file and
 * the operation (sqlerr.h), saying more about a lock wait. Returns the
 * status. */
static int fail_sqlite(outbox *ob, int rc, const char *what, errinfo *err)
{
	const char *path = ob->path;
	ob->last_rc = rc;
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		if (stop_requested(ob))
			return errinfo_set(err, EXIT_TEMPFAIL,
					   "%s: %s: interrupted while waiting for the lock", path, what);
		return errinfo_set(err, EXIT_TEMPFAIL,
				   "%s: %s: database is locked (still busy after the %u ms busy timeout)",
				   path, what, ob->busy_ms);
	default:
		/* Everything else reads the same in every module. */
		return sqlerr_fail(ob->db, rc, path, what, err);
	}
}

/* Expand a migration template into out; -1 if it does not fit. */
static int expand(const outbox *ob, const char *tmpl, buf *out)
{
	buf_reset(out);
	for (const char *p = tmpl; *p;) {
		int rc;
		if (!strncmp(p, "{T}", 3)) {
			rc = buf_puts(out, ob->qtable);
			p += 3;
		} else if (!strncmp(p, "{I}", 3)) {
			rc = buf_printf(out, "\"%s_pending\"", ob->table);
			p += 3;
		} else {
			rc = buf_putc(out, *p++);
		}
		if (rc != 0)
			return -1;
	}
	return 0;
}

static int exec_sql(outbox *ob, const char *sql, const char *what, errinfo *err)
{
	int rc = sqlite3_exec(ob->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : fail_sqlite(ob, rc, what, err);
}

/* Run a one-value query; *out gets column 0 as text ("" for NULL). */
static int query_text(outbox *ob, const char *sql, const char *what, char *out,
		      size_t outsz, errinfo *err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(ob->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail_sqlite(ob, rc, what, err);
	out[0] = '\0';
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		snprintf(out, outsz, "%s", t ? (const char *)t : "");
		rc = sqlite3_step(st);
	}
	if (rc != SQLITE_DONE) {
		int status = fail_sqlite(ob, rc, what, err);
		sqlite3_finalize(st);
		return status;
	}
	sqlite3_finalize(st);
	return 0;
}

/* *exists = 1 if a table of that name (SQLite names are case-insensitive)
 * exists in the main database. */
static int table_exists(outbox *ob, const char *name, int *exists, errinfo *err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(ob->db,
				    "SELECT 1 FROM main.sqlite_master WHERE type = 'table' "
				    "AND name = ?1 COLLATE NOCASE",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return fail_sqlite(ob, rc, "reading the schema", err);
	rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	*exists = rc == SQLITE_ROW;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		int status = fail_sqlite(ob, rc, "reading the schema", err);
		sqlite3_finalize(st);
		return status;
	}
	sqlite3_finalize(st);
	return 0;
}

/* 1 if table (a valid identifier) has every column of this version. */
static int has_current_columns(outbox *ob, const char *table)
{
	char sql[sizeof all_columns + OUTBOX_TABLE_MAX + 64];
	snprintf(sql, sizeof sql, "SELECT %s FROM \"%s\" LIMIT 0", all_columns, table);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(ob->db, sql, -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_finalize(st);
	return 1;
}

/* 1 if the file already holds another outbox table of the current version
 * (a table with every column, and its "<name>_pending" index): evidence
 * that user_version is ours, so a new table may be added beside it. */
static int holds_other_outbox(outbox *ob)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(ob->db,
			       "SELECT t.name FROM main.sqlite_master t JOIN main.sqlite_master i "
			       "ON i.type = 'index' AND i.tbl_name = t.name "
			       "AND i.name = t.name || '_pending' WHERE t.type = 'table'",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	int found = 0;
	while (!found && sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		if (name && outbox_table_valid(name) && has_current_columns(ob, name))
			found = 1;
	}
	sqlite3_finalize(st);
	return found;
}

/* Apply migrations from version `from` to the current one, then set
 * user_version. Runs inside the caller's write transaction. */
static int migrate(outbox *ob, int from, errinfo *err)
{
	buf sql = BUF_INIT(64 * 1024);
	int status = 0;
	for (int v = from + 1; v <= N_MIGRATIONS && status == 0; v++) {
		if (expand(ob, migrations[v - 1], &sql) != 0)
			status = errinfo_set(err, EXIT_SOFTWARE, "%s: schema step %d too large",
					     ob->path, v);
		else
			status = exec_sql(ob, sql.data, "creating the outbox schema", err);
	}
	if (status == 0) {
		char pragma[64];
		snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", OUTBOX_SCHEMA_VERSION);
		status = exec_sql(ob, pragma, "setting the schema version", err);
	}
	buf_free(&sql);
	if (status == 0)
		ob->created = ob->created || from == 0;
	return status;
}

/* 1 if table has a plain UNIQUE index on exactly (source, id) with the
 * default collation: what "ON CONFLICT (source, id)" needs, and what makes
 * enqueueing idempotent. */
static int has_unique_key(outbox *ob, const char *table)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(ob->db,
			       "SELECT 1 FROM pragma_index_list(?1) l WHERE l.\"unique\" AND NOT l.partial "
			       "AND (SELECT count(*) FROM pragma_index_xinfo(l.name) x WHERE x.key) = 2 "
			       "AND (SELECT count(*) FROM pragma_index_xinfo(l.name) x WHERE x.key "
			       "AND x.name IN ('source', 'id') COLLATE NOCASE "
			       "AND x.coll = 'BINARY' COLLATE NOCASE) = 2",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	int found = sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

enum schema_action { SCHEMA_READY, SCHEMA_MIGRATE };

/* Read what the file holds, inside the caller's transaction, and decide:
 * 0 with *action (and *from, the version to migrate from), or 78 with the
 * reason the file is refused. Only reads. */
static int schema_decide(outbox *ob, enum schema_action *action, int *from, errinfo *err)
{
	char text[32];
	int exists = 0;
	int status = query_text(ob, "PRAGMA user_version", "reading the schema version", text,
				sizeof text, err);
	if (status == 0)
		status = table_exists(ob, ob->table, &exists, err);
	if (status)
		return status;
	long uv = strtol(text, NULL, 10);
	/* A tool that only reads or publishes was pointed at the wrong file
	 * or table: never create one there. */
	if (ob->no_create && !exists)
		return errinfo_set(err, EXIT_CONFIG,
				   "%s: no outbox table \"%s\" in this database (wrong file or --table?)",
				   ob->path, ob->table);
	if (uv > OUTBOX_SCHEMA_VERSION && exists)
		return errinfo_set(err, EXIT_CONFIG,
				   "%s: outbox schema version %ld is newer than this tool supports (%d)",
				   ob->path, uv, OUTBOX_SCHEMA_VERSION);
	if (uv == 0 && exists)
		return errinfo_set(err, EXIT_CONFIG,
				   "%s: a table named \"%s\" exists but PRAGMA user_version is 0: "
				   "it was not created by these tools (an outbox made by hand "
				   "must also set PRAGMA user_version = %d; see outbox(5))",
				   ob->path, ob->table, OUTBOX_SCHEMA_VERSION);
	if (uv != 0 && !exists && !(uv == OUTBOX_SCHEMA_VERSION && holds_other_outbox(ob)))
		return errinfo_set(err, EXIT_CONFIG,
				   "%s: PRAGMA user_version is %ld but there is no table \"%s\": "
				   "the file looks like another application's database that "
				   "versions itself with user_version; refusing to guess "
				   "(use another --db file, or the right --table)",
				   ob->path, uv, ob->table);
	if (uv == OUTBOX_SCHEMA_VERSION && exists && !has_current_columns(ob, ob->table))
		return errinfo_set(err, EXIT_CONFIG,
				   "%s: table \"%s\" lacks columns of outbox schema version %d: "
				   "not an outbox table",
				   ob->path, ob->table, OUTBOX_SCHEMA_VERSION);
	if (uv == OUTBOX_SCHEMA_VERSION && exists && !has_unique_key(ob, ob->table))
		return errinfo_set(err, EXIT_CONFIG,
				   "%s: table \"%s\" has no UNIQUE (source, id) constraint: "
				   "not an outbox table (enqueueing would not be idempotent; "
				   "see outbox(5))",
				   ob->path, ob->table);
	*action = uv == OUTBOX_SCHEMA_VERSION && exists ? SCHEMA_READY : SCHEMA_MIGRATE;
	/* A new table beside another outbox starts from nothing. */
	*from = exists ? (int)uv : 0;
	return 0;
}

/* Decide what the file is, then make it an outbox in WAL mode. The file is
 * first only read (a deferred transaction, released at once): a refused
 * file is left byte for byte as it was, and opening an up-to-date outbox
 * never waits for the write lock. Only then is it switched to WAL and,
 * when something must be created or migrated, the write lock taken and
 * the decision taken again (another process may have done it meanwhile). */
static int settle(outbox *ob, errinfo *err)
{
	enum schema_action action = SCHEMA_MIGRATE;
	int from = 0;
	int status = exec_sql(ob, "BEGIN", "opening the outbox", err);
	if (status)
		return status;
	status = schema_decide(ob, &action, &from, err);
	outbox_rollback(ob); /* a read: nothing to keep */
	if (status)
		return status;
	/* WAL: readers (the relay's inspection commands) never block the
	 * writer. A file system without shared memory keeps its mode, which
	 * is still correct. */
	char mode[16];
	status = query_text(ob, "PRAGMA journal_mode = WAL", "switching to WAL", mode, sizeof mode,
			    err);
	/* FULL: in WAL mode one fsync of the log per commit, so a commit that
	 * returned survives power loss too; exit 0 is a promise. */
	if (status == 0)
		status = exec_sql(ob, "PRAGMA synchronous = FULL", "setting synchronous", err);
	if (status || action == SCHEMA_READY)
		return status;
	status = exec_sql(ob, "BEGIN IMMEDIATE", "opening the outbox", err);
	if (status)
		return status;
	status = schema_decide(ob, &action, &from, err);
	if (status == 0 && action == SCHEMA_MIGRATE) {
		status = migrate(ob, from, err);
		if (status == 0)
			ob->created = 1;
	}
	if (status == 0)
		status = exec_sql(ob, "COMMIT", "creating the outbox schema", err);
	if (status)
		outbox_rollback(ob);
	return status;
}

/* Create the file with mode 0600 unless it exists: SQLite would create it
 * with 0644 (less the umask), and an outbox holds business events. */
static int create_file(outbox *ob, const char *path, int no_create, errinfo *err)
{
	struct stat sb;
	if (stat(path, &sb) == 0) {
		/* A directory follows the one rule for opening inputs (EISDIR:
		 * 74); a device, FIFO or socket is no more a database file. */
		if (S_ISDIR(sb.st_mode))
			return errinfo_set(err, exitcode_for_open(EISDIR),
					   "%s: %s: not a database file", path, strerror(EISDIR));
		if (!S_ISREG(sb.st_mode))
			return errinfo_set(err, EXIT_IOERR,
					   "%s: not a regular file: not a database file", path);
		return 0;
	}
	if (errno != ENOENT)
		return errinfo_set(err, errno == EACCES ? EXIT_NOPERM : EXIT_CANTCREAT,
				   "%s: %s", path, strerror(errno));
	if (no_create)
		return errinfo_set(err, EXIT_CANTCREAT, "%s: no such database", path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EEXIST)
		return errinfo_set(err, EXIT_CANTCREAT, "%s: cannot create the database: %s",
				   path, strerror(errno));
	if (fd >= 0) {
		ob->created = 1;
		if (close(fd) != 0)
			return errinfo_set(err, EXIT_IOERR, "%s: %s", path, strerror(errno));
	}
	return 0;
}

/* The insert of n rows, which share one created_at (they are inserted
 * together): "VALUES (?1, ..., ?6, ?7)" for one row, "(?1, ..., ?6, ?13),
 * (?7, ..., ?12, ?13)" for two. */
static int prepare_insert(outbox *ob, unsigned n, sqlite3_stmt **st, errinfo *err)
{
	char sql[256 + OUTBOX_GROUP_MAX * 48];
	int len = snprintf(sql, sizeof sql,
			   "INSERT INTO %s (id, source, type, subject, partition_key, event, created_at) "
			   "VALUES ",
			   ob->qtable);
	unsigned created = n * N_PARAMS + 1;
	for (unsigned r = 0; r < n; r++) {
		unsigned b = r * N_PARAMS;
		len += snprintf(sql + len, sizeof sql - (size_t)len,
				"%s(?%u, ?%u, ?%u, ?%u, ?%u, ?%u, ?%u)", r ? ", " : "", b + 1, b + 2,
				b + 3, b + 4, b + 5, b + 6, created);
	}
	snprintf(sql + len, sizeof sql - (size_t)len, " ON CONFLICT (source, id) DO NOTHING");
	int rc = sqlite3_prepare_v3(ob->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
	/* The schema check passed, so this is a table changed in a way it
	 * does not look for: still the file's fault, not ours. */
	if ((rc & 0xff) == SQLITE_ERROR)
		return errinfo_set(err, EXIT_CONFIG, "%s: table \"%s\" cannot take outbox rows: %s",
				   ob->path, ob->table, sqlite3_errmsg(ob->db));
	return rc == SQLITE_OK ? 0 : fail_sqlite(ob, rc, "preparing the insert", err);
}

int outbox_process_init(void)
{
	return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK ? 0 : EXIT_SOFTWARE;
}

outbox *outbox_open(const char *path, const outbox_options *opt, errinfo *err)
{
	outbox_options dflt = {0};
	if (!opt)
		opt = &dflt;
	const char *table = opt->table ? opt->table : OUTBOX_DEFAULT_TABLE;
	if (!outbox_table_valid(table)) {
		errinfo_set(err, EXIT_USAGE,
			    "invalid table name \"%.80s\": must match [A-Za-z_][A-Za-z0-9_]{0,63}", table);
		return NULL;
	}
	outbox *ob = calloc(1, sizeof *ob);
	if (!ob || !(ob->path = strdup(path))) {
		free(ob);
		errinfo_set(err, EXIT_SOFTWARE, "%s: out of memory", path);
		return NULL;
	}
	snprintf(ob->table, sizeof ob->table, "%s", table);
	snprintf(ob->qtable, sizeof ob->qtable, "\"%s\"", table);
	ob->busy_ms = opt->busy_ms == OUTBOX_NO_WAIT ? 0
		    : opt->busy_ms ? opt->busy_ms : OUTBOX_DEFAULT_BUSY_MS;
	if (ob->busy_ms > INT_MAX)
		ob->busy_ms = INT_MAX;
	size_t max_event = opt->max_event ? opt->max_event : DEFAULT_MAX_EVENT;
	ob->group = opt->group > OUTBOX_GROUP_MAX ? OUTBOX_GROUP_MAX : opt->group;
	buf_init(&ob->event, max_event);
	for (int i = 0; i < N_COLS; i++)
		buf_init(&ob->col[i], max_event);

	ob->stop = opt->stop;
	ob->no_create = opt->no_create;
	int status = outbox_path_check(path, err);
	if (status == 0)
		status = create_file(ob, path, opt->no_create, err);
	if (status == 0) {
		int rc = sqlite3_open_v2(path, &ob->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
					 NULL);
		if (rc != SQLITE_OK)
			status = fail_sqlite(ob, rc, "opening", err);
	}
	if (status == 0 && sqlite3_extended_result_codes(ob->db, 1) != SQLITE_OK)
		status = fail_sqlite(ob, SQLITE_ERROR, "opening", err);
	/* SQLite opens a file it may not write read-only without a word;
	 * say so now rather than at the first insert. */
	if (status == 0 && sqlite3_db_readonly(ob->db, "main") == 1)
		status = errinfo_set(err, EXIT_CANTCREAT,
				     "%s: database is read-only (no write permission)", path);
	if (status == 0 && sqlite3_busy_handler(ob->db, on_busy, ob) != SQLITE_OK)
		status = fail_sqlite(ob, SQLITE_ERROR, "setting the busy handler", err);
	/* Some lock conflicts while a file is made an outbox skip the busy
	 * handler: SQLite returns SQLITE_BUSY at once where waiting could
	 * deadlock (the journal_mode change upgrades a read lock to a write
	 * lock; a connection meeting a WAL file mid-recovery). Every step of
	 * settle() can be repeated, so repeat it within the busy timeout: the
	 * first use of a file is then as safe under concurrency as any other. */
	int64_t start = mono_us();
	for (int n = 0; status == 0; n++) {
		status = settle(ob, err);
		if (status != EXIT_TEMPFAIL || (ob->last_rc & 0xff) != SQLITE_BUSY ||
		    wait_slice(ob, start, n) != 0)
			break;
		status = 0;
	}
	if (status == EXIT_TEMPFAIL && stop_requested(ob))
		errinfo_set(err, EXIT_TEMPFAIL, "%s: opening: interrupted while waiting for the lock",
			    path);
	if (status == 0)
		status = prepare_insert(ob, 1, &ob->ins, err);
	if (status) {
		outbox_close(ob);
		return NULL;
	}
	return ob;
}

int outbox_created(const outbox *ob) { return ob->created; }

sqlite3 *outbox_db(outbox *ob) { return ob->db; }

int outbox_in_transaction(outbox *ob) { return ob->db && !sqlite3_get_autocommit(ob->db); }

static void drop_held(outbox *ob) { ob->nheld = 0; }

int outbox_begin(outbox *ob, errinfo *err)
{
	if (outbox_in_transaction(ob))
		return errinfo_set(err, EXIT_SOFTWARE, "%s: a transaction is already open",
				   ob->path);
	drop_held(ob); /* of a transaction ended behind our back */
	ob->txn_ins = ob->txn_dup = ob->txn_ign = 0;
	return exec_sql(ob, "BEGIN IMMEDIATE", "beginning a transaction", err);
}

int outbox_commit(outbox *ob, errinfo *err)
{
	int status = outbox_flush(ob, err);
	if (status == 0)
		status = exec_sql(ob, "COMMIT", "committing", err);
	/* A failed COMMIT may leave the transaction open (SQLITE_BUSY): undo
	 * it so that "failed" always means "nothing of it was kept". */
	if (status) {
		outbox_rollback(ob);
		return status;
	}
	ob->done_ins += ob->txn_ins;
	ob->done_dup += ob->txn_dup;
	ob->done_ign += ob->txn_ign;
	ob->txn_ins = ob->txn_dup = ob->txn_ign = 0;
	return 0;
}

void outbox_rollback(outbox *ob)
{
	drop_held(ob);
	ob->txn_ins = ob->txn_dup = ob->txn_ign = 0;
	if (outbox_in_transaction(ob))
		(void)sqlite3_exec(ob->db, "ROLLBACK", NULL, NULL, NULL);
}

void outbox_counts(const outbox *ob, unsigned long *inserted, unsigned long *duplicates,
		   unsigned long *ignored)
{
	if (inserted)
		*inserted = ob->done_ins;
	if (duplicates)
		*duplicates = ob->done_dup;
	if (ignored)
		*ignored = ob->done_ign;
}

/* Refuse transaction control in caller SQL: a COMMIT inside --exec would
 * end the outbox transaction halfway and break the all-or-nothing rule. */
static int deny_txn(void *ctx, int action, const char *a, const char *b, const char *c,
		    const char *d)
{
	(void)a, (void)b, (void)c, (void)d;
	if (action == SQLITE_TRANSACTION) {
		((outbox *)ctx)->denied_txn = 1;
		return SQLITE_DENY;
	}
	return SQLITE_OK;
}

int outbox_exec(outbox *ob, const char *sql, errinfo *err)
{
	int status = outbox_flush(ob, err);
	if (status)
		return status;
	ob->denied_txn = 0;
	ob->timed_out = 0;
	int rc = sqlite3_set_authorizer(ob->db, deny_txn, ob);
	if (rc != SQLITE_OK)
		return fail_sqlite(ob, rc, "SQL", err);
	outbox_set_interruptible(ob, 1);
	rc = sqlite3_exec(ob->db, sql, NULL, NULL, NULL);
	outbox_set_interruptible(ob, 0);
	if (rc != SQLITE_OK) {
		int prim = rc & 0xff;
		if (ob->denied_txn)
			status = errinfo_set(err, EXIT_DATAERR,
					     "SQL: BEGIN, COMMIT and ROLLBACK are not allowed: the SQL "
					     "runs inside the outbox transaction");
		else if (prim == SQLITE_ERROR || prim == SQLITE_CONSTRAINT ||
			 prim == SQLITE_MISMATCH || prim == SQLITE_RANGE || prim == SQLITE_TOOBIG)
			status = errinfo_set(err, EXIT_DATAERR, "SQL: %s", sqlite3_errmsg(ob->db));
		/* Locked, yet no other connection made us wait: the SQL conflicts
		 * with the transaction it runs in (PRAGMA wal_checkpoint, a DROP
		 * of a table being read). Retrying cannot help: bad input.
		 * (SQLITE_LOCKED never means another connection here: no shared
		 * cache.) A wait that ran out, say on an ATTACHed file another
		 * process holds, is real contention: 75 as usual. */
		else if ((prim == SQLITE_LOCKED || prim == SQLITE_BUSY) && !ob->timed_out &&
			 !stop_requested(ob))
			status = errinfo_set(err, EXIT_DATAERR,
					     "SQL: %s: this SQL cannot run inside the outbox transaction",
					     sqlite3_errmsg(ob->db));
		else
			status = fail_sqlite(ob, rc, "SQL", err);
	}
	/* The authorizer also forces statements prepared under it to be
	 * re-prepared; clearing it keeps the insert statement fast. */
	if (sqlite3_set_authorizer(ob->db, NULL, NULL) != SQLITE_OK && status == 0)
		status = fail_sqlite(ob, SQLITE_ERROR, "SQL", err);
	return status;
}

/* The (source, id) of a row being inserted, as bound. */
struct row_key {
	const char *p[2];
	int n[2];
};

/* Bind a string attribute's decoded value: the token's interior when it
 * holds no escape (no copy), else its decoded bytes in col. *p and *n, if
 * p is not NULL, get what was bound. */
static int bind_attr(sqlite3_stmt *st, int idx, const ce_attr *a, buf *col, const char **p,
		     int *n)
{
	const char *v = "";
	int len = 0;
	if (!a || !a->value.p)
		return sqlite3_bind_null(st, idx);
	if (a->type == JSON_STRING && json_string_is_plain(a->value)) {
		v = a->value.p + 1;
		len = (int)(a->value.n - 2);
	} else {
		buf_reset(col);
		if (ce_attr_value(a, col) != 0)
			return SQLITE_TOOBIG;
		v = col->data ? col->data : "";
		len = (int)col->len;
	}
	if (p) {
		*p = v;
		*n = len;
	}
	return sqlite3_bind_text(st, idx, v, len, SQLITE_STATIC);
}

/* 1 if a row with this (source, id) is in the table (as this connection
 * sees it, the open transaction included), 0 if not, -1 on error. */
static int key_stored(outbox *ob, const struct row_key *k, errinfo *err)
{
	if (!ob->exists) {
		char sql[128 + OUTBOX_TABLE_MAX];
		snprintf(sql, sizeof sql, "SELECT 1 FROM %s WHERE source = ?1 AND id = ?2",
			 ob->qtable);
		int rc = sqlite3_prepare_v3(ob->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &ob->exists,
					    NULL);
		if (rc != SQLITE_OK) {
			fail_sqlite(ob, rc, "checking for duplicates", err);
			return -1;
		}
	}
	int rc = sqlite3_bind_text(ob->exists, 1, k->p[0], k->n[0], SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(ob->exists, 2, k->p[1], k->n[1], SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(ob->exists);
	(void)sqlite3_reset(ob->exists);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc == SQLITE_ROW;
	fail_sqlite(ob, rc, "checking for duplicates", err);
	return -1;
}

/* 1 if the table has a trigger (its own, or a TEMP one of this
 * connection), 0 if not, -1 on error. */
static int has_triggers(outbox *ob, errinfo *err)
{
	if (!ob->triggers) {
		int rc = sqlite3_prepare_v3(ob->db,
					    "SELECT 1 FROM main.sqlite_master WHERE type = 'trigger' "
					    "AND tbl_name = ?1 COLLATE NOCASE UNION ALL "
					    "SELECT 1 FROM temp.sqlite_master WHERE type = 'trigger' "
					    "AND tbl_name = ?1 COLLATE NOCASE",
					    -1, SQLITE_PREPARE_PERSISTENT, &ob->triggers, NULL);
		if (rc != SQLITE_OK) {
			fail_sqlite(ob, rc, "checking for triggers", err);
			return -1;
		}
	}
	int rc = sqlite3_bind_text(ob->triggers, 1, ob->table, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(ob->triggers);
	(void)sqlite3_reset(ob->triggers);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return rc == SQLITE_ROW;
	fail_sqlite(ob, rc, "checking for triggers", err);
	return -1;
}

/* Step an insert of n rows (bound; keys[i] is row i's key), then count
 * what it did. A row the statement did not insert is a duplicate, unless
 * a trigger of the table dropped it (BEFORE INSERT ... RAISE(IGNORE)):
 * the only other way. So when the table has a trigger, each key is looked
 * up, and a row whose (source, id) is not stored (before, or earlier in
 * the same statement) is counted as ignored. changes() counts only the
 * rows the INSERT itself wrote, never a trigger's. Nothing of this runs
 * when a statement wrote every row it was given. */
static int step_insert(outbox *ob, sqlite3_stmt *st, unsigned n, const struct row_key *keys,
		       int *result, errinfo *err)
{
	int rc = sqlite3_step(st);
	int changed = sqlite3_changes(ob->db);
	/* reset also releases the SQLITE_STATIC pointers' use. */
	(void)sqlite3_reset(st);
	/* Every row is a valid event with the columns outbox(5) defines, and
	 * (source, id) conflicts are DO NOTHING: a constraint that still fails
	 * is one the application added (a NOT NULL column without a default, a
	 * CHECK, a trigger's RAISE(ABORT)). The table does not take outbox
	 * rows as the tools write them: its configuration, not our bug. */
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return errinfo_set(err, EXIT_CONFIG,
				   "%s: table \"%s\" refused the row: %s (a constraint or trigger "
				   "the application added; see outbox(5))",
				   ob->path, ob->table, sqlite3_errmsg(ob->db));
	if (rc != SQLITE_DONE)
		return fail_sqlite(ob, rc, "inserting", err);
	unsigned long ins = changed > 0 ? (unsigned long)changed : 0;
	unsigned long missing = n > ins ? n - ins : 0, ign = 0;
	int triggered = missing ? has_triggers(ob, err) : 0;
	if (triggered < 0)
		return err->code;
	for (unsigned i = 0; triggered && i < n && ign < missing; i++) {
		int stored = key_stored(ob, &keys[i], err);
		if (stored < 0)
			return err->code;
		ign += !stored;
	}
	unsigned long dup = missing - ign;
	if (outbox_in_transaction(ob)) {
		ob->txn_ins += ins;
		ob->txn_dup += dup;
		ob->txn_ign += ign;
	} else {
		ob->done_ins += ins;
		ob->done_dup += dup;
		ob->done_ign += ign;
	}
	if (result)
		*result = ins ? OUTBOX_INSERTED : dup ? OUTBOX_DUPLICATE : OUTBOX_IGNORED;
	return 0;
}

/* Events longer than this are never held: inserted at once from the
 * scratch buffers, so that held rows stay small (RSS flat). */
#define HOLD_MAX_EVENT (16u * 1024)

/* Copy the event in ob->event and its column values into the next held
 * row; write the group when it is full. */
static int hold(outbox *ob, const cloudevent *ev, const ce_attr *pkey, errinfo *err)
{
	if (!ob->held) {
		ob->held = calloc(ob->group, sizeof *ob->held);
		if (!ob->held)
			return errinfo_set(err, EXIT_SOFTWARE, "%s: out of memory", ob->path);
		for (unsigned i = 0; i < ob->group; i++)
			buf_init(&ob->held[i].data, 3 * (size_t)HOLD_MAX_EVENT);
	}
	struct held *h = &ob->held[ob->nheld];
	buf_reset(&h->data);
	if (buf_append(&h->data, ob->event.data, ob->event.len) != 0)
		return errinfo_set(err, EXIT_SOFTWARE, "%s: out of memory", ob->path);
	h->event_len = ob->event.len;
	const ce_attr *attr[N_COLS] = { &ev->id, &ev->source, &ev->type, &ev->subject, pkey };
	h->nulls = 0;
	for (int i = 0; i < N_COLS; i++) {
		const ce_attr *a = attr[i];
		h->off[i] = h->data.len;
		h->len[i] = 0;
		if (!a || !a->value.p) {
			h->nulls |= 1u << i;
			continue;
		}
		int rc = a->type == JSON_STRING && json_string_is_plain(a->value)
			       ? buf_append(&h->data, a->value.p + 1, a->value.n - 2)
			       : ce_attr_value(a, &h->data);
		if (rc != 0)
			return errinfo_set(err, EXIT_DATAERR, "attribute value too large");
		h->len[i] = h->data.len - h->off[i];
	}
	if (++ob->nheld == ob->group)
		return outbox_flush(ob, err);
	return 0;
}

static int bind_held(sqlite3_stmt *st, int base, const struct held *h)
{
	int rc = SQLITE_OK;
	for (int i = 0; i < N_COLS && rc == SQLITE_OK; i++)
		rc = h->nulls & (1u << i)
			     ? sqlite3_bind_null(st, base + i + 1)
			     : sqlite3_bind_text(st, base + i + 1, h->data.data + h->off[i],
						 (int)h->len[i], SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, base + 6, h->data.data, (int)h->event_len,
				       SQLITE_STATIC);
	return rc;
}

int outbox_flush(outbox *ob, errinfo *err)
{
	unsigned n = ob->nheld;
	if (n == 0)
		return 0;
	/* Held rows belong to the open transaction: if it ended without
	 * outbox_commit() (a COMMIT or an error of the caller's own SQL),
	 * writing them now would autocommit them on their own. */
	if (!outbox_in_transaction(ob)) {
		drop_held(ob);
		return errinfo_set(err, EXIT_SOFTWARE,
				   "%s: the transaction ended before %u appended events were written "
				   "(commit with outbox_commit)", ob->path, n);
	}
	int status = 0;
	for (unsigned done = 0; done < n && status == 0;) {
		/* Full groups, then the rest in power-of-two statements. */
		unsigned k = ob->group;
		while (k > n - done)
			k = k & (k - 1) ? k & (k - 1) : k >> 1;
		sqlite3_stmt **st = k == 1 ? &ob->ins : &ob->ins_n[k];
		if (!*st && (status = prepare_insert(ob, k, st, err)) != 0)
			break;
		char created[TIMEFMT_MICROS_LEN + 1];
		rfc3339_format_us(timefmt_now_us(), created);
		int rc = sqlite3_bind_text(*st, (int)(k * N_PARAMS + 1), created, TIMEFMT_MICROS_LEN,
					   SQLITE_STATIC);
		for (unsigned r = 0; r < k && rc == SQLITE_OK; r++)
			rc = bind_held(*st, (int)(r * N_PARAMS), &ob->held[done + r]);
		if (rc != SQLITE_OK) {
			(void)sqlite3_reset(*st);
			status = fail_sqlite(ob, rc, "binding the events", err);
			break;
		}
		struct row_key keys[OUTBOX_GROUP_MAX];
		for (unsigned r = 0; r < k; r++) {
			const struct held *h = &ob->held[done + r];
			keys[r] = (struct row_key){
				{ h->data.data + h->off[COL_SOURCE], h->data.data + h->off[COL_ID] },
				{ (int)h->len[COL_SOURCE], (int)h->len[COL_ID] } };
		}
		status = step_insert(ob, *st, k, keys, NULL, err);
		done += k;
	}
	drop_held(ob);
	return status;
}

int outbox_append(outbox *ob, const cloudevent *ev, int *result, errinfo *err)
{
	buf_reset(&ob->event);
	if (ce_write_json(ev, &ob->event) != 0)
		return errinfo_set(err, EXIT_DATAERR, "event larger than %zu bytes",
				   ob->event.max);
	if (ob->event.len > INT_MAX)
		return errinfo_set(err, EXIT_DATAERR, "event too large");
	const ce_attr *pkey = ce_find_extension(ev, "partitionkey");
	if (!result && ob->group > 1 && ob->event.len <= HOLD_MAX_EVENT &&
	    outbox_in_transaction(ob))
		return hold(ob, ev, pkey, err);
	/* At once: after the held rows, which come first in seq. */
	int status = outbox_flush(ob, err);
	if (status)
		return status;

	char created[TIMEFMT_MICROS_LEN + 1];
	rfc3339_format_us(timefmt_now_us(), created);
	sqlite3_stmt *st = ob->ins;
	struct row_key key = { { "", "" }, { 0, 0 } };
	int rc = bind_attr(st, 1, &ev->id, &ob->col[COL_ID], &key.p[1], &key.n[1]);
	if (rc == SQLITE_OK)
		rc = bind_attr(st, 2, &ev->source, &ob->col[COL_SOURCE], &key.p[0], &key.n[0]);
	if (rc == SQLITE_OK)
		rc = bind_attr(st, 3, &ev->type, &ob->col[COL_TYPE], NULL, NULL);
	if (rc == SQLITE_OK)
		rc = bind_attr(st, 4, &ev->subject, &ob->col[COL_SUBJECT], NULL, NULL);
	if (rc == SQLITE_OK)
		rc = bind_attr(st, 5, pkey, &ob->col[COL_PKEY], NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 6, ob->event.data, (int)ob->event.len, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 7, created, TIMEFMT_MICROS_LEN, SQLITE_STATIC);
	if (rc == SQLITE_TOOBIG)
		return errinfo_set(err, EXIT_DATAERR, "attribute value too large");
	if (rc != SQLITE_OK)
		return fail_sqlite(ob, rc, "binding the event", err);
	return step_insert(ob, st, 1, &key, result, err);
}

int outbox_append_json(outbox *ob, const char *json, size_t len, int *result, errinfo *err)
{
	cloudevent ev;
	int status = ce_parse_line(&ev, json, len, err);
	return status ? status : outbox_append(ob, &ev, result, err);
}

void outbox_close(outbox *ob)
{
	if (!ob)
		return;
	if (ob->db) {
		outbox_rollback(ob);
		sqlite3_finalize(ob->ins);
		sqlite3_finalize(ob->exists);
		sqlite3_finalize(ob->triggers);
		for (int i = 0; i <= OUTBOX_GROUP_MAX; i++)
			sqlite3_finalize(ob->ins_n[i]);
		/* v2: never fails for lack of finalized statements of ours. */
		(void)sqlite3_close_v2(ob->db);
	}
	buf_free(&ob->event);
	for (int i = 0; i < N_COLS; i++)
		buf_free(&ob->col[i]);
	for (unsigned i = 0; ob->held && i < ob->group; i++)
		buf_free(&ob->held[i].data);
	free(ob->held);
	free(ob->path);
	free(ob);
}
