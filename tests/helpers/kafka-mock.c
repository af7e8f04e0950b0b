/* kafka-mock.c - host librdkafka's mock cluster for hermetic tests and demos.
 *
 * usage: kafka-mock [-b BROKERS] [-t TOPIC:PARTITIONS[:REPLICATION]]...
 *                   [--port-file FILE]
 *
 *   -b BROKERS     number of brokers, ids 1..BROKERS (default 1)
 *   -t T:P[:R]     create topic T with P partitions and replication R
 *                  (default 1, at most BROKERS); repeatable
 *   --port-file F  also write the bootstrap list (one line) to F, atomically
 *                  (written to F.tmp then renamed), for scripts that cannot
 *                  read our stdout
 *
 * Protocol. The mock speaks the real Kafka protocol on loopback (random
 * ports chosen by librdkafka; 2.0.2 cannot be told which). Once every
 * broker listens and every -t topic exists, the first stdout line is the
 * bootstrap list, e.g. "127.0.0.1:40123,127.0.0.1:40125". Then it reads
 * commands from stdin, one per line, words separated by blanks, and answers
 * each with exactly one line on stdout, "ok" or "error: REASON", flushed, so
 * a test can send a command and wait for its answer before going on:
 *
 *   topic NAME PARTITIONS [RF]      create a topic
 *   down BROKER_ID                  close the broker's connections and
 *                                   refuse new ones (-1: all brokers)
 *   up BROKER_ID                    accept connections again (-1: all)
 *   rtt BROKER_ID MS                delay the broker's responses by MS
 *   error APIKEY CODE [COUNT]       fail the next COUNT (default 1) requests
 *                                   of APIKEY with CODE, cluster-wide.
 *                                   APIKEY: a number or a name (Produce,
 *                                   Fetch, Metadata, OffsetCommit,
 *                                   FindCoordinator, JoinGroup, ...).
 *                                   CODE: a number or an error name as
 *                                   rd_kafka_err2name() spells it
 *                                   (NOT_LEADER_FOR_PARTITION,
 *                                   REQUEST_TIMED_OUT, _TRANSPORT, ...);
 *                                   _TRANSPORT makes the broker disconnect.
 *   leader TOPIC PARTITION BROKER_ID  move a partition's leader (-1: none)
 *   bootstraps                      answer "ok BOOTSTRAP_LIST"
 *   quit                            answer "ok", destroy the cluster, exit 0
 *
 * Empty lines and lines starting with '#' are ignored without an answer.
 * EOF on stdin, SIGTERM and SIGINT also destroy the cluster and exit 0.
 *
 * Exit status: 0 after quit/EOF/signal; 64 usage error, including a -t
 * topic that cannot be created (duplicate, bad counts); 70 when the mock
 * cluster cannot be created; 73 when --port-file cannot be written.
 *
 * Only what librdkafka 2.0.2's rdkafka_mock.h offers is used: there is no
 * way there to pick ports, to inspect topics or to clear one broker's
 * errors, so the commands stop at that.
 */
#include "cli.h"
#include "diag.h"
#include "exitcode.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_BROKERS 32
#define MAX_PARTITIONS 10000
#define MAX_ERROR_COUNT 10000
#define LINE_MAX_LEN 4096
#define MAX_WORDS 8

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: %s [-b BROKERS] [-t TOPIC:PARTITIONS[:REPLICATION]]... [--port-file FILE]\n",
		diag_prog());
}

/* Kafka protocol ApiKeys by name, so tests read like the protocol guide. */
static const struct {
	const char *name;
	int16_t key;
} apikeys[] = {
	{"Produce", 0},           {"Fetch", 1},
	{"ListOffsets", 2},       {"Offset", 2},
	{"Metadata", 3},          {"LeaderAndIsr", 4},
	{"StopReplica", 5},       {"UpdateMetadata", 6},
	{"ControlledShutdown", 7}, {"OffsetCommit", 8},
	{"OffsetFetch", 9},       {"FindCoordinator", 10},
	{"JoinGroup", 11},        {"Heartbeat", 12},
	{"LeaveGroup", 13},       {"SyncGroup", 14},
	{"DescribeGroups", 15},   {"ListGroups", 16},
	{"SaslHandshake", 17},    {"ApiVersions", 18},
	{"CreateTopics", 19},     {"DeleteTopics", 20},
	{"DeleteRecords", 21},    {"InitProducerId", 22},
	{"OffsetForLeaderEpoch", 23}, {"AddPartitionsToTxn", 24},
	{"AddOffsetsToTxn", 25},  {"EndTxn", 26},
	{"WriteTxnMarkers", 27},  {"TxnOffsetCommit", 28},
	{"DescribeAcls", 29},     {"CreateAcls", 30},
	{"DeleteAcls", 31},       {"DescribeConfigs", 32},
	{"AlterConfigs", 33},     {"AlterReplicaLogDirs", 34},
	{"DescribeLogDirs", 35},  {"SaslAuthenticate", 36},
	{"CreatePartitions", 37}, {"CreateDelegationToken", 38},
	{"RenewDelegationToken", 39}, {"ExpireDelegationToken", 40},
	{"DescribeDelegationToken", 41}, {"DeleteGroups", 42},
	{"ElectLeaders", 43},     {"IncrementalAlterConfigs", 44},
	{"AlterPartitionReassignments", 45},
	{"ListPartitionReassignments", 46}, {"OffsetDelete", 47},
};

/* Parse a decimal integer in [min, max], optionally negative. */
static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	if (!s || !*s)
		return -1;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_apikey(const char *s, int16_t *out)
{
	long v;
	if (parse_long(s, 0, INT16_MAX, &v) == 0) {
		*out = (int16_t)v;
		return 0;
	}
	size_t len = strlen(s);
	/* Accept "ProduceRequest" as well as "Produce". */
	if (len > 7 && strcasecmp(s + len - 7, "Request") == 0)
		len -= 7;
	for (size_t i = 0; i < sizeof apikeys / sizeof apikeys[0]; i++) {
		if (strlen(apikeys[i].name) == len &&
		    strncasecmp(apikeys[i].name, s, len) == 0) {
			*out = apikeys[i].key;
			return 0;
		}
	}
	return -1;
}

static int parse_errcode(const char *s, rd_kafka_resp_err_t *out)
{
	long v;
	if (parse_long(s, INT_MIN, INT_MAX, &v) == 0) {
		*out = (rd_kafka_resp_err_t)v;
		return 0;
	}
	static const char prefix[] = "RD_KAFKA_RESP_ERR_";
	if (strncasecmp(s, prefix, sizeof prefix - 1) == 0)
		s += sizeof prefix - 1;
	const struct rd_kafka_err_desc *descs;
	size_t n;
	rd_kafka_get_err_descs(&descs, &n);
	for (size_t i = 0; i < n; i++) {
		if (descs[i].name && strcasecmp(descs[i].name, s) == 0) {
			*out = descs[i].code;
			return 0;
		}
	}
	return -1;
}

/* Answer one line and flush; -1 when stdout is gone (the test went away). */
static int answer(const char *fmt, ...) DIAG_PRINTF(1, 2);
static int answer(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vprintf(fmt, ap);
	va_end(ap);
	if (r < 0 || putchar('\n') == EOF || fflush(stdout) == EOF)
		return -1;
	return 0;
}

static int answer_err(rd_kafka_resp_err_t err)
{
	if (err)
		return answer("error: %s: %s", rd_kafka_err2name(err), rd_kafka_err2str(err));
	return answer("ok");
}

static int parse_broker(const char *s, int nbrokers, int32_t *id)
{
	long v;
	if (parse_long(s, -1, nbrokers, &v) != 0 || v == 0)
		return -1;
	*id = (int32_t)v;
	return 0;
}

static int create_topic(rd_kafka_mock_cluster_t *mc, int nbrokers, const char *name,
			const char *parts, const char *rf, char *why, size_t whylen)
{
	long p, r = 1;
	if (!*name) {
		snprintf(why, whylen, "empty topic name");
		return -1;
	}
	if (parse_long(parts, 1, MAX_PARTITIONS, &p) != 0) {
		snprintf(why, whylen, "bad partition count \"%s\" (1..%d)", parts, MAX_PARTITIONS);
		return -1;
	}
	/* The mock assigns replicas round-robin over existing brokers: more
	 * replicas than brokers would name brokers that do not exist. */
	if (rf && parse_long(rf, 1, nbrokers, &r) != 0) {
		snprintf(why, whylen, "bad replication factor \"%s\" (1..%d)", rf, nbrokers);
		return -1;
	}
	rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, name, (int)p, (int)r);
	if (err) {
		snprintf(why, whylen, "%s: %s", rd_kafka_err2name(err), rd_kafka_err2str(err));
		return -1;
	}
	return 0;
}

/* Run one command line; returns 1 to quit, -1 when stdout failed, else 0. */
static int run_command(rd_kafka_mock_cluster_t *mc, int nbrokers, char *line)
{
	char *w[MAX_WORDS + 1];
	int n = 0;
	for (char *save = NULL, *t = strtok_r(line, " \t\r", &save); t;
	     t = strtok_r(NULL, " \t\r", &save)) {
		if (n == MAX_WORDS)
			return answer("error: too many words");
		w[n++] = t;
	}
	if (n == 0 || w[0][0] == '#')
		return 0;
	const char *cmd = w[0];
	int32_t id;
	long v;
	char why[256];

	if (strcmp(cmd, "quit") == 0 && n == 1)
		return answer("ok") == 0 ? 1 : -1;
	if (strcmp(cmd, "bootstraps") == 0 && n == 1)
		return answer("ok %s", rd_kafka_mock_cluster_bootstraps(mc));
	if (strcmp(cmd, "topic") == 0 && (n == 3 || n == 4)) {
		if (create_topic(mc, nbrokers, w[1], w[2], n == 4 ? w[3] : NULL, why, sizeof why) != 0)
			return answer("error: topic %s: %s", w[1], why);
		return answer("ok");
	}
	if ((strcmp(cmd, "down") == 0 || strcmp(cmd, "up") == 0) && n == 2) {
		if (parse_broker(w[1], nbrokers, &id) != 0)
			return answer("error: no broker \"%s\" (1..%d or -1)", w[1], nbrokers);
		return answer_err(cmd[0] == 'd' ? rd_kafka_mock_broker_set_down(mc, id)
						: rd_kafka_mock_broker_set_up(mc, id));
	}
	if (strcmp(cmd, "rtt") == 0 && n == 3) {
		if (parse_broker(w[1], nbrokers, &id) != 0)
			return answer("error: no broker \"%s\" (1..%d or -1)", w[1], nbrokers);
		if (parse_long(w[2], 0, 3600000, &v) != 0)
			return answer("error: bad rtt \"%s\" (0..3600000 ms)", w[2]);
		return answer_err(rd_kafka_mock_broker_set_rtt(mc, id, (int)v));
	}
	if (strcmp(cmd, "error") == 0 && (n == 3 || n == 4)) {
		int16_t key;
		rd_kafka_resp_err_t code;
		long count = 1;
		if (parse_apikey(w[1], &key) != 0)
			return answer("error: unknown ApiKey \"%s\"", w[1]);
		if (parse_errcode(w[2], &code) != 0)
			return answer("error: unknown error code \"%s\"", w[2]);
		if (n == 4 && parse_long(w[3], 1, MAX_ERROR_COUNT, &count) != 0)
			return answer("error: bad count \"%s\" (1..%d)", w[3], MAX_ERROR_COUNT);
		rd_kafka_resp_err_t *errs = malloc((size_t)count * sizeof *errs);
		if (!errs)
			return answer("error: out of memory");
		for (long i = 0; i < count; i++)
			errs[i] = code;
		rd_kafka_mock_push_request_errors_array(mc, key, (size_t)count, errs);
		free(errs);
		return answer("ok");
	}
	if (strcmp(cmd, "leader") == 0 && n == 4) {
		if (parse_long(w[2], 0, MAX_PARTITIONS - 1, &v) != 0)
			return answer("error: bad partition \"%s\"", w[2]);
		if (parse_broker(w[3], nbrokers, &id) != 0)
			return answer("error: no broker \"%s\" (1..%d or -1)", w[3], nbrokers);
		return answer_err(rd_kafka_mock_partition_set_leader(mc, w[1], (int32_t)v, id));
	}
	return answer("error: unknown command or wrong arguments: \"%s\" "
		      "(topic, down, up, rtt, error, leader, bootstraps, quit)", cmd);
}

static int write_port_file(const char *path, const char *bootstraps)
{
	char tmp[PATH_MAX];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	int bad = fprintf(f, "%s\n", bootstraps) < 0;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	return 0;
}

/* Read stdin until quit, EOF, a signal or a dead stdout. Signals are
 * blocked except inside ppoll(), so one arriving between the flag check and
 * the wait cannot be lost. */
static int serve(rd_kafka_mock_cluster_t *mc, int nbrokers, const sigset_t *waitmask)
{
	char line[LINE_MAX_LEN];
	size_t len = 0;
	int discarding = 0; /* inside an over-long line */
	for (;;) {
		if (got_signal)
			return 0;
		struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
		int r = ppoll(&pfd, 1, NULL, waitmask);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			diag_syserr("poll");
			return EXIT_SOFTWARE;
		}
		ssize_t got = read(STDIN_FILENO, line + len, sizeof line - 1 - len);
		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			diag_syserr("read stdin");
			return EXIT_SOFTWARE;
		}
		if (got == 0)
			return 0; /* EOF: the test is done with us */
		len += (size_t)got;
		for (;;) {
			char *nl = memchr(line, '\n', len);
			if (!nl)
				break;
			*nl = '\0';
			int q = 0;
			if (discarding) {
				discarding = 0;
				if (answer("error: line too long (max %d bytes)", LINE_MAX_LEN - 2) != 0)
					q = -1;
			} else {
				q = run_command(mc, nbrokers, line);
			}
			if (q != 0)
				return 0; /* quit, or nobody reads our answers any more */
			size_t used = (size_t)(nl - line) + 1;
			memmove(line, nl + 1, len - used);
			len -= used;
		}
		if (len == sizeof line - 1) {
			discarding = 1;
			len = 0;
		}
	}
}

int main(int argc, char **argv)
{
	cli_start(argv[0]);
	long nbrokers = 1;
	const char *port_file = NULL;
	static const struct option longopts[] = {
		{"brokers", required_argument, NULL, 'b'},
		{"topic", required_argument, NULL, 't'},
		{"port-file", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	/* Topics are created after the cluster exists; first just validate. */
	while ((c = getopt_long(argc, argv, "b:t:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (parse_long(optarg, 1, MAX_BROKERS, &nbrokers) != 0) {
				diag_error("-b: broker count must be 1..%d", MAX_BROKERS);
				usage(stderr);
				return EXIT_USAGE;
			}
			break;
		case 't':
			if (!strchr(optarg, ':')) {
				diag_error("-t %s: want TOPIC:PARTITIONS[:REPLICATION]", optarg);
				usage(stderr);
				return EXIT_USAGE;
			}
			break;
		case 'p':
			port_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		diag_error("unexpected argument \"%s\"", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}

	/* Block the stop signals before librdkafka starts threads, so the
	 * threads inherit the mask and only our ppoll() ever takes them. */
	sigset_t stopset, waitmask;
	sigemptyset(&stopset);
	sigaddset(&stopset, SIGTERM);
	sigaddset(&stopset, SIGINT);
	if (sigprocmask(SIG_BLOCK, &stopset, &waitmask) != 0) {
		diag_syserr("sigprocmask");
		return EXIT_SOFTWARE;
	}
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0) {
		diag_syserr("sigaction");
		return EXIT_SOFTWARE;
	}

	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	/* The handle only anchors the mock cluster; it never connects. */
	/* log_level 4 hides the notice that this handle has no bootstrap
	 * servers (it needs none); warnings and errors still show. */
	if (rd_kafka_conf_set(conf, "client.id", "kafka-mock", errstr, sizeof errstr) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
		diag_error("%s", errstr);
		rd_kafka_conf_destroy(conf);
		return EXIT_SOFTWARE;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	if (!rk) {
		diag_error("cannot create client handle: %s", errstr);
		rd_kafka_conf_destroy(conf);
		return EXIT_SOFTWARE;
	}
	int status = 0;
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, (int)nbrokers);
	if (!mc) {
		diag_error("cannot create mock cluster with %ld broker(s)", nbrokers);
		rd_kafka_destroy(rk);
		return EXIT_SOFTWARE;
	}

	optind = 1;
	while ((c = getopt_long(argc, argv, "b:t:h", longopts, NULL)) != -1) {
		if (c != 't')
			continue;
		char spec[512], why[256];
		if ((size_t)snprintf(spec, sizeof spec, "%s", optarg) >= sizeof spec) {
			diag_error("-t: topic spec too long");
			status = EXIT_USAGE;
			break;
		}
		char *save = NULL;
		char *name = strtok_r(spec, ":", &save);
		char *parts = strtok_r(NULL, ":", &save);
		char *rf = strtok_r(NULL, ":", &save);
		char *extra = strtok_r(NULL, ":", &save);
		if (!name || !parts || extra) {
			diag_error("-t %s: want TOPIC:PARTITIONS[:REPLICATION]", optarg);
			status = EXIT_USAGE;
			break;
		}
		if (create_topic(mc, (int)nbrokers, name, parts, rf, why, sizeof why) != 0) {
			diag_error("-t %s: %s", optarg, why);
			status = EXIT_USAGE;
			break;
		}
	}

	if (status == 0) {
		const char *bs = rd_kafka_mock_cluster_bootstraps(mc);
		if (port_file && write_port_file(port_file, bs) != 0) {
			diag_syserr("cannot write %s", port_file);
			status = EXIT_CANTCREAT;
		} else if (answer("%s", bs) != 0) {
			status = 0; /* nobody listening: nothing to serve */
		} else {
			status = serve(mc, (int)nbrokers, &waitmask);
		}
	}

	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return status;
}
