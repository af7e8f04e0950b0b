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
#include "relay.h"

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
	"  -q, --quiet                  no summary, no warnings\n"
	"  -v, --verbose                more messages\n"
	"  -h, --help                   this help\n"
	"  -V, --version                print the version\n";

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

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = sig;
}

static int usage_error(const char *why, const char *arg)
{
	if (arg)
		return cli_usage_error(usage_text, "%s: %s", why, arg);
	return cli_usage_error(usage_text, "%s", why);
}

static int parse_duration(const char *s, uint64_t *ms)
{
	return cli_parse_duration_ms(s, ms) == 0 && *ms <= (uint64_t)INT_MAX * 1000 ? 0 : -1;
}

/* --backoff MIN,MAX */
static int parse_backoff(const char *s, relay_options *ro)
{
	char a[64];
	const char *comma = strchr(s, ',');
	if (!comma || (size_t)(comma - s) >= sizeof a)
		return -1;
	memcpy(a, s, (size_t)(comma - s));
	a[comma - s] = '\0';
	uint64_t lo, hi;
	if (parse_duration(a, &lo) != 0 || parse_duration(comma + 1, &hi) != 0 || lo == 0 || hi < lo)
		return -1;
	ro->backoff_min_ms = lo;
	ro->backoff_max_ms = hi;
	return 0;
}

static int parse_args(int argc, char **argv, struct config *c, kafkaconf *kc)
{
	int opt;
	uint64_t v;
	errinfo err = { 0 };
	relay_options *ro = &c->ro;
	while ((opt = getopt_long(argc, argv, "B:b:X:F:qvhV", long_options, NULL)) != -1) {
		switch (opt) {
		case OPT_ONCE:
			ro->once = 1;
			break;
		case OPT_DB:
			if (!*optarg)
				return usage_error("--db wants a file name", NULL);
			ro->db = optarg;
			break;
		case OPT_TABLE:
			if (!outbox_table_valid(optarg))
				return usage_error("--table wants an identifier "
						   "[A-Za-z_][A-Za-z0-9_]{0,63}", optarg);
			ro->table = optarg;
			break;
		case 'B':
			c->bindings_path = optarg;
			break;
		case 'b':
			if (kafkaconf_set_brokers(kc, optarg, &err) != 0)
				return usage_error(err.text, NULL);
			break;
		case 'X':
			if (kafkaconf_set_flag(kc, optarg, &err) != 0)
				return usage_error(err.text, NULL);
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
				return usage_error("--sink wants kafka, stdout or http", optarg);
			c->sink_given = 1;
			break;
		case OPT_URL:
			if (!*optarg)
				return usage_error("--url wants a URL", NULL);
			ro->url = optarg;
			c->url_given = 1;
			break;
		case OPT_MODE:
			if (strcmp(optarg, "binary") == 0)
				ro->mode = RELAY_MODE_BINARY;
			else if (strcmp(optarg, "structured") == 0)
				ro->mode = RELAY_MODE_STRUCTURED;
			else
				return usage_error("--mode wants binary or structured", optarg);
			break;
		case OPT_BATCH:
			if (cli_parse_uint(optarg, 100000, &v) != 0 || v == 0)
				return usage_error("--batch wants a number from 1 to 100000", optarg);
			ro->batch = (unsigned)v;
			break;
		case OPT_ORDERING:
			if (strcmp(optarg, "key") == 0)
				ro->ordering = 1;
			else if (strcmp(optarg, "none") == 0)
				ro->ordering = 0;
			else
				return usage_error("--ordering wants key or none", optarg);
			break;
		case OPT_MAX_ATTEMPTS:
			if (cli_parse_uint(optarg, 1000000, &v) != 0 || v == 0)
				return usage_error("--max-attempts wants a number from 1 to 1000000", optarg);
			ro->max_attempts = (unsigned)v;
			break;
		case OPT_BACKOFF:
			if (parse_backoff(optarg, ro) != 0)
				return usage_error("--backoff wants MIN,MAX durations with 0 < MIN <= MAX, "
						   "such as 1s,5m", optarg);
			break;
		case OPT_INTERVAL:
			if (parse_duration(optarg, &ro->interval_ms) != 0 || ro->interval_ms == 0)
				return usage_error("--interval wants a positive duration such as 5s", optarg);
			break;
		case OPT_DRAIN:
			if (parse_duration(optarg, &ro->drain_timeout_ms) != 0)
				return usage_error("--drain-timeout wants a duration such as 30s", optarg);
			break;
		case OPT_BUSY:
			if (parse_duration(optarg, &v) != 0 || v > INT_MAX)
				return usage_error("--busy-timeout wants a duration such as 500ms, 5s or 1m",
						   optarg);
			ro->busy_ms = v == 0 ? OUTBOX_NO_WAIT : (unsigned)v;
			break;
		case OPT_TIMEOUT:
			if (parse_duration(optarg, &ro->connect_timeout_ms) != 0 ||
			    ro->connect_timeout_ms < 100)
				return usage_error("--timeout wants a duration of at least 100ms", optarg);
			ro->http_timeout_ms = ro->connect_timeout_ms;
			break;
		case OPT_WAIT:
			c->wait = 1;
			break;
		case OPT_METRICS:
			if (!*optarg)
				return usage_error("--metrics-file wants a file name", NULL);
			ro->metrics_file = optarg;
			break;
		default:
			if (cli_common_option(opt, usage_text, help_text) != 0)
				return EXIT_USAGE;
		}
	}
	if (optind < argc)
		return usage_error("unexpected operand", argv[optind]);
	if (ro->sink == RELAY_SINK_HTTP && !ro->url)
		return usage_error("--sink http wants --url", NULL);
	if (ro->url && ro->sink != RELAY_SINK_HTTP)
		return usage_error("--url goes with --sink http", NULL);
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
	status = relay_run(&c->ro, &stop, &st, &err);
	if (err.code)
		diag_errinfo(&err);
	summary(&c->ro, &st);
	if (c->ro.sink == RELAY_SINK_STDOUT)
		outbuf_close(&out);
	filelock_release(&lock);
	bindings_free(b);
	return status;
}

int main(int argc, char **argv)
{
	cli_start(argv[0]);
	if (outbox_process_init() != 0)
		return EXIT_SOFTWARE;
	/* "run" is the default command and may be named. */
	if (argc > 1 && strcmp(argv[1], "run") == 0) {
		argv[1] = argv[0];
		argv++;
		argc--;
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
	if (!status) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_signal; /* no SA_RESTART: waits end early */
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		status = run(&c, kc);
	}
	kafkaconf_free(kc);
	return status;
}
