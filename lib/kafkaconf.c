/* kafkaconf.c - see kafkaconf.h */
#include "kafkaconf.h"
#include "buf.h"
#include "exitcode.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>
#include <time.h>

/* Hard bounds, so a runaway file or flag list cannot eat memory. A value
 * may be a whole PEM certificate (ssl.ca.pem), hence the generous size. */
#define KC_MAX_ENTRIES 4096
#define KC_MAX_PROP 256
#define KC_MAX_VALUE (1024 * 1024)
#define KC_MAX_LINE (KC_MAX_VALUE + KC_MAX_PROP + 64)
#define KC_MIN_TIMEOUT_MS 100
/* While no broker is usable, metadata is asked in slices this long so that
 * an "all brokers down" report can end the wait early. */
#define KC_SLICE_MS 200

struct kc_entry {
	char *prop;
	char *value;
	char *origin;
	int layer;
};

struct kafkaconf {
	struct kc_entry *v;
	size_t n, cap;
};

/* librdkafka's alias pairs, so kafkaconf_get() sees through them. */
static const char *const kc_aliases[][2] = {
	{"bootstrap.servers", "metadata.broker.list"},
	{"acks", "request.required.acks"},
	{"linger.ms", "queue.buffering.max.ms"},
	{"retries", "message.send.max.retries"},
	{"compression.type", "compression.codec"},
	{"delivery.timeout.ms", "message.timeout.ms"},
	{"max.partition.fetch.bytes", "fetch.message.max.bytes"},
	{"sasl.mechanism", "sasl.mechanisms"},
};

static int same_property(const char *a, const char *b)
{
	if (strcmp(a, b) == 0)
		return 1;
	for (size_t i = 0; i < sizeof kc_aliases / sizeof kc_aliases[0]; i++) {
		if ((strcmp(a, kc_aliases[i][0]) == 0 && strcmp(b, kc_aliases[i][1]) == 0) ||
		    (strcmp(a, kc_aliases[i][1]) == 0 && strcmp(b, kc_aliases[i][0]) == 0))
			return 1;
	}
	return 0;
}

int kafkaconf_is_secret(const char *prop)
{
	static const char *const named[] = {
		"sasl.password", "ssl.key.password", "ssl.keystore.password",
		"sasl.oauthbearer.client.secret", "ssl.key.pem",
		/* "principal=... extension_x=..." may carry tokens */
		"sasl.oauthbearer.config",
	};
	if (!prop)
		return 0;
	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
		if (strcasecmp(prop, named[i]) == 0)
			return 1;
	return strcasestr(prop, "password") != NULL || strcasestr(prop, "secret") != NULL;
}

kafkaconf *kafkaconf_new(void)
{
	kafkaconf *kc = calloc(1, sizeof *kc);
	if (!kc)
		return NULL;
	if (kafkaconf_default(kc, "bootstrap.servers", KAFKACONF_DEFAULT_BROKERS) != 0) {
		kafkaconf_free(kc);
		return NULL;
	}
	return kc;
}

static void entry_free(struct kc_entry *e)
{
	/* Wipe values: they may be secrets, and freed memory can end up in
	 * core dumps. */
	if (e->value) {
		volatile char *p = e->value;
		while (*p)
			*p++ = '\0';
	}
	free(e->prop);
	free(e->value);
	free(e->origin);
}

static void truncate_to(kafkaconf *kc, size_t n)
{
	while (kc->n > n)
		entry_free(&kc->v[--kc->n]);
}

void kafkaconf_free(kafkaconf *kc)
{
	if (!kc)
		return;
	truncate_to(kc, 0);
	free(kc->v);
	free(kc);
}

/* Append one setting; all or nothing. */
static int add_entry(kafkaconf *kc, const char *prop, size_t proplen, const char *value,
		     size_t valuelen, int layer, const char *origin)
{
	if (proplen == 0 || layer < KAFKACONF_DEFAULT || layer > KAFKACONF_FLAG)
		return EXIT_CONFIG;
	if (proplen > KC_MAX_PROP || valuelen > KC_MAX_VALUE || kc->n >= KC_MAX_ENTRIES)
		return EXIT_CONFIG;
	if (kc->n == kc->cap) {
		size_t cap = kc->cap ? kc->cap * 2 : 16;
		struct kc_entry *v = realloc(kc->v, cap * sizeof *v);
		if (!v)
			return EXIT_SOFTWARE;
		kc->v = v;
		kc->cap = cap;
	}
	struct kc_entry e = {
		.prop = strndup(prop, proplen),
		.value = strndup(value, valuelen),
		.origin = strdup(origin),
		.layer = layer,
	};
	if (!e.prop || !e.value || !e.origin) {
		entry_free(&e);
		return EXIT_SOFTWARE;
	}
	kc->v[kc->n++] = e;
	return 0;
}

static const char *layer_origin(int layer)
{
	switch (layer) {
	case KAFKACONF_DEFAULT: return "default";
	case KAFKACONF_FILE: return "config file";
	case KAFKACONF_ENV: return "environment";
	default: return "-X";
	}
}

int kafkaconf_set(kafkaconf *kc, const char *prop, const char *value, int layer)
{
	if (!kc || !prop || !value)
		return EXIT_SOFTWARE;
	return add_entry(kc, prop, strlen(prop), value, strlen(value), layer, layer_origin(layer));
}

int kafkaconf_default(kafkaconf *kc, const char *prop, const char *value)
{
	return kafkaconf_set(kc, prop, value, KAFKACONF_DEFAULT);
}

/* The index of the setting that wins for prop, or -1. */
static long winner(const kafkaconf *kc, const char *prop)
{
	long best = -1;
	for (size_t i = 0; i < kc->n; i++) {
		if (!same_property(kc->v[i].prop, prop))
			continue;
		if (best < 0 || kc->v[i].layer >= kc->v[best].layer)
			best = (long)i;
	}
	return best;
}

const char *kafkaconf_get(const kafkaconf *kc, const char *prop)
{
	long i = kc && prop ? winner(kc, prop) : -1;
	return i < 0 ? NULL : kc->v[i].value;
}

const char *kafkaconf_origin(const kafkaconf *kc, const char *prop)
{
	long i = kc && prop ? winner(kc, prop) : -1;
	return i < 0 ? NULL : kc->v[i].origin;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* Parse "prop=value" with blanks trimmed around both; -1 without '=' or
 * without a property name. */
static int split_setting(const char *s, size_t len, const char **prop, size_t *proplen,
			 const char **value, size_t *valuelen)
{
	const char *eq = memchr(s, '=', len);
	if (!eq)
		return -1;
	const char *p = s, *pe = eq;
	while (p < pe && is_blank(*p))
		p++;
	while (pe > p && is_blank(pe[-1]))
		pe--;
	const char *v = eq + 1, *ve = s + len;
	while (v < ve && is_blank(*v))
		v++;
	while (ve > v && is_blank(ve[-1]))
		ve--;
	if (pe == p)
		return -1;
	*prop = p;
	*proplen = (size_t)(pe - p);
	*value = v;
	*valuelen = (size_t)(ve - v);
	return 0;
}

static int add_error(errinfo *err, int code, const char *where, const char *prop, size_t proplen)
{
	if (code == EXIT_SOFTWARE)
		return errinfo_set(err, code, "%s: out of memory", where);
	if (proplen > KC_MAX_PROP)
		return errinfo_set(err, code, "%s: property name too long (max %d bytes)", where,
				   KC_MAX_PROP);
	return errinfo_set(err, code, "%s: \"%.*s\": value too long or too many settings "
			   "(max %d bytes, %d settings)", where, (int)proplen, prop,
			   KC_MAX_VALUE, KC_MAX_ENTRIES);
}

/* Read one line (without its newline) into b; 1 = got a line, 0 = EOF,
 * -1 = read error, -2 = longer than b's maximum, -3 = holds a NUL byte.
 * Byte by byte: configuration files are small, and this sees NULs. */
static int read_line(FILE *f, buf *b)
{
	int c, any = 0, toolong = 0, nul = 0;
	buf_reset(b);
	while ((c = getc(f)) != EOF) {
		any = 1;
		if (c == '\n')
			break;
		if (c == '\0')
			nul = 1;
		else if (!toolong && buf_putc(b, (char)c) != 0)
			toolong = 1;
	}
	if (ferror(f))
		return -1;
	if (!any)
		return 0;
	return toolong ? -2 : nul ? -3 : 1;
}

int kafkaconf_load_file(kafkaconf *kc, const char *path, errinfo *err)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		return errinfo_set(err, exitcode_for_open(e), "%s: cannot open configuration file: %s",
				   path, strerror(e));
	}
	size_t start = kc->n;
	buf line = BUF_INIT(KC_MAX_LINE);
	unsigned long lineno = 0;
	int rc = 0;
	char where[PATH_MAX + 32];
	for (;;) {
		int got = read_line(f, &line);
		if (got == 0)
			break;
		lineno++;
		snprintf(where, sizeof where, "%s:%lu", path, lineno);
		if (got == -1) {
			rc = errinfo_set(err, EXIT_IOERR, "%s: read error: %s", where, strerror(errno));
			break;
		}
		if (got == -2) {
			rc = errinfo_set(err, EXIT_CONFIG, "%s: line too long (max %d bytes)", where,
					 KC_MAX_LINE);
			break;
		}
		if (got == -3) {
			rc = errinfo_set(err, EXIT_CONFIG, "%s: NUL byte in line", where);
			break;
		}
		size_t i = 0;
		while (i < line.len && is_blank(line.data[i]))
			i++;
		if (i == line.len || line.data[i] == '#')
			continue;
		const char *prop, *value;
		size_t proplen, valuelen;
		if (split_setting(line.data + i, line.len - i, &prop, &proplen, &value, &valuelen) != 0) {
			/* Not quoting the line: it may be a secret missing its '='. */
			rc = errinfo_set(err, EXIT_CONFIG, "%s: expected PROPERTY=VALUE", where);
			break;
		}
		int r = add_entry(kc, prop, proplen, value, valuelen, KAFKACONF_FILE, where);
		if (r != 0) {
			rc = add_error(err, r, where, prop, proplen);
			break;
		}
	}
	if (line.data)
		memset(line.data, 0, line.cap); /* it held values, maybe secrets */
	buf_free(&line);
	/* A file holding a secret that others may read leaks it: say so. */
	struct stat st;
	if (rc == 0 && fstat(fileno(f), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		for (size_t i = start; i < kc->n; i++)
			if (kafkaconf_is_secret(kc->v[i].prop)) {
				diag_warn("%s: holds %s but others may read it (mode %03o): chmod 600 it",
					  path, kc->v[i].prop, (unsigned)(st.st_mode & 0777));
				break;
			}
	}
	if (fclose(f) != 0 && rc == 0)
		rc = errinfo_set(err, EXIT_IOERR, "%s: %s", path, strerror(errno));
	if (rc != 0)
		truncate_to(kc, start);
	return rc;
}

int kafkaconf_load_env(kafkaconf *kc, errinfo *err)
{
	const char *b = getenv("KAFKA_BROKERS");
	if (!b || !*b)
		return 0;
	int r = add_entry(kc, "bootstrap.servers", strlen("bootstrap.servers"), b, strlen(b),
			  KAFKACONF_ENV, "KAFKA_BROKERS");
	if (r != 0)
		return add_error(err, r, "KAFKA_BROKERS", "bootstrap.servers", 17);
	return 0;
}

int kafkaconf_set_flag(kafkaconf *kc, const char *arg, errinfo *err)
{
	const char *prop, *value;
	size_t proplen, valuelen;
	if (split_setting(arg, strlen(arg), &prop, &proplen, &value, &valuelen) != 0) {
		/* Quote the argument only when it cannot be a mistyped secret
		 * or a value without its name. */
		if (kafkaconf_is_secret(arg) || strchr(arg, '='))
			return errinfo_set(err, EXIT_USAGE, "-X: expected PROPERTY=VALUE");
		return errinfo_set(err, EXIT_USAGE, "-X \"%s\": expected PROPERTY=VALUE", arg);
	}
	int r = add_entry(kc, prop, proplen, value, valuelen, KAFKACONF_FLAG, "-X");
	if (r != 0)
		return add_error(err, r, "-X", prop, proplen);
	return 0;
}

int kafkaconf_set_brokers(kafkaconf *kc, const char *brokers, errinfo *err)
{
	if (!brokers || !*brokers)
		return errinfo_set(err, EXIT_USAGE, "-b: empty broker list");
	int r = add_entry(kc, "bootstrap.servers", 17, brokers, strlen(brokers), KAFKACONF_FLAG, "-b");
	if (r != 0)
		return add_error(err, r, "-b", "bootstrap.servers", 17);
	return 0;
}

int kafkaconf_dump(const kafkaconf *kc, FILE *f)
{
	for (int layer = KAFKACONF_DEFAULT; layer <= KAFKACONF_FLAG; layer++) {
		for (size_t i = 0; i < kc->n; i++) {
			const struct kc_entry *e = &kc->v[i];
			if (e->layer != layer || winner(kc, e->prop) != (long)i)
				continue;
			if (fprintf(f, "%s=%s  # %s\n", e->prop,
				    kafkaconf_is_secret(e->prop) ? "[redacted]" : e->value,
				    e->origin) < 0)
				return EXIT_IOERR;
		}
	}
	return 0;
}

rd_kafka_conf_t *kafkaconf_build(const kafkaconf *kc, errinfo *err)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (!conf) {
		errinfo_set(err, EXIT_SOFTWARE, "out of memory");
		return NULL;
	}
	char errstr[512];
	/* Lowest layer first: a later rd_kafka_conf_set() overrides an earlier
	 * one, also through aliases. */
	for (int layer = KAFKACONF_DEFAULT; layer <= KAFKACONF_FLAG; layer++) {
		for (size_t i = 0; i < kc->n; i++) {
			const struct kc_entry *e = &kc->v[i];
			if (e->layer != layer)
				continue;
			errstr[0] = '\0';
			rd_kafka_conf_res_t r =
				rd_kafka_conf_set(conf, e->prop, e->value, errstr, sizeof errstr);
			if (r == RD_KAFKA_CONF_OK)
				continue;
			if (r == RD_KAFKA_CONF_UNKNOWN)
				errinfo_set(err, EXIT_CONFIG,
					    "%s: unknown configuration property \"%s\"", e->origin,
					    e->prop);
			else if (kafkaconf_is_secret(e->prop))
				/* librdkafka's message quotes the value. */
				errinfo_set(err, EXIT_CONFIG,
					    "%s: invalid value for configuration property \"%s\" "
					    "(value not shown)", e->origin, e->prop);
			else
				errinfo_set(err, EXIT_CONFIG, "%s: %s", e->origin,
					    errstr[0] ? errstr : "invalid configuration");
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
	}
	return conf;
}

int kafkaconf_exitcode(rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR_NO_ERROR:
		return EXIT_OK;

	case RD_KAFKA_RESP_ERR__TRANSPORT:
	case RD_KAFKA_RESP_ERR__RESOLVE:
	case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
	case RD_KAFKA_RESP_ERR__TIMED_OUT:
	case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
	case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
	case RD_KAFKA_RESP_ERR__WAIT_COORD:
	case RD_KAFKA_RESP_ERR__UNKNOWN_BROKER:
	case RD_KAFKA_RESP_ERR__NODE_UPDATE:
	case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
	case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
	case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
	case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
	case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
	case RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE:
	case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
	case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
	case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
	case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
	case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
	case RD_KAFKA_RESP_ERR_NOT_CONTROLLER:
	case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
		return EXIT_UNAVAILABLE;

	case RD_KAFKA_RESP_ERR__AUTHENTICATION:
	case RD_KAFKA_RESP_ERR__SSL:
	case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
	case RD_KAFKA_RESP_ERR_ILLEGAL_SASL_STATE:
	case RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM:
	case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_DELEGATION_TOKEN_AUTH_DISABLED:
	case RD_KAFKA_RESP_ERR_DELEGATION_TOKEN_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_SECURITY_DISABLED:
		return EXIT_NOPERM;

	case RD_KAFKA_RESP_ERR__INVALID_ARG:
	case RD_KAFKA_RESP_ERR__NOT_CONFIGURED:
	case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
	case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
	case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
	case RD_KAFKA_RESP_ERR__UNKNOWN_GROUP:
	case RD_KAFKA_RESP_ERR__INVALID_TYPE:
	case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
	case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
	case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
	case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
	case RD_KAFKA_RESP_ERR_INVALID_GROUP_ID:
	case RD_KAFKA_RESP_ERR_INVALID_SESSION_TIMEOUT:
	case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
	case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
	case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
	case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
		return EXIT_CONFIG;

	default:
		return EXIT_SOFTWARE;
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kafkaconf_topics_free(kafkaconf_topics *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].name);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

const kafkaconf_topic *kafkaconf_topics_find(const kafkaconf_topics *t, const char *name)
{
	for (size_t i = 0; t && name && i < t->n; i++)
		if (strcmp(t->v[i].name, name) == 0)
			return &t->v[i];
	return NULL;
}

static int copy_topics(const rd_kafka_metadata_t *md, kafkaconf_topics *out, errinfo *err)
{
	size_t n = md->topic_cnt > 0 ? (size_t)md->topic_cnt : 0;
	out->v = n ? calloc(n, sizeof *out->v) : NULL;
	if (n && !out->v)
		return errinfo_set(err, EXIT_SOFTWARE, "out of memory");
	for (size_t i = 0; i < n; i++) {
		out->v[i].name = strdup(md->topics[i].topic ? md->topics[i].topic : "");
		if (!out->v[i].name) {
			kafkaconf_topics_free(out);
			return errinfo_set(err, EXIT_SOFTWARE, "out of memory");
		}
		out->v[i].partitions = md->topics[i].partition_cnt;
		out->v[i].err = md->topics[i].err;
		out->n = i + 1;
	}
	out->orig_broker_id = md->orig_broker_id;
	return 0;
}

int kafkaconf_list_topics_rk(rd_kafka_t *rk, int timeout_ms, kafkaconf_topics *out, errinfo *err)
{
	memset(out, 0, sizeof *out);
	const rd_kafka_metadata_t *md = NULL;
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
	if (e) {
		int code = kafkaconf_exitcode(e);
		return errinfo_set(err, code == EXIT_CONFIG ? EXIT_SOFTWARE : code,
				   "cluster metadata: %s", rd_kafka_err2str(e));
	}
	int rc = copy_topics(md, out, err);
	rd_kafka_metadata_destroy(md);
	return rc;
}

/* What the temporary handle's error callback saw. */
struct probe_state {
	int all_down;
	rd_kafka_resp_err_t last;
	char reason[256];
};

static void probe_error_cb(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
	(void)rk;
	struct probe_state *st = opaque;
	if (e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
		st->all_down = 1;
		return; /* "1/1 brokers are down" says less than the cause before it */
	}
	st->last = (rd_kafka_resp_err_t)e;
	snprintf(st->reason, sizeof st->reason, "%s", reason ? reason : rd_kafka_err2str(e));
}

static void probe_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *line)
{
	(void)rk;
	(void)level;
	diag_debug("librdkafka: %s: %s", fac, line);
}

/* Bound librdkafka's socket timeouts by ours, unless the user chose them. */
static int bound_timeout(const kafkaconf *kc, rd_kafka_conf_t *conf, const char *prop,
			 long min, long max, long want, errinfo *err)
{
	if (kafkaconf_get(kc, prop))
		return 0;
	char val[32], errstr[256];
	long v = want < min ? min : want > max ? max : want;
	snprintf(val, sizeof val, "%ld", v);
	if (rd_kafka_conf_set(conf, prop, val, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
		return errinfo_set(err, EXIT_SOFTWARE, "%s: %s", prop, errstr);
	return 0;
}

int kafkaconf_list_topics(const kafkaconf *kc, int timeout_ms, kafkaconf_topics *out, errinfo *err)
{
	memset(out, 0, sizeof *out);
	if (timeout_ms < KC_MIN_TIMEOUT_MS)
		timeout_ms = KC_MIN_TIMEOUT_MS;
	int64_t deadline = now_ms() + timeout_ms;
	rd_kafka_conf_t *conf = kafkaconf_build(kc, err);
	if (!conf)
		return err ? err->code : EXIT_CONFIG;
	if (bound_timeout(kc, conf, "socket.timeout.ms", 10, 300000, timeout_ms, err) != 0 ||
	    bound_timeout(kc, conf, "socket.connection.setup.timeout.ms", 1000, INT_MAX,
			  timeout_ms, err) != 0) {
		rd_kafka_conf_destroy(conf);
		return err ? err->code : EXIT_SOFTWARE;
	}
	struct probe_state st = {0};
	rd_kafka_conf_set_opaque(conf, &st);
	rd_kafka_conf_set_error_cb(conf, probe_error_cb);
	rd_kafka_conf_set_log_cb(conf, probe_log_cb);

	char errstr[512];
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		return errinfo_set(err, EXIT_CONFIG, "cannot create Kafka client: %s", errstr);
	}

	const rd_kafka_metadata_t *md = NULL;
	rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__TIMED_OUT;
	int waiting_for_broker = 1;
	for (;;) {
		int64_t remain = deadline - now_ms();
		if (remain <= 0)
			break;
		int t = (int)(waiting_for_broker && remain > KC_SLICE_MS ? KC_SLICE_MS : remain);
		e = rd_kafka_metadata(rk, 1, NULL, &md, t);
		rd_kafka_poll(rk, 0); /* run probe_error_cb for what happened */
		if (!e)
			break;
		if (kafkaconf_exitcode(st.last) == EXIT_NOPERM)
			break;
		if (e == RD_KAFKA_RESP_ERR__TRANSPORT) {
			/* No usable broker yet: give up once every one has failed. */
			if (st.all_down)
				break;
			continue;
		}
		/* A broker took the request: from now on wait the whole rest. */
		waiting_for_broker = 0;
		if (e != RD_KAFKA_RESP_ERR__TIMED_OUT)
			break;
	}

	int rc;
	const char *bs = kafkaconf_get(kc, "bootstrap.servers");
	if (!e) {
		rc = copy_topics(md, out, err);
		rd_kafka_metadata_destroy(md);
	} else if (kafkaconf_exitcode(st.last) == EXIT_NOPERM) {
		rc = errinfo_set(err, EXIT_NOPERM, "Kafka at %s: authentication failed: %s",
				 bs ? bs : "?", st.reason);
	} else {
		rc = kafkaconf_exitcode(e);
		if (rc == EXIT_CONFIG || rc == EXIT_SOFTWARE)
			/* Our own request is well formed: any other failure
			 * means no broker gave a usable answer. */
			rc = EXIT_UNAVAILABLE;
		if (st.all_down)
			errinfo_set(err, rc, "cannot reach any Kafka broker at %s: %s", bs ? bs : "?",
				    st.reason[0] ? st.reason : rd_kafka_err2str(e));
		else
			errinfo_set(err, rc, "no metadata from Kafka at %s within %d ms%s%s",
				    bs ? bs : "?", timeout_ms, st.reason[0] ? ": " : "", st.reason);
	}
	rd_kafka_destroy(rk);
	return rc;
}
