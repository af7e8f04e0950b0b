/* kafka-admin.c - the few admin operations the real-broker test tier needs,
 * through librdkafka's admin API (no JVM start per topic).
 *
 * usage: kafka-admin [-b BROKERS] [-X PROP=VALUE]... [-T SECONDS] COMMAND
 *
 *   create TOPIC PARTITIONS [RF]   create a topic; return once every
 *                                  partition has a leader in the metadata
 *   delete TOPIC...                delete topics; return once they are gone
 *                                  from the metadata
 *   reset                          delete every consumer group, then every
 *                                  topic whose name does not start with
 *                                  "__" (a clean cluster per test file, as
 *                                  the mock gives)
 *   groups                         the consumer groups, one per line
 *   list                           "TOPIC PARTITIONS" per topic, internal
 *                                  ("__") ones left out, sorted by name
 *   offsets TOPIC                  "PARTITION LOW HIGH" per partition
 *
 * -b sets bootstrap.servers (else KAFKA_BROKERS, else localhost:9092), -X
 * any librdkafka property (SASL settings, ...), -T bounds every wait
 * (default 30 s).
 *
 * Exit status: 0; 1 the cluster refused (topic exists, unknown topic);
 * 64 usage; 69 cluster unavailable or a wait ran out; 77 authentication;
 * 78 bad configuration; 70 anything else. Messages name the topic and the
 * librdkafka error, never a property's value.
 */
#include "diag.h"
#include "exitcode.h"
#include "kafkaconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#define MAX_TOPICS 1024

static const char usage_text[] =
	"usage: kafka-admin [-b BROKERS] [-X PROP=VALUE]... [-T SECONDS]\n"
	"                   create TOPIC PARTITIONS [RF] | delete TOPIC... | reset\n"
	"                   | groups | list | offsets TOPIC\n";

static int timeout_ms = 30000;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining_ms(int64_t deadline)
{
	int64_t r = deadline - now_ms();
	return r < 0 ? 0 : (int)r;
}

static int usage(void)
{
	fputs(usage_text, stderr);
	return EXIT_USAGE;
}

/* Status for an error the broker gave about one topic. */
static int topic_status(rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
	case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
		return EXIT_NO;
	default:
		return kafkaconf_exitcode(err);
	}
}

/* The cluster's metadata for all topics, bounded by the deadline. */
static int get_metadata(rd_kafka_t *rk, int64_t deadline, const rd_kafka_metadata_t **md)
{
	rd_kafka_resp_err_t err;
	do {
		err = rd_kafka_metadata(rk, 1, NULL, md, remaining_ms(deadline) > 2000 ? 2000 : 500);
		if (!err)
			return 0;
	} while (remaining_ms(deadline) > 0);
	diag_error("cannot get the cluster's metadata: %s", rd_kafka_err2str(err));
	return kafkaconf_exitcode(err) ? kafkaconf_exitcode(err) : EXIT_UNAVAILABLE;
}

/* 1 when topic is in md: with want_ready, also every partition led. */
static int topic_present(const rd_kafka_metadata_t *md, const char *topic, int want_ready)
{
	for (int i = 0; i < md->topic_cnt; i++) {
		const rd_kafka_metadata_topic_t *t = &md->topics[i];
		if (strcmp(t->topic, topic) != 0)
			continue;
		if (t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
			return 0;
		if (!want_ready)
			return 1;
		if (t->err || t->partition_cnt == 0)
			return 0;
		for (int p = 0; p < t->partition_cnt; p++)
			if (t->partitions[p].err || t->partitions[p].leader < 0)
				return 0;
		return 1;
	}
	return 0;
}

/* Poll the metadata until every topic is present and led (gone = 0) or
 * absent (gone = 1). */
static int wait_topics(rd_kafka_t *rk, char **topics, int n, int gone, int64_t deadline)
{
	for (;;) {
		const rd_kafka_metadata_t *md;
		int rc = get_metadata(rk, deadline, &md);
		if (rc)
			return rc;
		int done = 1;
		for (int i = 0; i < n && done; i++)
			if (topic_present(md, topics[i], !gone) == gone)
				done = 0;
		rd_kafka_metadata_destroy(md);
		if (done)
			return 0;
		if (remaining_ms(deadline) == 0) {
			diag_error("topic %s: not %s within %d ms", topics[0],
				   gone ? "gone" : "ready", timeout_ms);
			return EXIT_UNAVAILABLE;
		}
		usleep(50 * 1000);
	}
}

/* Wait (bounded) for an admin request's result event. NULL after an
 * error message; *status then holds the exit status. */
static rd_kafka_event_t *admin_result(rd_kafka_queue_t *q, int64_t deadline, int *status)
{
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, remaining_ms(deadline) + 1000);
	if (!ev) {
		diag_error("no answer from the cluster within %d ms", timeout_ms);
		*status = EXIT_UNAVAILABLE;
		return NULL;
	}
	rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
	if (err) {
		diag_error("admin request failed: %s", rd_kafka_event_error_string(ev));
		*status = kafkaconf_exitcode(err) ? kafkaconf_exitcode(err) : EXIT_SOFTWARE;
		rd_kafka_event_destroy(ev);
		return NULL;
	}
	return ev;
}

static rd_kafka_AdminOptions_t *admin_options(rd_kafka_t *rk, rd_kafka_admin_op_t op, int64_t deadline)
{
	char errstr[256];
	rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, op);
	if (!o)
		return NULL;
	int topics_op = op == RD_KAFKA_ADMIN_OP_CREATETOPICS || op == RD_KAFKA_ADMIN_OP_DELETETOPICS;
	if (rd_kafka_AdminOptions_set_request_timeout(o, remaining_ms(deadline), errstr, sizeof errstr) ||
	    (topics_op && rd_kafka_AdminOptions_set_operation_timeout(o, remaining_ms(deadline), errstr,
								      sizeof errstr))) {
		diag_error("admin options: %s", errstr);
		rd_kafka_AdminOptions_destroy(o);
		return NULL;
	}
	return o;
}

static int cmd_create(rd_kafka_t *rk, rd_kafka_queue_t *q, char **argv, int argc)
{
	char errstr[256];
	char *end;
	if (argc < 2 || argc > 3)
		return usage();
	long parts = strtol(argv[1], &end, 10);
	if (*end || parts < 1 || parts > 100000) {
		diag_error("bad partition count \"%s\"", argv[1]);
		return EXIT_USAGE;
	}
	long rf = 1;
	if (argc == 3) {
		rf = strtol(argv[2], &end, 10);
		if (*end || rf < 1 || rf > 32) {
			diag_error("bad replication factor \"%s\"", argv[2]);
			return EXIT_USAGE;
		}
	}
	int64_t deadline = now_ms() + timeout_ms;
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(argv[0], (int)parts, (int)rf, errstr, sizeof errstr);
	if (!nt) {
		diag_error("topic %s: %s", argv[0], errstr);
		return EXIT_USAGE;
	}
	rd_kafka_AdminOptions_t *o = admin_options(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, deadline);
	if (!o) {
		rd_kafka_NewTopic_destroy(nt);
		return EXIT_SOFTWARE;
	}
	rd_kafka_CreateTopics(rk, &nt, 1, o, q);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_NewTopic_destroy(nt);
	int rc = 0;
	rd_kafka_event_t *ev = admin_result(q, deadline, &rc);
	if (!ev)
		return rc;
	size_t n;
	const rd_kafka_topic_result_t **res =
		rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
	for (size_t i = 0; i < n; i++) {
		rd_kafka_resp_err_t err = rd_kafka_topic_result_error(res[i]);
		if (err) {
			diag_error("topic %s: %s: %s", rd_kafka_topic_result_name(res[i]),
				   rd_kafka_err2name(err),
				   rd_kafka_topic_result_error_string(res[i]) ?
				   rd_kafka_topic_result_error_string(res[i]) : rd_kafka_err2str(err));
			rc = topic_status(err);
		}
	}
	rd_kafka_event_destroy(ev);
	if (rc)
		return rc;
	return wait_topics(rk, argv, 1, 0, deadline);
}

static int delete_topics(rd_kafka_t *rk, rd_kafka_queue_t *q, char **topics, int n)
{
	if (n == 0)
		return 0;
	int64_t deadline = now_ms() + timeout_ms;
	rd_kafka_DeleteTopic_t *dt[MAX_TOPICS];
	for (int i = 0; i < n; i++) {
		dt[i] = rd_kafka_DeleteTopic_new(topics[i]);
		if (!dt[i]) {
			rd_kafka_DeleteTopic_destroy_array(dt, (size_t)i);
			return EXIT_SOFTWARE;
		}
	}
	rd_kafka_AdminOptions_t *o = admin_options(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS, deadline);
	if (!o) {
		rd_kafka_DeleteTopic_destroy_array(dt, (size_t)n);
		return EXIT_SOFTWARE;
	}
	rd_kafka_DeleteTopics(rk, dt, (size_t)n, o, q);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_DeleteTopic_destroy_array(dt, (size_t)n);
	int rc = 0;
	rd_kafka_event_t *ev = admin_result(q, deadline, &rc);
	if (!ev)
		return rc;
	size_t rn;
	const rd_kafka_topic_result_t **res =
		rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &rn);
	for (size_t i = 0; i < rn; i++) {
		rd_kafka_resp_err_t err = rd_kafka_topic_result_error(res[i]);
		if (err) {
			diag_error("topic %s: %s", rd_kafka_topic_result_name(res[i]), rd_kafka_err2name(err));
			rc = topic_status(err);
		}
	}
	rd_kafka_event_destroy(ev);
	if (rc)
		return rc;
	return wait_topics(rk, topics, n, 1, deadline);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The consumer groups the cluster knows, as strdup()ed names in names
 * (caller frees), at most MAX_TOPICS. */
static int list_groups(rd_kafka_t *rk, rd_kafka_queue_t *q, char **names, int *n)
{
	int64_t deadline = now_ms() + timeout_ms;
	rd_kafka_AdminOptions_t *o = admin_options(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS, deadline);
	if (!o)
		return EXIT_SOFTWARE;
	rd_kafka_ListConsumerGroups(rk, o, q);
	rd_kafka_AdminOptions_destroy(o);
	int rc = 0;
	rd_kafka_event_t *ev = admin_result(q, deadline, &rc);
	if (!ev)
		return rc;
	const rd_kafka_ListConsumerGroups_result_t *res = rd_kafka_event_ListConsumerGroups_result(ev);
	size_t cnt;
	const rd_kafka_ConsumerGroupListing_t **v = rd_kafka_ListConsumerGroups_result_valid(res, &cnt);
	*n = 0;
	for (size_t i = 0; i < cnt && !rc; i++) {
		if (*n == MAX_TOPICS) {
			diag_error("more than %d consumer groups", MAX_TOPICS);
			rc = EXIT_SOFTWARE;
		} else if (!(names[*n] = strdup(rd_kafka_ConsumerGroupListing_group_id(v[i])))) {
			rc = EXIT_SOFTWARE;
		} else {
			(*n)++;
		}
	}
	rd_kafka_event_destroy(ev);
	return rc;
}

static int delete_groups(rd_kafka_t *rk, rd_kafka_queue_t *q, char **groups, int n)
{
	if (n == 0)
		return 0;
	int64_t deadline = now_ms() + timeout_ms;
	rd_kafka_DeleteGroup_t *dg[MAX_TOPICS];
	for (int i = 0; i < n; i++) {
		if (!(dg[i] = rd_kafka_DeleteGroup_new(groups[i]))) {
			rd_kafka_DeleteGroup_destroy_array(dg, (size_t)i);
			return EXIT_SOFTWARE;
		}
	}
	rd_kafka_AdminOptions_t *o = admin_options(rk, RD_KAFKA_ADMIN_OP_DELETEGROUPS, deadline);
	if (!o) {
		rd_kafka_DeleteGroup_destroy_array(dg, (size_t)n);
		return EXIT_SOFTWARE;
	}
	rd_kafka_DeleteGroups(rk, dg, (size_t)n, o, q);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_DeleteGroup_destroy_array(dg, (size_t)n);
	int rc = 0;
	rd_kafka_event_t *ev = admin_result(q, deadline, &rc);
	if (!ev)
		return rc;
	size_t rn;
	const rd_kafka_group_result_t **res =
		rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &rn);
	for (size_t i = 0; i < rn; i++) {
		const rd_kafka_error_t *e = rd_kafka_group_result_error(res[i]);
		if (e) {
			/* A group with live members cannot go: a test left a
			 * consumer running, which a clean cluster must not hide. */
			diag_error("consumer group %s: %s", rd_kafka_group_result_name(res[i]),
				   rd_kafka_error_string(e));
			rc = topic_status(rd_kafka_error_code(e));
		}
	}
	rd_kafka_event_destroy(ev);
	return rc;
}

static int cmd_groups(rd_kafka_t *rk, rd_kafka_queue_t *q, int reset)
{
	static char *names[MAX_TOPICS];
	int n = 0, rc = list_groups(rk, q, names, &n);
	if (!rc) {
		qsort(names, (size_t)n, sizeof *names, cmp_str);
		if (reset)
			rc = delete_groups(rk, q, names, n);
		for (int i = 0; i < n && !reset; i++)
			if (printf("%s\n", names[i]) < 0)
				rc = EXIT_IOERR;
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	return rc;
}


/* Names (and partition counts) of the non-internal topics, sorted; the
 * names point into *md, which the caller destroys. */
static int user_topics(rd_kafka_t *rk, const rd_kafka_metadata_t **md, char **names, int *parts, int *n)
{
	int rc = get_metadata(rk, now_ms() + timeout_ms, md);
	if (rc)
		return rc;
	*n = 0;
	for (int i = 0; i < (*md)->topic_cnt; i++) {
		const rd_kafka_metadata_topic_t *t = &(*md)->topics[i];
		if (strncmp(t->topic, "__", 2) == 0 || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
			continue;
		if (*n == MAX_TOPICS) {
			diag_error("more than %d topics", MAX_TOPICS);
			rd_kafka_metadata_destroy(*md);
			return EXIT_SOFTWARE;
		}
		names[*n] = t->topic;
		(*n)++;
	}
	qsort(names, (size_t)*n, sizeof *names, cmp_str);
	for (int k = 0; k < *n && parts; k++)
		for (int i = 0; i < (*md)->topic_cnt; i++)
			if (strcmp((*md)->topics[i].topic, names[k]) == 0)
				parts[k] = (*md)->topics[i].partition_cnt;
	return 0;
}

static int cmd_list(rd_kafka_t *rk, int reset, rd_kafka_queue_t *q)
{
	const rd_kafka_metadata_t *md;
	static char *names[MAX_TOPICS];
	static int parts[MAX_TOPICS];
	int n, rc = user_topics(rk, &md, names, parts, &n);
	if (rc)
		return rc;
	if (reset) {
		rc = delete_topics(rk, q, names, n);
	} else {
		for (int i = 0; i < n; i++)
			if (printf("%s %d\n", names[i], parts[i]) < 0)
				rc = EXIT_IOERR;
	}
	rd_kafka_metadata_destroy(md);
	return rc;
}

static int cmd_offsets(rd_kafka_t *rk, const char *topic)
{
	int64_t deadline = now_ms() + timeout_ms;
	const rd_kafka_metadata_t *md;
	int rc = get_metadata(rk, deadline, &md);
	if (rc)
		return rc;
	const rd_kafka_metadata_topic_t *t = NULL;
	for (int i = 0; i < md->topic_cnt; i++)
		if (strcmp(md->topics[i].topic, topic) == 0 && !md->topics[i].err)
			t = &md->topics[i];
	if (!t) {
		diag_error("topic %s: unknown", topic);
		rd_kafka_metadata_destroy(md);
		return EXIT_NO;
	}
	for (int p = 0; p < t->partition_cnt && !rc; p++) {
		int64_t lo, hi;
		int32_t id = t->partitions[p].id;
		rd_kafka_resp_err_t err =
			rd_kafka_query_watermark_offsets(rk, topic, id, &lo, &hi, remaining_ms(deadline));
		if (err) {
			diag_error("topic %s partition %d: %s", topic, (int)id, rd_kafka_err2str(err));
			rc = kafkaconf_exitcode(err);
		} else if (printf("%d %lld %lld\n", (int)id, (long long)lo, (long long)hi) < 0) {
			rc = EXIT_IOERR;
		}
	}
	rd_kafka_metadata_destroy(md);
	return rc;
}

int main(int argc, char **argv)
{
	diag_init(argv[0]);
	kafkaconf *kc = kafkaconf_new();
	errinfo err = {0};
	int opt, rc = 0;
	if (!kc)
		return EXIT_SOFTWARE;
	if (kafkaconf_load_env(kc, &err))
		goto fail;
	while ((opt = getopt(argc, argv, "+b:X:T:")) != -1) {
		switch (opt) {
		case 'b':
			if (kafkaconf_set_brokers(kc, optarg, &err))
				goto fail;
			break;
		case 'X':
			if (kafkaconf_set_flag(kc, optarg, &err))
				goto fail;
			break;
		case 'T': {
			char *end;
			long s = strtol(optarg, &end, 10);
			if (*end || s < 1 || s > 3600) {
				kafkaconf_free(kc);
				diag_error("bad -T \"%s\"", optarg);
				return EXIT_USAGE;
			}
			timeout_ms = (int)s * 1000;
			break;
		}
		default:
			kafkaconf_free(kc);
			return usage();
		}
	}
	if (optind >= argc) {
		kafkaconf_free(kc);
		return usage();
	}
	rd_kafka_conf_t *conf = kafkaconf_build(kc, &err);
	if (!conf)
		goto fail;
	kafkaconf_free(kc);
	kc = NULL;
	char errstr[512];
	if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
		rd_kafka_conf_destroy(conf);
		return EXIT_SOFTWARE;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		diag_error("cannot create a Kafka client: %s", errstr);
		return EXIT_CONFIG;
	}
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	if (!q) {
		rd_kafka_destroy(rk);
		return EXIT_SOFTWARE;
	}
	const char *cmd = argv[optind];
	char **args = argv + optind + 1;
	int nargs = argc - optind - 1;
	if (strcmp(cmd, "create") == 0) {
		rc = cmd_create(rk, q, args, nargs);
	} else if (strcmp(cmd, "delete") == 0) {
		rc = nargs < 1 || nargs > MAX_TOPICS ? usage() : delete_topics(rk, q, args, nargs);
	} else if (strcmp(cmd, "reset") == 0) {
		rc = nargs ? usage() : cmd_groups(rk, q, 1);
		if (!rc)
			rc = cmd_list(rk, 1, q);
	} else if (strcmp(cmd, "groups") == 0) {
		rc = nargs ? usage() : cmd_groups(rk, q, 0);
	} else if (strcmp(cmd, "list") == 0) {
		rc = nargs ? usage() : cmd_list(rk, 0, q);
	} else if (strcmp(cmd, "offsets") == 0) {
		rc = nargs != 1 ? usage() : cmd_offsets(rk, args[0]);
	} else {
		diag_error("unknown command \"%s\"", cmd);
		rc = usage();
	}
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	if (fflush(stdout) != 0 && !rc)
		rc = EXIT_IOERR;
	return rc;
fail:
	diag_errinfo(&err);
	kafkaconf_free(kc);
	return err.code ? err.code : EXIT_SOFTWARE;
}
