/* test_kafkaconf.c - layered Kafka client configuration, error mapping and
 * the metadata helper (against an in-process librdkafka mock cluster). */
#include "exitcode.h"
#include "kafkaconf.h"
#include "unit.h"

#include <librdkafka/rdkafka_mock.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/test_kafkaconf.XXXXXX";

/* Write text to a file in tmpdir; returns its path (static buffer). */
static const char *write_file(const char *name, const char *text, size_t len)
{
	static char path[256];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
		printf("# cannot write %s\n", path);
		return "/nonexistent";
	}
	return path;
}

static const char *write_text(const char *name, const char *text)
{
	return write_file(name, text, strlen(text));
}

static const char *conf_get(rd_kafka_conf_t *conf, const char *prop)
{
	static char val[512];
	size_t sz = sizeof val;
	if (rd_kafka_conf_get(conf, prop, val, &sz) != RD_KAFKA_CONF_OK)
		return NULL;
	return val;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_precedence(void)
{
	errinfo err = {0};
	kafkaconf *kc = kafkaconf_new();
	CHECK(kc != NULL);
	if (!kc)
		return;
	CHECK_STR(kafkaconf_get(kc, "bootstrap.servers"), "localhost:9092");
	CHECK_STR(kafkaconf_origin(kc, "bootstrap.servers"), "default");
	CHECK(kafkaconf_get(kc, "client.id") == NULL);

	const char *path = write_text("prec.conf",
				      "bootstrap.servers=file:1\n"
				      "client.id=from-file\n"
				      "linger.ms=7\n");
	CHECK_INT(kafkaconf_load_file(kc, path, &err), 0);
	CHECK_STR(kafkaconf_get(kc, "bootstrap.servers"), "file:1");
	CHECK_STR(kafkaconf_get(kc, "client.id"), "from-file");

	/* A tool default set after the file still loses to it. */
	CHECK_INT(kafkaconf_default(kc, "linger.ms", "100"), 0);
	CHECK_STR(kafkaconf_get(kc, "linger.ms"), "7");

	CHECK_INT(setenv("KAFKA_BROKERS", "env:1", 1), 0);
	CHECK_INT(kafkaconf_load_env(kc, &err), 0);
	CHECK_STR(kafkaconf_get(kc, "bootstrap.servers"), "env:1");
	CHECK_STR(kafkaconf_origin(kc, "bootstrap.servers"), "KAFKA_BROKERS");
	/* Empty KAFKA_BROKERS means unset. */
	CHECK_INT(setenv("KAFKA_BROKERS", "", 1), 0);
	CHECK_INT(kafkaconf_load_env(kc, &err), 0);
	CHECK_STR(kafkaconf_get(kc, "bootstrap.servers"), "env:1");
	CHECK_INT(unsetenv("KAFKA_BROKERS"), 0);

	/* A file read after the environment still ranks below it. */
	path = write_text("late.conf", "bootstrap.servers=file:2\n");
	CHECK_INT(kafkaconf_load_file(kc, path, &err), 0);
	CHECK_STR(kafkaconf_get(kc, "bootstrap.servers"), "env:1");

	/* -b and -X: command-line order. */
	CHECK_INT(kafkaconf_set_brokers(kc, "flag:1", &err), 0);
	CHECK_STR(kafkaconf_get(kc, "bootstrap.servers"), "flag:1");
	CHECK_STR(kafkaconf_origin(kc, "bootstrap.servers"), "-b");
	CHECK_INT(kafkaconf_set_flag(kc, "bootstrap.servers=flag:2", &err), 0);
	CHECK_STR(kafkaconf_get(kc, "bootstrap.servers"), "flag:2");
	CHECK_STR(kafkaconf_origin(kc, "bootstrap.servers"), "-X");
	CHECK_INT(kafkaconf_set_brokers(kc, "flag:3", &err), 0);
	CHECK_STR(kafkaconf_get(kc, "bootstrap.servers"), "flag:3");
	CHECK_INT(kafkaconf_set_flag(kc, " client.id = from flag ", &err), 0);

	rd_kafka_conf_t *conf = kafkaconf_build(kc, &err);
	CHECK(conf != NULL);
	if (conf) {
		CHECK_STR(conf_get(conf, "bootstrap.servers"), "flag:3");
		CHECK_STR(conf_get(conf, "client.id"), "from flag");
		CHECK_STR(conf_get(conf, "linger.ms"), "7");
		rd_kafka_conf_destroy(conf);
	}
	/* Building leaves the kafkaconf reusable. */
	conf = kafkaconf_build(kc, &err);
	CHECK(conf != NULL);
	if (conf)
		rd_kafka_conf_destroy(conf);

	CHECK_INT(kafkaconf_set(kc, "", "x", KAFKACONF_FLAG), EXIT_CONFIG);
	CHECK_INT(kafkaconf_set(kc, "acks", "all", 9), EXIT_CONFIG);
	kafkaconf_free(kc);
}

/* metadata.broker.list is librdkafka's alias for bootstrap.servers: the
 * higher layer must win whichever name each layer used. */
static void test_alias_precedence(void)
{
	errinfo err = {0};
	kafkaconf *kc = kafkaconf_new();
	const char *path = write_text("alias.conf", "metadata.broker.list=file:9\n");
	CHECK_INT(kafkaconf_load_file(kc, path, &err), 0);
	CHECK_STR(kafkaconf_get(kc, "bootstrap.servers"), "file:9");
	CHECK_INT(kafkaconf_set_brokers(kc, "flag:9", &err), 0);
	CHECK_INT(kafkaconf_set(kc, "metadata.broker.list", "env:9", KAFKACONF_ENV), 0);
	CHECK_STR(kafkaconf_get(kc, "metadata.broker.list"), "flag:9");
	rd_kafka_conf_t *conf = kafkaconf_build(kc, &err);
	CHECK(conf != NULL);
	if (conf) {
		CHECK_STR(conf_get(conf, "bootstrap.servers"), "flag:9");
		rd_kafka_conf_destroy(conf);
	}
	kafkaconf_free(kc);
}

static void test_file_format(void)
{
	errinfo err = {0};
	kafkaconf *kc = kafkaconf_new();
	static const char text[] =
		"# a comment\n"
		"\n"
		"   # an indented comment\n"
		"client.id = spaced id \r\n"
		"\t\n"
		"sasl.oauthbearer.config=principal=alice extension_a=b\n"
		"linger.ms=5"; /* no final newline */
	const char *path = write_file("format.conf", text, sizeof text - 1);
	CHECK_INT(kafkaconf_load_file(kc, path, &err), 0);
	CHECK_STR(kafkaconf_get(kc, "client.id"), "spaced id");
	CHECK_STR(kafkaconf_get(kc, "sasl.oauthbearer.config"), "principal=alice extension_a=b");
	CHECK_STR(kafkaconf_get(kc, "linger.ms"), "5");
	char origin[300];
	snprintf(origin, sizeof origin, "%s:4", path);
	CHECK_STR(kafkaconf_origin(kc, "client.id"), origin);
	kafkaconf_free(kc);
}

/* Each bad file: the code, and the FILE:LINE the message must start with. */
static void test_file_errors(void)
{
	static const struct {
		const char *text;
		size_t len;
		int code;
		int line;
		const char *says;
	} cases[] = {
		{"acks=all\n# ok\nno equals sign here\n", 34, EXIT_CONFIG, 3, "expected PROPERTY=VALUE"},
		{"\n=value\n", 8, EXIT_CONFIG, 2, "expected PROPERTY=VALUE"},
		{"acks=all\nlinger.ms=1\0\n", 22, EXIT_CONFIG, 2, "NUL byte"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		errinfo err = {0};
		kafkaconf *kc = kafkaconf_new();
		const char *path = write_file("bad.conf", cases[i].text, cases[i].len);
		char want[300];
		snprintf(want, sizeof want, "%s:%d: ", path, cases[i].line);
		CHECK_INT(kafkaconf_load_file(kc, path, &err), cases[i].code);
		CHECK_INT(err.code, cases[i].code);
		CHECK(strncmp(err.text, want, strlen(want)) == 0);
		CHECK(strstr(err.text, cases[i].says) != NULL);
		if (strncmp(err.text, want, strlen(want)) != 0)
			printf("# case %zu: %s\n", i, err.text);
		/* Nothing from a bad file is kept. */
		CHECK(kafkaconf_get(kc, "acks") == NULL);
		kafkaconf_free(kc);
	}

	/* A line over the bound. */
	size_t big = 1200 * 1024;
	char *text = malloc(big + 16);
	CHECK(text != NULL);
	if (text) {
		memcpy(text, "client.id=", 10);
		memset(text + 10, 'x', big);
		memcpy(text + 10 + big, "\n", 2);
		errinfo err = {0};
		kafkaconf *kc = kafkaconf_new();
		const char *path = write_file("long.conf", text, big + 11);
		CHECK_INT(kafkaconf_load_file(kc, path, &err), EXIT_CONFIG);
		CHECK(strstr(err.text, ":1: line too long") != NULL);
		kafkaconf_free(kc);
		free(text);
	}

	errinfo err = {0};
	kafkaconf *kc = kafkaconf_new();
	char missing[300];
	snprintf(missing, sizeof missing, "%s/no-such.conf", tmpdir);
	CHECK_INT(kafkaconf_load_file(kc, missing, &err), EXIT_NOINPUT);
	CHECK(strstr(err.text, "no-such.conf") != NULL);

	/* Names and values are checked at build time, still naming FILE:LINE. */
	const char *path = write_text("unknown.conf", "acks=all\n\nno.such.property=1\n");
	CHECK_INT(kafkaconf_load_file(kc, path, &err), 0);
	CHECK(kafkaconf_build(kc, &err) == NULL);
	CHECK_INT(err.code, EXIT_CONFIG);
	char want[300];
	snprintf(want, sizeof want, "%s:3: unknown configuration property \"no.such.property\"", path);
	CHECK_STR(err.text, want);
	kafkaconf_free(kc);

	kc = kafkaconf_new();
	path = write_text("badvalue.conf", "client.id=x\nacks=maybe\n");
	CHECK_INT(kafkaconf_load_file(kc, path, &err), 0);
	CHECK(kafkaconf_build(kc, &err) == NULL);
	CHECK_INT(err.code, EXIT_CONFIG);
	snprintf(want, sizeof want, "%s:2: ", path);
	CHECK(strncmp(err.text, want, strlen(want)) == 0);
	CHECK(strstr(err.text, "acks") != NULL);
	kafkaconf_free(kc);
}

static void test_flag_errors(void)
{
	errinfo err = {0};
	kafkaconf *kc = kafkaconf_new();
	CHECK_INT(kafkaconf_set_flag(kc, "acks", &err), EXIT_USAGE);
	CHECK(strstr(err.text, "\"acks\"") != NULL);
	CHECK_INT(kafkaconf_set_flag(kc, "=all", &err), EXIT_USAGE);
	CHECK_INT(kafkaconf_set_brokers(kc, "", &err), EXIT_USAGE);
	/* Flags are checked at build time too, naming the property. */
	CHECK_INT(kafkaconf_set_flag(kc, "queue.buffering.max.messages=lots", &err), 0);
	CHECK(kafkaconf_build(kc, &err) == NULL);
	CHECK_INT(err.code, EXIT_CONFIG);
	CHECK(strncmp(err.text, "-X: ", 4) == 0);
	CHECK(strstr(err.text, "queue.buffering.max.messages") != NULL);
	kafkaconf_free(kc);
}

static void test_secrets(void)
{
	static const char *const secret[] = {
		"sasl.password", "ssl.key.password", "ssl.keystore.password",
		"sasl.oauthbearer.client.secret", "ssl.key.pem", "sasl.oauthbearer.config",
		"ssl.truststore.password", "my.SECRET.thing", "Password",
	};
	static const char *const plain[] = {
		"sasl.username", "bootstrap.servers", "ssl.ca.location", "security.protocol", "",
	};
	for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++)
		CHECK(kafkaconf_is_secret(secret[i]));
	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
		CHECK(!kafkaconf_is_secret(plain[i]));

	errinfo err = {0};
	kafkaconf *kc = kafkaconf_new();
	/* A mistyped separator must not echo what may be the secret. */
	CHECK_INT(kafkaconf_set_flag(kc, "sasl.password:hunter2", &err), EXIT_USAGE);
	CHECK(strstr(err.text, "hunter2") == NULL);
	CHECK_INT(kafkaconf_set_flag(kc, "=hunter2", &err), EXIT_USAGE);
	CHECK(strstr(err.text, "hunter2") == NULL);
	const char *path = write_text("secret.conf", "sasl.password hunter2\n");
	CHECK_INT(kafkaconf_load_file(kc, path, &err), EXIT_CONFIG);
	CHECK(strstr(err.text, "hunter2") == NULL);
	CHECK(strstr(err.text, ":1:") != NULL);

	/* Unknown secret property: named, value not shown. */
	CHECK_INT(kafkaconf_set_flag(kc, "ssl.truststore.password=hunter2", &err), 0);
	CHECK(kafkaconf_build(kc, &err) == NULL);
	CHECK_INT(err.code, EXIT_CONFIG);
	CHECK(strstr(err.text, "ssl.truststore.password") != NULL);
	CHECK(strstr(err.text, "hunter2") == NULL);
	kafkaconf_free(kc);

	/* The dump shows secret names only. */
	kc = kafkaconf_new();
	CHECK_INT(kafkaconf_set_flag(kc, "sasl.password=hunter2", &err), 0);
	CHECK_INT(kafkaconf_set_flag(kc, "sasl.username=alice", &err), 0);
	CHECK_INT(kafkaconf_set_flag(kc, "bootstrap.servers=b:1", &err), 0);
	char *dump = NULL;
	size_t dumplen = 0;
	FILE *f = open_memstream(&dump, &dumplen);
	CHECK(f != NULL);
	if (f) {
		CHECK_INT(kafkaconf_dump(kc, f), 0);
		CHECK_INT(fclose(f), 0);
		CHECK(strstr(dump, "sasl.password=[redacted]  # -X\n") != NULL);
		CHECK(strstr(dump, "sasl.username=alice  # -X\n") != NULL);
		CHECK(strstr(dump, "bootstrap.servers=b:1  # -X\n") != NULL);
		/* The overridden default is not shown. */
		CHECK(strstr(dump, "localhost:9092") == NULL);
		CHECK(strstr(dump, "hunter2") == NULL);
		free(dump);
	}
	kafkaconf_free(kc);
}

static void test_exitcode(void)
{
	static const struct {
		rd_kafka_resp_err_t err;
		int code;
	} table[] = {
		{RD_KAFKA_RESP_ERR_NO_ERROR, EXIT_OK},
		{RD_KAFKA_RESP_ERR__TRANSPORT, EXIT_UNAVAILABLE},
		{RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, EXIT_UNAVAILABLE},
		{RD_KAFKA_RESP_ERR__RESOLVE, EXIT_UNAVAILABLE},
		{RD_KAFKA_RESP_ERR__TIMED_OUT, EXIT_UNAVAILABLE},
		{RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, EXIT_UNAVAILABLE},
		{RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, EXIT_UNAVAILABLE},
		{RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, EXIT_UNAVAILABLE},
		{RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, EXIT_UNAVAILABLE},
		{RD_KAFKA_RESP_ERR__AUTHENTICATION, EXIT_NOPERM},
		{RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED, EXIT_NOPERM},
		{RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, EXIT_NOPERM},
		{RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED, EXIT_NOPERM},
		{RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED, EXIT_NOPERM},
		{RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED, EXIT_NOPERM},
		{RD_KAFKA_RESP_ERR__SSL, EXIT_NOPERM},
		{RD_KAFKA_RESP_ERR__INVALID_ARG, EXIT_CONFIG},
		{RD_KAFKA_RESP_ERR_INVALID_CONFIG, EXIT_CONFIG},
		{RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, EXIT_CONFIG},
		{RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, EXIT_CONFIG},
		{RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, EXIT_CONFIG},
		{RD_KAFKA_RESP_ERR__FAIL, EXIT_SOFTWARE},
		{RD_KAFKA_RESP_ERR_INVALID_MSG, EXIT_SOFTWARE},
		{RD_KAFKA_RESP_ERR_UNKNOWN, EXIT_SOFTWARE},
	};
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		int got = kafkaconf_exitcode(table[i].err);
		if (got != table[i].code)
			printf("# %s -> %d, want %d\n", rd_kafka_err2name(table[i].err), got,
			       table[i].code);
		CHECK_INT(got, table[i].code);
	}
}

/* An in-process mock cluster with one topic. */
struct mock {
	rd_kafka_t *rk;
	rd_kafka_mock_cluster_t *mc;
};

static int mock_start(struct mock *m, int brokers)
{
	char errstr[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	if (!m->rk) {
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	m->mc = rd_kafka_mock_cluster_new(m->rk, brokers);
	if (!m->mc || rd_kafka_mock_topic_create(m->mc, "orders", 3, 1) != 0) {
		if (m->mc)
			rd_kafka_mock_cluster_destroy(m->mc);
		rd_kafka_destroy(m->rk);
		return -1;
	}
	return 0;
}

static void mock_stop(struct mock *m)
{
	rd_kafka_mock_cluster_destroy(m->mc);
	rd_kafka_destroy(m->rk);
}

static void test_metadata_mock(void)
{
	struct mock m = {0};
	int started = mock_start(&m, 1);
	CHECK_INT(started, 0);
	if (started != 0)
		return;
	errinfo err = {0};
	kafkaconf *kc = kafkaconf_new();
	CHECK_INT(kafkaconf_set_brokers(kc, rd_kafka_mock_cluster_bootstraps(m.mc), &err), 0);
	kafkaconf_topics t;
	int rc = kafkaconf_list_topics(kc, 10000, &t, &err);
	CHECK_INT(rc, 0);
	if (rc)
		printf("# %s\n", err.text);
	const kafkaconf_topic *o = kafkaconf_topics_find(&t, "orders");
	CHECK(o != NULL);
	if (o) {
		CHECK_INT(o->partitions, 3);
		CHECK_INT(o->err, 0);
	}
	CHECK(kafkaconf_topics_find(&t, "missing-topic") == NULL);
	CHECK_INT(t.orig_broker_id, 1);
	kafkaconf_topics_free(&t);
	CHECK_INT(t.n, 0);

	/* The variant for a handle the tool already has. */
	rd_kafka_conf_t *conf = kafkaconf_build(kc, &err);
	char errstr[256];
	rd_kafka_t *rk = conf ? rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr) : NULL;
	CHECK(rk != NULL);
	if (rk) {
		CHECK_INT(kafkaconf_list_topics_rk(rk, 10000, &t, &err), 0);
		o = kafkaconf_topics_find(&t, "orders");
		CHECK(o != NULL && o->partitions == 3);
		kafkaconf_topics_free(&t);
		rd_kafka_destroy(rk);
	} else if (conf) {
		rd_kafka_conf_destroy(conf);
	}

	/* Every broker down: unavailable, well before the timeout. */
	CHECK_INT(rd_kafka_mock_broker_set_down(m.mc, -1), 0);
	int64_t t0 = now_ms();
	CHECK_INT(kafkaconf_list_topics(kc, 10000, &t, &err), EXIT_UNAVAILABLE);
	CHECK(now_ms() - t0 < 5000);
	CHECK(strstr(err.text, rd_kafka_mock_cluster_bootstraps(m.mc)) != NULL);
	CHECK_INT(rd_kafka_mock_broker_set_up(m.mc, -1), 0);

	/* A broker that accepts but answers too slowly: unavailable once the
	 * timeout has passed, not much later. */
	CHECK_INT(rd_kafka_mock_broker_set_rtt(m.mc, -1, 5000), 0);
	t0 = now_ms();
	CHECK_INT(kafkaconf_list_topics(kc, 1000, &t, &err), EXIT_UNAVAILABLE);
	int64_t took = now_ms() - t0;
	CHECK(took >= 900);
	CHECK(took < 4000);
	if (took >= 4000)
		printf("# slow broker took %lld ms\n", (long long)took);
	CHECK_INT(rd_kafka_mock_broker_set_rtt(m.mc, -1, 0), 0);

	kafkaconf_free(kc);
	mock_stop(&m);
}

static void test_metadata_unreachable(void)
{
	errinfo err = {0};
	kafkaconf *kc = kafkaconf_new();
	CHECK_INT(kafkaconf_set_brokers(kc, "127.0.0.1:1", &err), 0);
	kafkaconf_topics t;
	int64_t t0 = now_ms();
	CHECK_INT(kafkaconf_list_topics(kc, 10000, &t, &err), EXIT_UNAVAILABLE);
	int64_t took = now_ms() - t0;
	CHECK(took < 3000);
	if (took >= 3000)
		printf("# unreachable took %lld ms\n", (long long)took);
	CHECK(strstr(err.text, "127.0.0.1:1") != NULL);
	CHECK_INT(t.n, 0);

	/* Even without the early "all brokers down" exit the bound holds. */
	errinfo err2 = {0};
	rd_kafka_conf_t *conf = kafkaconf_build(kc, &err2);
	char errstr[256];
	if (conf && rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
		CHECK(0);
	rd_kafka_t *rk = conf ? rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr) : NULL;
	CHECK(rk != NULL);
	if (rk) {
		t0 = now_ms();
		CHECK_INT(kafkaconf_list_topics_rk(rk, 500, &t, &err2), EXIT_UNAVAILABLE);
		CHECK(now_ms() - t0 < 2000);
		rd_kafka_destroy(rk);
	} else if (conf) {
		rd_kafka_conf_destroy(conf);
	}

	/* A configuration error is 78, before any connection. */
	CHECK_INT(kafkaconf_set_flag(kc, "no.such.thing=1", &err), 0);
	CHECK_INT(kafkaconf_list_topics(kc, 1000, &t, &err), EXIT_CONFIG);
	kafkaconf_free(kc);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_precedence);
	RUN(test_alias_precedence);
	RUN(test_file_format);
	RUN(test_file_errors);
	RUN(test_flag_errors);
	RUN(test_secrets);
	RUN(test_exitcode);
	RUN(test_metadata_mock);
	RUN(test_metadata_unreachable);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("# cannot remove %s\n", tmpdir);
	return unit_done();
}
