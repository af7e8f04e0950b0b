/* outbox-relay - publish the outbox table's pending rows to Kafka (or
 * stdout, or an HTTP endpoint), and steer them by hand. See
 * outbox-relay(1) and outbox(5). */
#include "bindings.h"
#include "cli.h"
#include "diag.h"
#include "exitcode.h"
#include "filelock.h"
#include "kafkaconf.h"
#include "outbox.h"
#include "outbox_admin.h"
#include "relay.h"
#include "timefmt.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_text[] =
	"usage: outbox-relay [run] [--once] [--db FILE] [--table NAME] [-B FILE]\n"
	"                    [-b BROKERS] [-X PROP=VALUE]... [-F FILE]\n"
	"                    [--sink kafka|stdout|http] [--url URL] [--mode binary|structured]\n"
	"                    [--batch N] [--ordering key|none] [--max-attempts N]\n"
	"                    [--backoff MIN,MAX] [--interval DURATION] [--drain-timeout DURATION]\n"
	"                    [--busy-timeout DURATION] [--timeout DURATION] [--wait]\n"
	"                    [--metrics-file FILE] [-q] [-v]\n"
	"       outbox-relay status [--json | --prometheus] [--max-age AGE] [--max-pending N]\n"
	"                    [--max-dead N] [--db FILE] [--table NAME]\n"
	"       outbox-relay list [--status pending|sent|dead|any] [--type TYPE] [--source SOURCE]\n"
	"                    [--id ID]... [--since TIME] [--limit N] [--events] [--db FILE]\n"
	"       outbox-relay requeue (--id ID... | --dead | --type TYPE) [--source SOURCE]\n"
	"                    [--status STATE] [--since TIME] [--dry-run] [--db FILE]\n"
	"       outbox-relay purge (--sent-before TIME | --dead-before TIME) [--dry-run] [--db FILE]\n"
	"       outbox-relay -h | -V\n";

static const char help_text[] =
	"\n"
	"Publish the pending rows of an outbox table (outbox(5)) in order, mark\n"
	"each sent only after its delivery report, retry failures with backoff.\n"
	"\n"
	"      --once                   publish what is due, wait for every report, exit\n"
	"      --db FILE                outbox database (default: $OUTBOX_DB, ./outbox.db)\n"
	"      --table NAME             outbox table (default: outbox)\n"
	"  -B, --bindings FILE          type -> topic table (default: $EVENT_BINDINGS, built-in)\n"
	"  -b, --brokers LIST           Kafka bootstrap servers (default: $KAFKA_BROKERS)\n"
	"  -X, --property PROP=VALUE    librdkafka property (repeatable)\n"
	"  -F, --config-file FILE       librdkafka properties file\n"
	"      --sink kafka|stdout|http where events go (default: kafka)\n"
	"      --url URL                the HTTP endpoint (--sink http)\n"
	"      --mode binary|structured content mode for every event (default: the binding's)\n"
	"      --batch N                rows read at a time (default 500)\n"
	"      --ordering key|none      keep per-key order across retries (default: key)\n"
	"      --max-attempts N         attempts before a row is dead (default 10)\n"
	"      --backoff MIN,MAX        retry delay range (default 1s,5m)\n"
	"      --interval DURATION      poll at least this often (default 5s)\n"
	"      --drain-timeout DURATION on a signal, wait this long for reports (default 30s)\n"
	"      --busy-timeout DURATION  wait this long for a database lock (default 5s)\n"
	"      --timeout DURATION       --once: reach the broker within this (default 10s)\n"
	"      --wait                   wait for another relay of the table to exit\n"
	"      --metrics-file FILE      write Prometheus metrics to FILE\n"
	"\n"
	"Operator commands (status, list, requeue, purge) take --db, --table and\n"
	"--busy-timeout, and:\n"
	"      --json                   status: one JSON object\n"
	"      --prometheus             status: Prometheus text format\n"
	"      --max-age AGE            status: exit 1 if the oldest pending row is older\n"
	"      --max-pending N          status: exit 1 if more rows are pending\n"
	"      --max-dead N             status: exit 1 if more rows are dead\n"
	"      --status STATE           list, requeue: pending, sent, dead (list: any)\n"
	"      --type TYPE              list, requeue: rows of this event type\n"
	"      --source SOURCE          list, requeue: rows of this event source\n"
	"      --id ID                  list, requeue: rows with this event id (repeatable)\n"
	"      --since TIME             list, requeue: rows enqueued since TIME or AGE ago\n"
	"      --limit N                list: at most N rows\n"
	"      --events                 list: the stored events, without delivery fields\n"
	"      --dead                   requeue: every dead row\n"
	"      --dry-run                requeue, purge: show what would change\n"
	"      --sent-before TIME       purge: sent rows delivered before TIME or AGE ago\n"
	"      --dead-before TIME       purge: dead rows enqueued before TIME or AGE ago\n"
	"  -q, --quiet                  no summary, no warnings\n"
	"  -v, --verbose                more messages\n"
	"  -h, --help                   this help\n"
	"  -V, --version                print the version\n";

enum {
	OPT_JSON = 512, OPT_PROMETHEUS, OPT_MAX_AGE, OPT_MAX_PENDING, OPT_MAX_DEAD, OPT_STATUS, OPT_TYPE,
	OPT_SOURCE, OPT_ID, OPT_SINCE, OPT_LIMIT, OPT_EVENTS, OPT_DEAD, OPT_DRY_RUN, OPT_SENT_BEFORE,
	OPT_DEAD_BEFORE
};

enum {
	OPT_ONCE = 256, OPT_DB, OPT_TABLE, OPT_SINK, OPT_URL, OPT_MODE, OPT_BATCH, OPT_ORDERING,
	OPT_MAX_ATTEMPTS, OPT_BACKOFF, OPT_INTERVAL, OPT_DRAIN, OPT_BUSY, OPT_TIMEOUT, OPT_WAIT,
	OPT_METRICS
};

static const struct option long_options[] = {
	{ "once", no_argument, NULL, OPT_ONCE },
	{ "db", required_argument, NULL, OPT_DB },
	{ "table", required_argument, NULL, OPT_TABLE },
	{ "bindings", required_argument, NULL, 'B' },
	{ "brokers", required_argument, NULL, 'b' },
	{ "property", required_argument, NULL, 'X' },
	{ "config-file", required_argument, NULL, 'F' },
	{ "sink", required_argument, NULL, OPT_SINK },
	{ "url", required_argument, NULL, OPT_URL },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "ordering", required_argument, NULL, OPT_ORDERING },
	{ "max-attempts", required_argument, NULL, OPT_MAX_ATTEMPTS },
	{ "backoff", required_argument, NULL, OPT_BACKOFF },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "drain-timeout", required_argument, NULL, OPT_DRAIN },
	{ "busy-timeout", required_argument, NULL, OPT_BUSY },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "wait", no_argument, NULL, OPT_WAIT },
	{ "metrics-file", required_argument, NULL, OPT_METRICS },
	CLI_COMMON_LONG_OPTIONS
};

struct config {
	relay_options ro;
	const char *bindings_path;
	const char *kafka_file;
	int wait;
	int sink_given, url_given;
};

/* --db, --table, --busy-timeout: the same for every command. Returns 0
 * when opt was one of them, EXIT_USAGE for a bad value, -1 otherwise. */
static int store_option(int opt, const char *arg, const char **db, outbox_options *store)
{
	uint64_t v;
	switch (opt) {
	case OPT_DB:
		if (!*arg)
			return cli_bad_value(usage_text, "--db wants a file name", NULL);
		*db = arg;
		return 0;
	case OPT_TABLE:
		if (!outbox_table_valid(arg))
			return cli_bad_value(usage_text, "--table wants an identifier [A-Za-z_][A-Za-z0-9_]{0,63}", arg);
		store->table = arg;
		return 0;
	case OPT_BUSY:
		if (cli_parse_timeout_ms(arg, &v) != 0 || v > INT_MAX)
			return cli_bad_value(usage_text, "--busy-timeout wants a duration such as 500ms, 5s or 1m", arg);
		store->busy_ms = v == 0 ? OUTBOX_NO_WAIT : (unsigned)v;
		return 0;
	default:
		return -1;
	}
}

static int parse_args(int argc, char **argv, struct config *c, kafkaconf *kc)
{
	int opt;
	uint64_t v;
	errinfo err = { 0 };
	relay_options *ro = &c->ro;
	outbox_options store = { 0 };
	while ((opt = getopt_long(argc, argv, "B:b:X:F:qvhV", long_options, NULL)) != -1) {
		int so = store_option(opt, optarg, &ro->db, &store);
		if (so >= 0) {
			if (so)
				return so;
			continue;
		}
		switch (opt) {
		case OPT_ONCE:
			ro->once = 1;
			break;
		case 'B':
			c->bindings_path = optarg;
			break;
		case 'b':
			if (kafkaconf_set_brokers(kc, optarg, &err) != 0)
				return cli_bad_value(usage_text, err.text, NULL);
			break;
		case 'X':
			if (kafkaconf_set_flag(kc, optarg, &err) != 0)
				return cli_bad_value(usage_text, err.text, NULL);
			break;
		case 'F':
			c->kafka_file = optarg;
			break;
		case OPT_SINK:
			if (strcmp(optarg, "kafka") == 0)
				ro->sink = RELAY_SINK_KAFKA;
			else if (strcmp(optarg, "stdout") == 0)
				ro->sink = RELAY_SINK_STDOUT;
			else if (strcmp(optarg, "http") == 0)
				ro->sink = RELAY_SINK_HTTP;
			else
				return cli_bad_value(usage_text, "--sink wants kafka, stdout or http", optarg);
			c->sink_given = 1;
			break;
		case OPT_URL:
			if (!*optarg)
				return cli_bad_value(usage_text, "--url wants a URL", NULL);
			ro->url = optarg;
			c->url_given = 1;
			break;
		case OPT_MODE:
			if (strcmp(optarg, "binary") == 0)
				ro->mode = RELAY_MODE_BINARY;
			else if (strcmp(optarg, "structured") == 0)
				ro->mode = RELAY_MODE_STRUCTURED;
			else
				return cli_bad_value(usage_text, "--mode wants binary or structured", optarg);
			break;
		case OPT_BATCH:
			if (cli_parse_uint(optarg, 100000, &v) != 0 || v == 0)
				return cli_bad_value(usage_text, "--batch wants a number from 1 to 100000", optarg);
			ro->batch = (unsigned)v;
			break;
		case OPT_ORDERING:
			if (strcmp(optarg, "key") == 0)
				ro->ordering = 1;
			else if (strcmp(optarg, "none") == 0)
				ro->ordering = 0;
			else
				return cli_bad_value(usage_text, "--ordering wants key or none", optarg);
			break;
		case OPT_MAX_ATTEMPTS:
			if (cli_parse_uint(optarg, 1000000, &v) != 0 || v == 0)
				return cli_bad_value(usage_text, "--max-attempts wants a number from 1 to 1000000", optarg);
			ro->max_attempts = (unsigned)v;
			break;
		case OPT_BACKOFF:
			if (cli_parse_backoff(optarg, &ro->backoff_min_ms, &ro->backoff_max_ms) != 0)
				return cli_bad_value(usage_text, "--backoff wants MIN,MAX durations with 0 < MIN <= MAX, "
						   "such as 1s,5m", optarg);
			break;
		case OPT_INTERVAL:
			if (cli_parse_timeout_ms(optarg, &ro->interval_ms) != 0 || ro->interval_ms == 0)
				return cli_bad_value(usage_text, "--interval wants a positive duration such as 5s", optarg);
			break;
		case OPT_DRAIN:
			if (cli_parse_timeout_ms(optarg, &ro->drain_timeout_ms) != 0)
				return cli_bad_value(usage_text, "--drain-timeout wants a duration such as 30s", optarg);
			break;
		case OPT_TIMEOUT:
			if (cli_parse_timeout_ms(optarg, &ro->connect_timeout_ms) != 0 ||
			    ro->connect_timeout_ms < 100)
				return cli_bad_value(usage_text, "--timeout wants a duration of at least 100ms", optarg);
			ro->http_timeout_ms = ro->connect_timeout_ms;
			break;
		case OPT_WAIT:
			c->wait = 1;
			break;
		case OPT_METRICS:
			if (!*optarg)
				return cli_bad_value(usage_text, "--metrics-file wants a file name", NULL);
			ro->metrics_file = optarg;
			break;
		default:
			if (cli_common_option(opt, usage_text, help_text) != 0)
				return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_bad_value(usage_text, "unexpected operand", argv[optind]);
	ro->table = store.table;
	ro->busy_ms = store.busy_ms;
	if (ro->sink == RELAY_SINK_HTTP && !ro->url)
		return cli_bad_value(usage_text, "--sink http wants --url", NULL);
	if (ro->url && ro->sink != RELAY_SINK_HTTP)
		return cli_bad_value(usage_text, "--url goes with --sink http", NULL);
	if (!ro->db) {
		const char *env = getenv("OUTBOX_DB");
		ro->db = env && *env ? env : "./outbox.db";
	}
	return 0;
}

/* Producer defaults (DESIGN.md): every in-sync replica has the message
 * before it counts as sent; the idempotent producer keeps order and drops
 * its own duplicates across retries. A bounded delivery time so --once
 * ends: a message not delivered in 60 s is rescheduled. */
static int kafka_defaults(kafkaconf *kc)
{
	int s = kafkaconf_default(kc, "acks", "all");
	if (!s)
		s = kafkaconf_default(kc, "enable.idempotence", "true");
	if (!s)
		s = kafkaconf_default(kc, "message.timeout.ms", "60000");
	return s;
}

static void summary(const relay_options *ro, const relay_stats *st)
{
	if (diag_verbosity < 0)
		return;
	char extra[256] = "";
	size_t n = 0;
	if (st->rescheduled)
		n += (size_t)snprintf(extra + n, sizeof extra - n, ", %lu rescheduled", st->rescheduled);
	if (st->dead && n < sizeof extra)
		n += (size_t)snprintf(extra + n, sizeof extra - n, ", %lu dead", st->dead);
	if (st->blocked && n < sizeof extra)
		n += (size_t)snprintf(extra + n, sizeof extra - n, ", %lu held back", st->blocked);
	if (st->unbound && n < sizeof extra)
		n += (size_t)snprintf(extra + n, sizeof extra - n, ", %lu without a binding",
				      st->unbound);
	if (st->untouched && n < sizeof extra)
		snprintf(extra + n, sizeof extra - n, ", %lu left pending", st->untouched);
	diag_info("%s: sent %lu%s", ro->db, st->sent, extra);
}

static int run(struct config *c, kafkaconf *kc)
{
	errinfo err = { 0 };
	int status = 0;
	if (c->kafka_file)
		status = kafkaconf_load_file(kc, c->kafka_file, &err);
	if (!status)
		status = kafkaconf_load_env(kc, &err);
	if (!status)
		status = kafka_defaults(kc);
	if (status) {
		diag_errinfo(&err);
		return status;
	}
	if (diag_verbosity > 0 && c->ro.sink == RELAY_SINK_KAFKA)
		kafkaconf_dump(kc, stderr);
	bindings *b = bindings_load(c->bindings_path, &err);
	if (!b) {
		diag_errinfo(&err);
		return err.code;
	}
	c->ro.bindings = b;
	c->ro.kc = kc;
	filelock lock = { -1, 0 };
	status = filelock_take(&lock, c->ro.db, c->ro.table ? c->ro.table : OUTBOX_DEFAULT_TABLE,
			       c->wait ? FILELOCK_WAIT : FILELOCK_TRY, &err);
	if (status == EXIT_NO) {
		/* A cron overlap is normal: the other relay is doing the job. */
		diag_info("another outbox-relay is running on %s (table %s): %s; exiting", c->ro.db,
			  c->ro.table ? c->ro.table : OUTBOX_DEFAULT_TABLE, err.text);
		bindings_free(b);
		return 0;
	}
	if (status) {
		diag_errinfo(&err);
		bindings_free(b);
		return status;
	}
	outbuf out;
	if (c->ro.sink == RELAY_SINK_STDOUT) {
		if (outbuf_init(&out, STDOUT_FILENO, 0) != 0) {
			diag_error("out of memory");
			filelock_release(&lock);
			bindings_free(b);
			return EXIT_SOFTWARE;
		}
		c->ro.out = &out;
	}
	relay_stats st;
	status = relay_run(&c->ro, &cli_stop, &st, &err);
	if (err.code)
		diag_errinfo(&err);
	if (st.passes) /* nothing to sum up when it never got to work */
		summary(&c->ro, &st);
	if (c->ro.sink == RELAY_SINK_STDOUT)
		outbuf_close(&out);
	filelock_release(&lock);
	bindings_free(b);
	return status;
}

/* ---- operator commands ---- */

static const struct option admin_options[] = {
	{ "db", required_argument, NULL, OPT_DB },
	{ "table", required_argument, NULL, OPT_TABLE },
	{ "busy-timeout", required_argument, NULL, OPT_BUSY },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "prometheus", no_argument, NULL, OPT_PROMETHEUS },
	{ "max-age", required_argument, NULL, OPT_MAX_AGE },
	{ "max-pending", required_argument, NULL, OPT_MAX_PENDING },
	{ "max-dead", required_argument, NULL, OPT_MAX_DEAD },
	{ "status", required_argument, NULL, OPT_STATUS },
	{ "type", required_argument, NULL, OPT_TYPE },
	{ "source", required_argument, NULL, OPT_SOURCE },
	{ "id", required_argument, NULL, OPT_ID },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "limit", required_argument, NULL, OPT_LIMIT },
	{ "events", no_argument, NULL, OPT_EVENTS },
	{ "dead", no_argument, NULL, OPT_DEAD },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "sent-before", required_argument, NULL, OPT_SENT_BEFORE },
	{ "dead-before", required_argument, NULL, OPT_DEAD_BEFORE },
	CLI_COMMON_LONG_OPTIONS
};

enum admin_command { ADMIN_STATUS, ADMIN_LIST, ADMIN_REQUEUE, ADMIN_PURGE };
static const char *const admin_names[] = { "status", "list", "requeue", "purge" };

struct admin_config {
	enum admin_command cmd;
	const char *db;
	outbox_options opt;
	int format;
	outbox_thresholds th;
	outbox_select sel;
	const char **ids;
	int state_given, dead, dry_run, events;
	uint64_t limit;
	outbox_purge_options purge;
};

/* Which options each command takes: a bit per command. */
static int admin_allows(int opt, enum admin_command cmd)
{
	unsigned bit = 1u << cmd;
	switch (opt) {
	case OPT_JSON:
	case OPT_PROMETHEUS:
	case OPT_MAX_AGE:
	case OPT_MAX_PENDING:
	case OPT_MAX_DEAD:
		return bit & (1u << ADMIN_STATUS);
	case OPT_STATUS:
	case OPT_TYPE:
	case OPT_SOURCE:
	case OPT_ID:
	case OPT_SINCE:
		return bit & ((1u << ADMIN_LIST) | (1u << ADMIN_REQUEUE));
	case OPT_LIMIT:
	case OPT_EVENTS:
		return bit & (1u << ADMIN_LIST);
	case OPT_DEAD:
		return bit & (1u << ADMIN_REQUEUE);
	case OPT_DRY_RUN:
		return bit & ((1u << ADMIN_REQUEUE) | (1u << ADMIN_PURGE));
	case OPT_SENT_BEFORE:
	case OPT_DEAD_BEFORE:
		return bit & (1u << ADMIN_PURGE);
	default:
		return 1;
	}
}

static int parse_count(const char *opt, const char *arg, int64_t *out)
{
	uint64_t v;
	if (cli_parse_uint(arg, INT64_MAX, &v) != 0)
		return cli_usage_error(usage_text, "%s wants a non-negative number: %s", opt, arg);
	*out = (int64_t)v;
	return 0;
}

static int parse_admin(int argc, char **argv, struct admin_config *a)
{
	int opt;
	int64_t now = timefmt_now_us();
	a->th = (outbox_thresholds)OUTBOX_THRESHOLDS_NONE;
	a->ids = calloc((size_t)argc, sizeof *a->ids);
	if (!a->ids) {
		diag_error("out of memory");
		return EXIT_SOFTWARE;
	}
	while ((opt = getopt_long(argc, argv, "qvhV", admin_options, NULL)) != -1) {
		if (!admin_allows(opt, a->cmd))
			return cli_usage_error(usage_text, "%s does not take %s", admin_names[a->cmd],
					       argv[optind - 1]);
		int64_t us;
		int so = store_option(opt, optarg, &a->db, &a->opt);
		if (so >= 0) {
			if (so)
				return so;
			continue;
		}
		switch (opt) {
		case OPT_JSON:
			a->format = OUTBOX_FMT_JSON;
			break;
		case OPT_PROMETHEUS:
			a->format = OUTBOX_FMT_PROMETHEUS;
			break;
		case OPT_MAX_AGE:
			if (outbox_admin_parse_age(optarg, &us) != 0)
				return cli_bad_value(usage_text, "--max-age wants an age such as 90s, 15m or 2h", optarg);
			a->th.max_age_s = us / 1000000;
			break;
		case OPT_MAX_PENDING:
			if (parse_count("--max-pending", optarg, &a->th.max_pending) != 0)
				return EXIT_USAGE;
			break;
		case OPT_MAX_DEAD:
			if (parse_count("--max-dead", optarg, &a->th.max_dead) != 0)
				return EXIT_USAGE;
			break;
		case OPT_STATUS:
			if (outbox_admin_parse_state(optarg, &a->sel.state) != 0)
				return cli_bad_value(usage_text, "--status wants pending, sent, dead or any", optarg);
			a->state_given = 1;
			break;
		case OPT_TYPE:
			a->sel.type = optarg;
			break;
		case OPT_SOURCE:
			a->sel.source = optarg;
			break;
		case OPT_ID:
			a->ids[a->sel.n_ids++] = optarg;
			break;
		case OPT_SINCE:
			if (outbox_admin_parse_time(optarg, now, &a->sel.since_us) != 0)
				return cli_bad_value(usage_text, "--since wants an RFC 3339 time or an age such as 2h",
						   optarg);
			a->sel.has_since = 1;
			break;
		case OPT_LIMIT:
			if (cli_parse_uint(optarg, UINT64_MAX, &a->limit) != 0 || a->limit == 0)
				return cli_bad_value(usage_text, "--limit wants a positive number", optarg);
			break;
		case OPT_EVENTS:
			a->events = 1;
			break;
		case OPT_DEAD:
			a->dead = 1;
			break;
		case OPT_DRY_RUN:
			a->dry_run = 1;
			break;
		case OPT_SENT_BEFORE:
			if (outbox_admin_parse_time(optarg, now, &a->purge.sent_before_us) != 0)
				return cli_bad_value(usage_text, "--sent-before wants an RFC 3339 time or an age such as 7d",
						   optarg);
			a->purge.has_sent_before = 1;
			break;
		case OPT_DEAD_BEFORE:
			if (outbox_admin_parse_time(optarg, now, &a->purge.dead_before_us) != 0)
				return cli_bad_value(usage_text, "--dead-before wants an RFC 3339 time or an age such as 30d",
						   optarg);
			a->purge.has_dead_before = 1;
			break;
		default:
			if (cli_common_option(opt, usage_text, help_text) != 0)
				return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_bad_value(usage_text, "unexpected operand", argv[optind]);
	a->sel.ids = a->ids;
	if (a->cmd == ADMIN_REQUEUE) {
		int ways = (a->sel.n_ids > 0) + a->dead + (a->sel.type != NULL && !a->sel.n_ids);
		if (!ways)
			return cli_bad_value(usage_text, "requeue wants --id, --dead or --type", NULL);
		if (a->dead && a->state_given)
			return cli_bad_value(usage_text, "--dead and --status exclude each other", NULL);
		if (a->dead)
			a->sel.state = OUTBOX_DEAD;
		else if (!a->sel.n_ids && !a->state_given)
			a->sel.state = OUTBOX_DEAD;
	}
	if (a->cmd == ADMIN_PURGE && !a->purge.has_sent_before && !a->purge.has_dead_before)
		return cli_bad_value(usage_text, "purge wants --sent-before or --dead-before", NULL);
	if (!a->db) {
		const char *env = getenv("OUTBOX_DB");
		a->db = env && *env ? env : "./outbox.db";
	}
	return 0;
}

static int admin(int argc, char **argv, enum admin_command cmd)
{
	struct admin_config a;
	memset(&a, 0, sizeof a);
	a.cmd = cmd;
	int status = parse_admin(argc, argv, &a);
	if (status) {
		free(a.ids);
		return status;
	}
	errinfo err = { 0 };
	FILE *info = diag_verbosity < 0 ? NULL : stderr;
	outbox_admin *ad = outbox_admin_open(a.db, &a.opt, &err);
	if (!ad) {
		diag_errinfo(&err);
		free(a.ids);
		return err.code ? err.code : EXIT_SOFTWARE;
	}
	switch (cmd) {
	case ADMIN_STATUS: {
		outbox_status st;
		status = outbox_admin_status(ad, timefmt_now_us(), &st, &err);
		if (!status)
			status = outbox_admin_status_print(&st, a.format, a.opt.table, stdout, &err);
		if (!status)
			status = outbox_admin_check(&st, &a.th, &err);
		break;
	}
	case ADMIN_LIST: {
		outbox_list_options lo = { a.sel, a.limit, a.events };
		uint64_t rows = 0;
		status = outbox_admin_list(ad, &lo, stdout, info, &rows, &err);
		break;
	}
	case ADMIN_REQUEUE: {
		outbox_requeue_options ro = { a.sel, a.dry_run, 0, &cli_stop };
		outbox_requeue_result res;
		status = outbox_admin_requeue(ad, &ro, stdout, info, &res, &err);
		break;
	}
	case ADMIN_PURGE: {
		a.purge.dry_run = a.dry_run;
		a.purge.stop = &cli_stop;
		outbox_purge_result res;
		status = outbox_admin_purge(ad, &a.purge, info, &res, &err);
		break;
	}
	}
	if (status && err.code)
		diag_errinfo(&err);
	outbox_admin_close(ad);
	free(a.ids);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE) {
			diag_syserr("writing output");
			return status ? status : EXIT_IOERR;
		}
	}
	return status;
}

int main(int argc, char **argv)
{
	cli_start(argv[0]);
	if (outbox_process_init() != 0)
		return EXIT_SOFTWARE;
	cli_catch_stop();
	/* "run" is the default command and may be named. */
	if (argc > 1 && strcmp(argv[1], "run") == 0) {
		argv[1] = argv[0];
		argv++;
		argc--;
	}
	for (int i = 0; argc > 1 && i < 4; i++) {
		if (strcmp(argv[1], admin_names[i]) == 0) {
			argv[1] = argv[0];
			return admin(argc - 1, argv + 1, (enum admin_command)i);
		}
	}
	struct config c;
	memset(&c, 0, sizeof c);
	relay_options_init(&c.ro);
	kafkaconf *kc = kafkaconf_new();
	if (!kc) {
		diag_error("out of memory");
		return EXIT_SOFTWARE;
	}
	int status = parse_args(argc, argv, &c, kc);
	if (!status)
		status = run(&c, kc);
	kafkaconf_free(kc);
	return status;
}
