/* outbox-enqueue - CloudEvents NDJSON in, rows of the outbox table out, in
 * one transaction by default. See outbox-enqueue(1) and outbox(5). */
#include "cli.h"
#include "cloudevent.h"
#include "diag.h"
#include "exitcode.h"
#include "inputs.h"
#include "ndjson.h"
#include "outbox.h"
#include "timefmt.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SQL_FILE (16u * 1024 * 1024)
#define MAX_ERRORS_SHOWN 20

static const char usage_text[] =
	"usage: outbox-enqueue [--db FILE] [--table NAME] [--batch N]\n"
	"                      [--exec SQL | --exec-file FILE]... [--busy-timeout DURATION]\n"
	"                      [--max-line SIZE] [-q] [-v] [FILE...]\n"
	"       outbox-enqueue -h | -V\n";

static const char help_text[] =
	"\n"
	"Store each CloudEvent (JSON, one per line) of FILE (or standard input)\n"
	"as a pending row of the outbox table; all of them in one transaction.\n"
	"\n"
	"      --db FILE                outbox database (default: $OUTBOX_DB, ./outbox.db)\n"
	"      --table NAME             outbox table (default: outbox)\n"
	"      --batch N                commit every N events (and when input pauses)\n"
	"      --exec SQL               run SQL in the same transaction (repeatable)\n"
	"      --exec-file FILE         run the SQL in FILE (- stdin) in the same transaction\n"
	"      --busy-timeout DURATION  wait this long for a lock (default 5s)\n"
	"      --max-line SIZE          longest input line (default 1M)\n"
	"  -q, --quiet                  no summary, no warnings\n"
	"  -v, --verbose                more messages\n"
	"  -h, --help                   this help\n"
	"  -V, --version                print the version\n";

enum {
	OPT_DB = 256, OPT_TABLE, OPT_BATCH, OPT_EXEC, OPT_EXEC_FILE, OPT_BUSY, OPT_MAX_LINE
};

static const struct option long_options[] = {
	{ "db", required_argument, NULL, OPT_DB },
	{ "table", required_argument, NULL, OPT_TABLE },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "exec", required_argument, NULL, OPT_EXEC },
	{ "exec-file", required_argument, NULL, OPT_EXEC_FILE },
	{ "busy-timeout", required_argument, NULL, OPT_BUSY },
	{ "max-line", required_argument, NULL, OPT_MAX_LINE },
	CLI_COMMON_LONG_OPTIONS
};

/* One --exec or --exec-file, in command-line order. */
struct sql_arg {
	const char *text; /* --exec SQL, or the file name for --exec-file */
	int is_file;
};

struct config {
	const char *db;
	outbox_options opt;
	uint64_t batch; /* 0: the whole input is one transaction */
	struct sql_arg *sql;
	int nsql;
	size_t max_line;
	char **files;
	int nfiles;
};

/* Where the last commit ended, for "lines 1-N were committed". */
struct mark {
	char name[256];
	unsigned long line;
	int any;
};

struct run {
	const struct config *c;
	outbox *ob;
	inputs in;                 /* the shared input loop; its bad counts lines */
	int sql_done;              /* --exec ran (in the first transaction) */
	unsigned long enqueued, duplicates, ignored; /* committed */
	unsigned long txn_events;  /* appended in the open transaction */
	int failed;                /* a commit in before_read() failed */
	int sql_failed;            /* --exec failed (reported; not a bad line) */
	errinfo failed_err;
	struct mark committed;
	int progress;              /* stderr is a terminal and not -q */
	int64_t start_us, last_progress_us;
	int progress_shown;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig) { interrupted = sig; }

static int parse_args(int argc, char **argv, struct config *c)
{
	int opt;
	uint64_t v;
	errinfo err = { 0 };
	c->sql = calloc((size_t)argc, sizeof *c->sql);
	if (!c->sql) {
		diag_syserr("allocating");
		return EXIT_SOFTWARE;
	}
	while ((opt = getopt_long(argc, argv, "qvhV", long_options, NULL)) != -1) {
		switch (opt) {
		case OPT_DB:
			if (!*optarg)
				return cli_bad_value(usage_text, "--db wants a file name", NULL);
			if (outbox_path_check(optarg, &err) != 0)
				return cli_usage_error(usage_text, "--db: %s", err.text);
			c->db = optarg;
			break;
		case OPT_TABLE:
			if (!strncasecmp(optarg, "sqlite_", 7))
				return cli_bad_value(usage_text, "--table: names starting with sqlite_ are reserved "
						   "for SQLite's own tables", optarg);
			if (!outbox_table_valid(optarg))
				return cli_bad_value(usage_text, "--table wants an identifier "
						   "[A-Za-z_][A-Za-z0-9_]{0,63}", optarg);
			c->opt.table = optarg;
			break;
		case OPT_BATCH:
			if (cli_parse_uint(optarg, ULONG_MAX, &c->batch) != 0 || c->batch == 0)
				return cli_bad_value(usage_text, "--batch wants a positive number of events", optarg);
			break;
		case OPT_EXEC:
		case OPT_EXEC_FILE:
			c->sql[c->nsql++] = (struct sql_arg){ optarg, opt == OPT_EXEC_FILE };
			break;
		case OPT_BUSY:
			if (cli_parse_duration_ms(optarg, &v) != 0 || v > INT_MAX)
				return cli_bad_value(usage_text, "--busy-timeout wants a duration such as 500ms, 5s or 1m",
						   optarg);
			c->opt.busy_ms = v == 0 ? OUTBOX_NO_WAIT : (unsigned)v;
			break;
		case OPT_MAX_LINE:
			if (cli_parse_size(optarg, (size_t)1 << 30, &c->max_line) != 0 || c->max_line == 0)
				return cli_bad_value(usage_text, "--max-line wants a size from 1 to 1G", optarg);
			break;
		default:
			if (cli_common_option(opt, usage_text, help_text) != 0)
				return EXIT_USAGE;
		}
	}
	if (!c->db) {
		const char *env = getenv("OUTBOX_DB");
		c->db = env && *env ? env : "./outbox.db";
		if (outbox_path_check(c->db, &err) != 0)
			return cli_usage_error(usage_text, "OUTBOX_DB: %s", err.text);
	}
	if (!c->max_line)
		c->max_line = NDJSON_DEFAULT_MAX_LINE;
	/* The canonical form is never longer than the line it came from. */
	c->opt.max_event = c->max_line + 16;
	/* Multi-row INSERTs: a statement's fixed cost shared by 32 rows. */
	c->opt.group = OUTBOX_GROUP_MAX;
	/* A signal ends lock waits and --exec SQL at once (outbox.h). */
	c->opt.stop = &interrupted;
	c->files = argv + optind;
	c->nfiles = argc - optind;
	/* --exec-file - reads the SQL from standard input, which then cannot
	 * also carry the events: they must come from named files. */
	int sql_stdin = 0;
	for (int i = 0; i < c->nsql; i++)
		sql_stdin += c->sql[i].is_file && !strcmp(c->sql[i].text, "-");
	if (sql_stdin > 1)
		return cli_bad_value(usage_text, "--exec-file - may be given once (standard input is read once)",
				   NULL);
	for (int i = 0; sql_stdin && i <= c->nfiles; i++)
		if (i == c->nfiles ? c->nfiles == 0 : !strcmp(c->files[i], "-"))
			return cli_bad_value(usage_text, "--exec-file - reads the SQL from standard input: give the "
					   "events as FILE arguments, not on standard input", NULL);
	return 0;
}

/* Fail as the readers would (a directory is EISDIR, as in lib/ndjson),
 * before the database is touched; the status is the one rule for opening
 * inputs (exitcode_for_open). Not by opening: opening and closing a FIFO
 * would let its writer in and then break its pipe. */
static int check_input(const char *f)
{
	struct stat sb;
	int e = 0;
	if (!strcmp(f, "-"))
		return 0;
	if (stat(f, &sb) != 0)
		e = errno;
	else if (S_ISDIR(sb.st_mode))
		e = EISDIR;
	else if (access(f, R_OK) != 0)
		e = errno;
	if (!e)
		return 0;
	errno = e;
	diag_syserr("%s", f);
	return exitcode_for_open(e);
}

/* Fail before touching the database when an input is missing. */
static int check_inputs(const struct config *c)
{
	int status = 0;
	for (int i = 0; i < c->nfiles && status == 0; i++)
		status = check_input(c->files[i]);
	for (int i = 0; i < c->nsql && status == 0; i++)
		if (c->sql[i].is_file)
			status = check_input(c->sql[i].text);
	return status;
}

/* Read a whole --exec-file into a NUL-terminated buffer (caller frees).
 * A FIFO or a pipe on stdin may never end: a signal stops the wait (75). */
static int read_sql_file(const char *path, char **out, errinfo *err)
{
	int is_stdin = !strcmp(path, "-");
	int fd = STDIN_FILENO;
	if (!is_stdin) {
		do
			fd = open(path, O_RDONLY | O_CLOEXEC);
		while (fd < 0 && errno == EINTR && !interrupted);
	}
	if (fd < 0 && interrupted)
		return errinfo_set(err, EXIT_TEMPFAIL, "%s: interrupted while opening", path);
	if (fd < 0)
		return errinfo_set(err, exitcode_for_open(errno), "%s: %s", path, strerror(errno));
	if (is_stdin)
		path = "<stdin>";
	buf b = BUF_INIT(MAX_SQL_FILE);
	int status = 0;
	for (;;) {
		if (buf_reserve(&b, 65536) != 0) {
			status = errinfo_set(err, EXIT_DATAERR, "%s: larger than %u bytes", path,
					     MAX_SQL_FILE);
			break;
		}
		/* Wait in short polls, not in read(): a signal that lands just
		 * before a blocking read() would not end it. */
		struct pollfd p = { fd, POLLIN, 0 };
		while (!interrupted && poll(&p, 1, 100) == 0)
			;
		if (interrupted) {
			status = errinfo_set(err, EXIT_TEMPFAIL, "%s: interrupted while reading", path);
			break;
		}
		ssize_t n = read(fd, b.data + b.len, b.cap - b.len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			status = errinfo_set(err, EXIT_IOERR, "%s: %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		b.len += (size_t)n;
		b.data[b.len] = '\0';
	}
	if (!is_stdin)
		close(fd);
	if (status) {
		buf_free(&b);
		return status;
	}
	if (memchr(b.data, '\0', b.len)) {
		buf_free(&b);
		return errinfo_set(err, EXIT_DATAERR, "%s: holds a NUL byte: not SQL text", path);
	}
	*out = b.data;
	return 0;
}

static int run_sql(struct run *r, errinfo *err)
{
	for (int i = 0; i < r->c->nsql; i++) {
		const struct sql_arg *s = &r->c->sql[i];
		char *text = NULL;
		int status = 0;
		if (s->is_file)
			status = read_sql_file(s->text, &text, err);
		if (status == 0) {
			status = outbox_exec(r->ob, s->is_file ? text : s->text, err);
			if (status)
				errinfo_prefix(err, "%s", s->is_file ? s->text : "--exec");
		}
		free(text);
		if (status)
			return status;
	}
	r->sql_done = 1;
	return 0;
}

static int begin(struct run *r, errinfo *err)
{
	int status = outbox_begin(r->ob, err);
	if (status == 0 && !r->sql_done)
		status = run_sql(r, err);
	r->txn_events = 0;
	if (status)
		outbox_rollback(r->ob);
	return status;
}

static int commit(struct run *r, errinfo *err)
{
	if (!outbox_in_transaction(r->ob))
		return 0;
	int status = outbox_commit(r->ob, err);
	if (status)
		return status;
	outbox_counts(r->ob, &r->enqueued, &r->duplicates, &r->ignored);
	r->txn_events = 0;
	if (r->in.cur_name[0]) {
		snprintf(r->committed.name, sizeof r->committed.name, "%s", r->in.cur_name);
		r->committed.line = r->in.cur_line;
		r->committed.any = 1;
	}
	if (diag_verbosity > 0 && r->c->batch)
		diag_debug("committed through %s:%lu", r->committed.name, r->committed.line);
	return 0;
}

/* Before a read that may block: with --batch, commit what is pending so a
 * quiet stream never holds the write lock (and its events) while it
 * waits. Regular files always poll readable, so batches stay full. */
static void before_read(void *arg)
{
	struct run *r = arg;
	if (!r->c->batch || !r->txn_events || r->in.bad)
		return;
	struct pollfd p = { r->in.cur_fd, POLLIN, 0 };
	if (poll(&p, 1, 0) == 0 && !r->failed)
		r->failed = commit(r, &r->failed_err); /* enqueue_line() reports it */
}

static void show_progress(struct run *r, int done)
{
	if (!r->progress)
		return;
	if (done) {
		if (r->progress_shown)
			fputs("\r\033[K", stderr);
		return;
	}
	int64_t now = timefmt_now_us();
	if (now - r->start_us < 1000000 || now - r->last_progress_us < 250000)
		return;
	r->last_progress_us = now;
	r->progress_shown = 1;
	fprintf(stderr, "\r%s: %lu events (%s:%lu)\033[K", diag_prog(),
		r->enqueued + r->duplicates + r->txn_events, r->in.cur_name, r->in.cur_line);
}

/* A bad line: the shared loop reports it. In atomic mode it keeps going so
 * every bad line is reported (nothing more is stored, see enqueue_line);
 * with --batch it stops at the first. The open transaction is dropped at
 * once so its lock is not held while the rest is only validated. */
static int bad_line(struct run *r)
{
	outbox_rollback(r->ob);
	return EXIT_DATAERR;
}

static int enqueue_line(void *ctx, const char *line, size_t len, errinfo *err)
{
	struct run *r = ctx;
	if (r->failed) { /* a commit before a read failed */
		*err = r->failed_err;
		return r->failed;
	}
	cloudevent ev;
	if (ce_parse_line(&ev, line, len, err) != 0)
		return bad_line(r);
	if (r->in.bad)
		return 0; /* atomic mode after a bad line: only validate */
	int status = 0;
	if (!outbox_in_transaction(r->ob) && (status = begin(r, err)) != 0) {
		if (status != EXIT_DATAERR)
			return status;
		/* Bad --exec SQL is not a bad line of input: report it as it is
		 * and stop with its status. */
		diag_errinfo(err);
		r->sql_failed = status;
		return INPUTS_STOP;
	}
	status = outbox_append(r->ob, &ev, NULL, err);
	if (status == EXIT_DATAERR)
		return bad_line(r);
	if (status)
		return status;
	r->txn_events++;
	if (r->c->batch && r->txn_events >= r->c->batch && (status = commit(r, err)) != 0)
		return status;
	if ((r->txn_events & 1023) == 0)
		show_progress(r, 0);
	return 0;
}

/* After a failure: say exactly what is in the database. */
static void report_committed(const struct run *r, const char *why)
{
	const struct mark *m = &r->committed;
	if (!m->any || (r->enqueued + r->duplicates) == 0)
		diag_error("%snothing was committed", why);
	else if (r->c->nfiles <= 1)
		diag_error("%slines 1-%lu were committed; nothing after line %lu", why, m->line,
			   m->line);
	else
		diag_error("%sinput up to %s:%lu was committed; nothing after it", why, m->name,
			   m->line);
}

static int enqueue(const struct config *c)
{
	struct run r = { 0 };
	r.c = c;
	r.progress = diag_verbosity >= 0 && isatty(2);
	r.start_us = timefmt_now_us();
	errinfo err = { 0 };
	int status = check_inputs(c);
	if (status)
		return status;
	r.ob = outbox_open(c->db, &c->opt, &err);
	if (!r.ob) {
		diag_errinfo(&err);
		return err.code ? err.code : EXIT_SOFTWARE;
	}
	if (outbox_created(r.ob))
		diag_debug("%s: created the outbox (schema version %d)", c->db,
			   OUTBOX_SCHEMA_VERSION);
	r.in.files = c->files;
	r.in.nfiles = c->nfiles;
	r.in.max_line = c->max_line;
	r.in.skip_blank = 1;
	r.in.on_error = c->batch ? ON_ERROR_FAIL : ON_ERROR_SKIP;
	r.in.max_reported = MAX_ERRORS_SHOWN;
	r.in.stop = &interrupted;
	r.in.before_read = before_read;
	r.in.before_read_arg = &r;
	status = inputs_run(&r.in, enqueue_line, &r);
	if (status == 0 && r.failed) { /* the last commit before a read */
		diag_errinfo(&r.failed_err);
		status = r.failed;
	}
	if (status == 0)
		status = r.sql_failed;
	int sig = interrupted;
	/* On a signal only the batch mode keeps what it has read: those lines
	 * are gone from the pipe, and each is a whole valid event. The default
	 * mode promised all or nothing. */
	if (status == 0 && (!sig || c->batch)) {
		if (!sig && c->nsql > 0 && !r.sql_done && !outbox_in_transaction(r.ob))
			status = begin(&r, &err); /* --exec with no events */
		if (status == 0)
			status = commit(&r, &err);
		if (status)
			diag_errinfo(&err);
		/* A signal during that --exec interrupted it (outbox.h). */
		if (status == EXIT_TEMPFAIL && interrupted)
			sig = interrupted;
	}
	outbox_rollback(r.ob);
	show_progress(&r, 1);
	if (status == 0 && sig) {
		status = EXIT_TEMPFAIL;
		report_committed(&r, sig > 0 ? "interrupted: " : "");
	} else if (status == EXIT_DATAERR && r.in.bad && !c->batch) {
		if (r.in.bad > MAX_ERRORS_SHOWN)
			diag_error("%lu more invalid lines not shown", r.in.bad - MAX_ERRORS_SHOWN);
		diag_error("%lu invalid line%s: nothing was committed", r.in.bad,
			   r.in.bad == 1 ? "" : "s");
	} else if (status) {
		report_committed(&r, sig ? "interrupted: " : "");
	}
	if ((status == 0 || c->batch) && r.ignored)
		diag_info("enqueued %lu, duplicates %lu, ignored %lu", r.enqueued, r.duplicates,
			  r.ignored);
	else if (status == 0 || c->batch)
		diag_info("enqueued %lu, duplicates %lu", r.enqueued, r.duplicates);
	outbox_close(r.ob);
	return status;
}

int main(int argc, char **argv)
{
	struct config c = { 0 };
	cli_start(argv[0]);
	int status = parse_args(argc, argv, &c);
	if (status == 0) {
		/* One signal: stop reading, settle the transaction, exit 75. A
		 * second one kills at once; SQLite still keeps nothing half-done. */
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_signal;
		sa.sa_flags = SA_RESETHAND;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0) {
			diag_syserr("sigaction");
			status = EXIT_SOFTWARE;
		}
	}
	if (status == 0 && outbox_process_init() != 0)
		diag_debug("SQLite memory statistics stay on");
	if (status == 0)
		status = enqueue(&c);
	free(c.sql);
	return status;
}
