/* relay_kafka.c - the relay's Kafka sink: librdkafka's idempotent
 * producer, one delivery report per message (relay_sink.h).
 *
 * Order. With enable.idempotence the producer keeps each partition's order
 * across its own retries. What it does not do by default is stop after a
 * message failed for good: later messages of the partition may still land,
 * and the failed one, retried by the relay, would land after them. So
 * this sink also sets enable.gapless.guarantee (unless the user set it):
 * such a failure becomes a fatal producer error, every message after it
 * fails too, the relay reschedules them all, opens a new producer, and
 * their keys stay held back until the first of them is sent.
 *
 * A row is sent only on a delivery report without error (acks=all by
 * default, so the broker has it in every in-sync replica). rd_kafka_flush()
 * returning is never taken as proof.
 */
#include "exitcode.h"
#include "relay_sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

struct topic_handle {
	const char *name; /* the binding's string, compared by address first */
	rd_kafka_topic_t *rkt;
};

struct kafka_sink {
	relay_sink base;
	const kafkaconf *kc;
	rd_kafka_t *rk;
	struct topic_handle *topics;
	size_t n_topics, cap_topics;
	size_t inflight;
	int fatal;
	int blamed; /* a failure has been reported (see dr_msg_cb) */
	int stop_code;       /* the broker refused us: no use going on */
	char stop_text[300];
};

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *line)
{
	(void)rk;
	(void)level;
	diag_debug("librdkafka: %s: %s", fac, line);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kafka_sink *k = opaque;
	(void)rk;
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		k->fatal = 1;
		diag_warn("producer: %s (reconnecting with a new producer)", reason);
	} else if (kafkaconf_exitcode((rd_kafka_resp_err_t)err) == EXIT_NOPERM && !k->stop_code) {
		/* Wrong credentials do not get better by retrying: stop, and
		 * leave every row as it was. */
		k->stop_code = EXIT_NOPERM;
		snprintf(k->stop_text, sizeof k->stop_text, "authentication failed: %s", reason);
	} else {
		diag_debug("producer: %s", reason);
	}
}

/* Errors that retrying the same message cannot cure. */
static int permanent(rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_RECORD:
	case RD_KAFKA_RESP_ERR_INVALID_MSG:
	case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
	case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
		return 1;
	default:
		return 0;
	}
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kafka_sink *k = opaque;
	relay_outcome o = { RELAY_OUT_SENT, -1, -1, NULL };
	char why[256];
	(void)rk;
	if (m->err)
		diag_debug("delivery report: %s [%d]: %s", rd_kafka_topic_name(m->rkt), (int)m->partition,
			   rd_kafka_err2name(m->err));
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		o.partition = m->partition;
		o.offset = m->offset;
	} else if (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
		   m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
		o.kind = RELAY_OUT_UNTOUCHED;
	} else if (k->blamed && (k->fatal || m->err == RD_KAFKA_RESP_ERR__FATAL)) {
		/* Collateral of a fatal producer error already blamed on the
		 * first failed message (the gapless guarantee fails everything
		 * behind it, with its error or _FATAL): this one did nothing
		 * wrong. It stays pending without an attempt counted; its key is
		 * held back. */
		k->fatal = 1;
		o.kind = RELAY_OUT_UNTOUCHED; /* on_done holds the key of any unsent row */
	} else {
		rd_kafka_resp_err_t err = m->err;
		char fatal[200] = "";
		if (err == RD_KAFKA_RESP_ERR__FATAL) {
			err = rd_kafka_fatal_error(k->rk, fatal, sizeof fatal);
			k->fatal = 1;
		}
		/* The first failure of a producer that turns fatal (the gapless
		 * guarantee) is the one that counts an attempt. */
		k->blamed = 1;
		o.kind = permanent(err) ? RELAY_OUT_DEAD : RELAY_OUT_RETRY;
		snprintf(why, sizeof why, "kafka: %s: %s", rd_kafka_err2name(err),
			 fatal[0] ? fatal : rd_kafka_err2str(err));
		o.error = why;
		o.reason_code = rd_kafka_err2name(err);
	}
	k->inflight--;
	k->base.done(k->base.ctx, m->_private, &o);
}

static rd_kafka_topic_t *topic_handle(struct kafka_sink *k, const char *name)
{
	for (size_t i = 0; i < k->n_topics; i++)
		if (k->topics[i].name == name || strcmp(k->topics[i].name, name) == 0)
			return k->topics[i].rkt;
	if (k->n_topics == k->cap_topics) {
		size_t cap = k->cap_topics ? k->cap_topics * 2 : 8;
		struct topic_handle *p = realloc(k->topics, cap * sizeof *p);
		if (!p)
			return NULL;
		k->topics = p;
		k->cap_topics = cap;
	}
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->rk, name, NULL);
	if (!rkt)
		return NULL;
	k->topics[k->n_topics].name = name;
	k->topics[k->n_topics].rkt = rkt;
	k->n_topics++;
	return rkt;
}

static void done_now(struct kafka_sink *k, void *token, enum relay_outcome_kind kind,
		     const char *why, const char *reason_code)
{
	relay_outcome o = { kind, -1, -1, why, reason_code };
	k->base.done(k->base.ctx, token, &o);
}

static int k_submit(relay_sink *s, const relay_item *it, errinfo *err)
{
	struct kafka_sink *k = (struct kafka_sink *)s;
	const cekafka_msg *m = it->msg;
	(void)err;
	rd_kafka_topic_t *rkt = topic_handle(k, it->topic);
	if (!rkt) {
		done_now(k, it->token, RELAY_OUT_RETRY, "kafka: cannot create a topic handle", "topic_handle");
		return 0;
	}
	rd_kafka_headers_t *hdrs = rd_kafka_headers_new(m->n_headers);
	for (size_t i = 0; i < m->n_headers; i++)
		rd_kafka_header_add(hdrs, m->h[i].name, (ssize_t)m->h[i].name_len, m->h[i].value,
				    (ssize_t)m->h[i].value_len);
	rd_kafka_resp_err_t e = rd_kafka_producev(
		k->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
		RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		RD_KAFKA_V_VALUE((void *)m->value, m->value ? m->value_len : 0),
		RD_KAFKA_V_KEY((void *)it->key, it->key ? it->key_len : 0), RD_KAFKA_V_HEADERS(hdrs),
		RD_KAFKA_V_OPAQUE(it->token), RD_KAFKA_V_END);
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
		k->inflight++;
		return 0;
	}
	rd_kafka_headers_destroy(hdrs);
	if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
		return RELAY_SINK_FULL;
	char why[256];
	if (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
		snprintf(why, sizeof why,
			 "kafka: message of %zu bytes is larger than message.max.bytes allows",
			 (m->value ? m->value_len : 0) + (it->key ? it->key_len : 0));
		done_now(k, it->token, RELAY_OUT_DEAD, why, rd_kafka_err2name(e));
		return 0;
	}
	if (e == RD_KAFKA_RESP_ERR__FATAL) {
		/* The producer went fatal (another message's failure) before
		 * this row left: no attempt of its own. It stays pending and
		 * its key waits, as for the collateral in dr_msg_cb(). */
		k->fatal = 1;
		done_now(k, it->token, RELAY_OUT_UNTOUCHED, NULL, NULL);
		return 0;
	}
	snprintf(why, sizeof why, "kafka: %s: %s", rd_kafka_err2name(e), rd_kafka_err2str(e));
	done_now(k, it->token, RELAY_OUT_RETRY, why, rd_kafka_err2name(e));
	return 0;
}

static size_t k_poll(relay_sink *s, int timeout_ms)
{
	struct kafka_sink *k = (struct kafka_sink *)s;
	rd_kafka_poll(k->rk, timeout_ms);
	return k->inflight;
}

static int k_reachable(relay_sink *s, uint64_t timeout_ms, errinfo *err)
{
	struct kafka_sink *k = (struct kafka_sink *)s;
	kafkaconf_topics t = { 0 };
	int rc = kafkaconf_list_topics(k->kc, timeout_ms > 600000 ? 600000 : (int)timeout_ms, &t, err);
	kafkaconf_topics_free(&t);
	return rc;
}

static void k_purge(relay_sink *s)
{
	struct kafka_sink *k = (struct kafka_sink *)s;
	rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
}

static int k_broken(relay_sink *s, errinfo *err)
{
	struct kafka_sink *k = (struct kafka_sink *)s;
	if (k->stop_code)
		return errinfo_set(err, k->stop_code, "%s", k->stop_text);
	return k->fatal ? RELAY_SINK_REOPEN : 0;
}

static void k_close(relay_sink *s)
{
	struct kafka_sink *k = (struct kafka_sink *)s;
	if (!k)
		return;
	if (k->rk) {
		/* Whatever is still in flight is reported UNTOUCHED: the rows
		 * stay pending and go out again next time. */
		if (k->inflight) {
			rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
			for (int i = 0; i < 100 && k->inflight; i++)
				rd_kafka_poll(k->rk, 50);
		}
		for (size_t i = 0; i < k->n_topics; i++)
			rd_kafka_topic_destroy(k->topics[i].rkt);
		rd_kafka_destroy(k->rk);
	}
	free(k->topics);
	free(k);
}

static const relay_sink_ops kafka_ops = { k_submit, k_poll, k_reachable, k_purge, k_broken, k_close };

relay_sink *relay_kafka_open(const kafkaconf *kc, relay_done_fn *done, void *ctx, errinfo *err)
{
	struct kafka_sink *k = calloc(1, sizeof *k);
	if (!k) {
		errinfo_set(err, EXIT_SOFTWARE, "out of memory");
		return NULL;
	}
	k->base.ops = &kafka_ops;
	k->base.done = done;
	k->base.ctx = ctx;
	k->kc = kc;
	rd_kafka_conf_t *conf = kafkaconf_build(kc, err);
	if (!conf) {
		free(k);
		return NULL;
	}
	char errstr[512];
	const char *idem = kafkaconf_get(kc, "enable.idempotence");
	if (idem && strcmp(idem, "true") == 0 && !kafkaconf_get(kc, "enable.gapless.guarantee") &&
	    rd_kafka_conf_set(conf, "enable.gapless.guarantee", "true", errstr, sizeof errstr) !=
		    RD_KAFKA_CONF_OK) {
		rd_kafka_conf_destroy(conf);
		free(k);
		errinfo_set(err, EXIT_CONFIG, "enable.gapless.guarantee: %s", errstr);
		return NULL;
	}
	rd_kafka_conf_set_opaque(conf, k);
	rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	rd_kafka_conf_set_log_cb(conf, log_cb);
	k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	if (!k->rk) {
		rd_kafka_conf_destroy(conf);
		free(k);
		errinfo_set(err, EXIT_CONFIG, "cannot create the producer: %s", errstr);
		return NULL;
	}
	return &k->base;
}
