/* consume.c - see consume.h and event-consume(1).
 *
 * One thread polls the consumer. Stdout output is the fast path: a
 * decoded event is written straight from the message into the output
 * buffer; the buffer is flushed before the consumer waits for more, and
 * only then are the offsets of what it held stored (and the dedupe store
 * told). Handler output copies each event into an item, so that a failed
 * batch can be held, retried after its backoff, and dead-lettered with the
 * original key, value and headers.
 */
#include "consume.h"
#include "cekafka.h"
#include "consume_metrics.h"
#include "dedupe.h"
#include "strscan.h"
#include "exitcode.h"
#include "backoff.h"
#include "timefmt.h"
#include "utf8.h"
#include "base64.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#define MAX_EVENT (64u * 1024 * 1024)
#define WHY_MAX 512
#define COMMIT_EVERY_MS 1000
#define FLUSH_EVERY_MS 100
#define FLUSH_EVERY_EVENTS 8192
/* Printed keys waiting while the writer is at its last job (see
 * flush_output_mode). They and their copies (pending sets, arenas) are
 * most of --dedupe's memory: at 8 x FLUSH_EVERY_EVENTS the peak RSS was
 * 60-78 MB for 1M events, at 5 x 53-55 MB, same speed (3.20-3.32 s against
 * 3.30-3.33 s, alternating runs). */
#define RECORDING_MAX (5 * FLUSH_EVERY_EVENTS)
/* A job for the store's writer: at least this many keys, or what came in
 * RECORDING_WAIT_MS. A commit writes every B-tree leaf its keys touched,
 * and random ids touch most leaves, so fewer, larger jobs write less: 1M
 * events with --dedupe took 3.05-3.23 s against 3.30-3.58 s handing over
 * every flush (alternating runs). */
#define RECORDING_MIN (4 * FLUSH_EVERY_EVENTS)
#define RECORDING_WAIT_MS 250
#define NUDGE_TIMEOUT_MS 500

/* What the consumer knows of one assigned partition. */
struct part {
	char *topic;
	int32_t partition;
	int64_t end;          /* --exit-eof: the end offset at assignment; -1 unknown */
	int done;             /* --exit-eof: reached end */
	int64_t handled_next; /* offset after the last event handled; -1 none */
	int64_t done_next;    /* ... and, for printed output, flushed: storable */
	int64_t recording_next; /* flushed, its dedupe records with the writer; -1 none */
	int64_t stored_next;  /* what was last handed to offsets_store */
	int64_t fetched_next; /* offset after the last message read; -1 none */
	int started;          /* assigned before in this run: --from applies once */
	int held;             /* a batch holding this partition waits for a retry */
	int64_t held_offset;  /* the first offset of this partition in that batch */
	int assigned;
};

/* What becomes of a message that is part of a batch. Every message read
 * in handler mode joins the batch being gathered, so that its offset is
 * marked only when everything before it was handled: a filtered, duplicate
 * or undecodable message rides along ("passenger") and is settled with the
 * batch. */
enum item_kind {
	ITEM_HANDLE = 0, /* given to the handler */
	ITEM_SKIP,       /* filtered out by --type */
	ITEM_DUP,        /* the dedupe store (or this batch) has it */
	ITEM_BAD,        /* not a CloudEvent: dead-lettered or reported */
	ITEM_DONE        /* settled (so a batch run again skips it) */
};

/* One message copied for a handler (and for the dead-letter topic). */
struct item {
	enum item_kind kind;
	char *bad_reason;            /* ITEM_BAD: why */
	char *json;
	size_t json_len;
	char *topic;
	int32_t partition;
	int64_t offset;
	void *key;
	size_t key_len;
	void *value;
	size_t value_len;
	rd_kafka_headers_t *headers; /* the original message's, for the DLQ */
	int64_t timestamp_ms;
	traceparent hop;
	char *source, *id;           /* decoded, for dedupe */
	size_t source_len, id_len;
	char *tracestate;            /* the hop's, or NULL */
	size_t tracestate_len;
};

struct batch {
	struct item *items;
	size_t n, cap;
	size_t n_handle;             /* items of kind ITEM_HANDLE */
	unsigned attempts;
	int64_t next_at_us;
	char why[WHY_MAX];
	struct batch *next;
};

/* One entry per slot, so a probe touches one cache line, not five
 * arrays (the set holds up to RECORDING_MAX keys, far beyond the caches). */
struct pending_id {
	uint64_t hash; /* 0: empty */
	const char *source, *id; /* borrowed from the printed list or the batch */
	size_t source_len, id_len;
};
/* (source, id) of events printed or gathered whose dedupe record is not
 * written yet; see pending_check_add. */
struct pending_ids {
	struct pending_id *slot;
	size_t cap, n;
};

/* Bytes that live until the next flush (the source and id of printed
 * events): carved from 64 KiB chunks that never move, so pointers into
 * them stay valid; no malloc per event. */
struct arena_chunk {
	struct arena_chunk *next;
	size_t cap;
	char data[];
};
struct arena {
	struct arena_chunk *head; /* the chunk being filled */
	size_t used;              /* bytes of head in use */
};
#define ARENA_CHUNK (64u * 1024)

/* n bytes, or NULL when out of memory. */
static char *arena_alloc(struct arena *a, size_t n)
{
	if (!a->head || a->head->cap - a->used < n) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		struct arena_chunk *k = malloc(sizeof *k + cap);
		if (!k)
			return NULL;
		k->next = a->head;
		k->cap = cap;
		a->head = k;
		a->used = 0;
	}
	char *p = a->head->data + a->used;
	a->used += n;
	return p;
}

/* Forget every allocation; keep one chunk for the next round. */
static void arena_reset(struct arena *a)
{
	if (!a->head)
		return;
	struct arena_chunk *k = a->head->next;
	while (k) {
		struct arena_chunk *next = k->next;
		free(k);
		k = next;
	}
	a->head->next = NULL;
	a->used = 0;
}

static void arena_free(struct arena *a)
{
	arena_reset(a);
	free(a->head);
	a->head = NULL;
}

/* A copy of s[0..n) in a. */
static int arena_copy(struct arena *a, const char *s, size_t n, const char **out)
{
	char *d = arena_alloc(a, n ? n : 1);
	if (!d)
		return -1;
	memcpy(d, s, n);
	*out = d;
	return 0;
}

/* The decoded text of a validated string token, in a. */
static int arena_decode(struct arena *a, json_span tok, const char **out, size_t *len)
{
	char *d = arena_alloc(a, tok.n); /* decoded is shorter than the token */
	if (!d)
		return -1;
	size_t k = json_string_decode_fixed(tok, d, tok.n);
	if (k == (size_t)-1)
		return -1;
	*out = d;
	*len = k;
	return 0;
}

struct consumer {
	const consume_options *o;
	consume_stats *st;
	rd_kafka_t *rk;
	rd_kafka_t *dlq;             /* producer for the dead-letter topic, lazily */
	int dlq_inflight;
	rd_kafka_resp_err_t dlq_err;
	struct part *parts;
	size_t n_parts, cap_parts;
	struct part *last_part;
	struct batch *held;           /* batches waiting for a retry */
	struct batch cur;             /* the batch being filled */
	buf event;                    /* decoded event of the message at hand */
	dedupe_key *printed;          /* stdout + dedupe: printed since the last flush */
	size_t n_printed, cap_printed;
	size_t n_printed_flushed;     /* n_printed at the last flush */
	struct arena ids;             /* their source and id bytes */
	dedupe *dd;
	struct pending_ids pending;   /* see pending_check_add */
	/* stdout + dedupe: the last flush's records, being written by dw
	 * (the printed list, its bytes and its pending set, swapped in at a
	 * flush and out again once written; see flush_output) */
	dedupe_writer *dw;
	dedupe_key *recording;
	size_t n_recording, cap_recording;
	struct arena recording_ids;
	struct pending_ids recording_pending;
	consume_metrics *metrics;     /* NULL without --metrics-file */
	int metrics_failed;           /* its last write's exit code */
	errinfo metrics_err;          /* and why */
	int assigned_once;            /* an assignment has happened */
	int64_t last_msg_us, last_commit_us, last_flush_us;
	unsigned long nudges;         /* see nudge_fetcher */
	int64_t nudge_failed_us;      /* when the last one failed; 0 when it did not */
	unsigned long events;         /* counted for -c */
	int stop_code;                /* a handler asked to stop */
	int fatal;
	int out_failed;
	errinfo err;
	int have_undecodable_skipped;
	int64_t last_submit_us;
};

/* Events printed (stdout) or gathered (a batch) whose dedupe record is not
 * written yet: a second copy of one of them in the same stretch is a
 * duplicate too. A hash finds candidates; the strings decide. */
static uint64_t id_hash(uint64_t key_hash)
{
	return key_hash ? key_hash : 1; /* 0 marks an empty cell */
}


/* The cell where kh's probe in p starts. */
static size_t pending_first(const struct pending_ids *p, uint64_t kh)
{
	return id_hash(kh) & (p->cap - 1);
}

static void pending_clear(struct pending_ids *p)
{
	if (p->n)
		memset(p->slot, 0, p->cap * sizeof *p->slot);
	p->n = 0;
}

static int pending_match(const struct pending_id *e, uint64_t h, const char *source, size_t sl,
			 const char *id, size_t il)
{
	return e->hash == h && e->source_len == sl && e->id_len == il &&
	       memcmp(e->source, source, sl) == 0 && memcmp(e->id, id, il) == 0;
}

/* 1 when (source, id), of dedupe_key_hash() kh, is already pending, else
 * add it: 0; -1 out of memory. */
static int pending_check_add(struct pending_ids *p, uint64_t kh, const char *source, size_t sl,
			     const char *id, size_t il)
{
	/* Grown at three quarters full: a printing consumer holds up to
	 * RECORDING_MAX + FLUSH_EVERY_EVENTS keys in each of two sets. Grown
	 * at half full, two sets of 73,728 keys took 262,144 cells of 40 bytes
	 * each, and with a doubling's old table 26 MB of the peak RSS
	 * (massif, 300,000 events with --dedupe). */
	if ((p->n + 1) * 4 > p->cap * 3) {
		struct pending_ids q = { 0 };
		q.cap = p->cap ? p->cap * 2 : 1024;
		if (!(q.slot = calloc(q.cap, sizeof *q.slot)))
			return -1;
		for (size_t i = 0; i < p->cap; i++) {
			if (!p->slot[i].hash)
				continue;
			size_t j = p->slot[i].hash & (q.cap - 1);
			while (q.slot[j].hash)
				j = (j + 1) & (q.cap - 1);
			q.slot[j] = p->slot[i];
		}
		q.n = p->n;
		free(p->slot);
		*p = q;
	}
	uint64_t h = id_hash(kh);
	size_t j = pending_first(p, kh);
	for (; p->slot[j].hash; j = (j + 1) & (p->cap - 1))
		if (pending_match(&p->slot[j], h, source, sl, id, il))
			return 1;
	p->slot[j] = (struct pending_id){ h, source, id, sl, il };
	p->n++;
	return 0;
}

/* 1 when (source, id), of dedupe_key_hash() kh, is in p. */
static int pending_has(const struct pending_ids *p, uint64_t kh, const char *source, size_t sl,
		       const char *id, size_t il)
{
	if (!p->n)
		return 0;
	uint64_t h = id_hash(kh);
	for (size_t j = pending_first(p, kh); p->slot[j].hash; j = (j + 1) & (p->cap - 1))
		if (pending_match(&p->slot[j], h, source, sl, id, il))
			return 1;
	return 0;
}

static void pending_free(struct pending_ids *p)
{
	free(p->slot);
	memset(p, 0, sizeof *p);
}

static void pending_rebuild(struct consumer *c);

void consume_options_init(consume_options *o)
{
	memset(o, 0, sizeof *o);
	o->max_attempts = CONSUME_DEFAULT_MAX_ATTEMPTS;
	o->backoff_min_ms = CONSUME_DEFAULT_BACKOFF_MIN_MS;
	o->backoff_max_ms = CONSUME_DEFAULT_BACKOFF_MAX_MS;
}

/* ---- partitions ---- */

static struct part *find_part(struct consumer *c, const char *topic, int32_t partition, int add)
{
	if (c->last_part && c->last_part->partition == partition &&
	    strcmp(c->last_part->topic, topic) == 0)
		return c->last_part;
	for (size_t i = 0; i < c->n_parts; i++)
		if (c->parts[i].partition == partition && strcmp(c->parts[i].topic, topic) == 0)
			return c->last_part = &c->parts[i];
	if (!add)
		return NULL;
	if (c->n_parts == c->cap_parts) {
		size_t cap = c->cap_parts ? c->cap_parts * 2 : 16;
		struct part *p = realloc(c->parts, cap * sizeof *p);
		if (!p)
			return NULL;
		c->parts = p;
		c->cap_parts = cap;
	}
	struct part *p = &c->parts[c->n_parts];
	memset(p, 0, sizeof *p);
	if (!(p->topic = strdup(topic)))
		return NULL;
	p->partition = partition;
	p->end = -1;
	p->handled_next = -1;
	p->done_next = -1;
	p->recording_next = -1;
	p->stored_next = -1;
	p->fetched_next = -1;
	c->n_parts++;
	return c->last_part = p;
}

/* Store the offsets of everything handled since the last call. */
static void store_offsets(struct consumer *c)
{
	if (!c->o->group)
		return;
	rd_kafka_topic_partition_list_t *l = NULL;
	for (size_t i = 0; i < c->n_parts; i++) {
		struct part *p = &c->parts[i];
		if (!p->assigned || p->done_next < 0 || p->done_next == p->stored_next)
			continue;
		if (!l)
			l = rd_kafka_topic_partition_list_new(8);
		rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = p->done_next;
		p->stored_next = p->done_next;
	}
	if (l) {
		rd_kafka_resp_err_t e = rd_kafka_offsets_store(c->rk, l);
		if (e)
			diag_debug("storing offsets: %s", rd_kafka_err2str(e));
		rd_kafka_topic_partition_list_destroy(l);
	}
}

static void commit_sync(struct consumer *c)
{
	if (!c->o->group)
		return;
	store_offsets(c);
	rd_kafka_resp_err_t e = rd_kafka_commit(c->rk, NULL, 0);
	if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
		diag_warn("committing offsets: %s", rd_kafka_err2str(e));
	c->last_commit_us = timefmt_now_us();
}

/* ---- output ---- */

/* The writer's job (the last flush's records) is written: wait for it,
 * then its offsets may be stored and its pending set goes. The read
 * transaction ends first, so the next lookup sees the records. */
static void recording_done(struct consumer *c)
{
	if (!dedupe_writer_busy(c->dw))
		return;
	errinfo e;
	if (dedupe_writer_wait(c->dw, &e) != 0)
		diag_warn("%s (those events may be printed again)", e.text);
	dedupe_release(c->dd);
	c->n_recording = 0;
	arena_reset(&c->recording_ids);
	pending_clear(&c->recording_pending);
	for (size_t i = 0; i < c->n_parts; i++)
		if (c->parts[i].recording_next >= 0) {
			c->parts[i].done_next = c->parts[i].recording_next;
			c->parts[i].recording_next = -1;
		}
}

#define SWAP(T, a, b) do { T swap_tmp_ = (a); (a) = (b); (b) = swap_tmp_; } while (0)

/* Write out what was printed, then record its dedupe entries and store
 * its offsets. With a writer (stdout + dedupe) the records are written
 * while the next events are printed: a flush hands the writer what was
 * printed since its last job when that job is written and RECORDING_MIN
 * keys or RECORDING_WAIT_MS have gathered (else the records wait for a
 * later flush, so the writer's transactions grow when it is the slower
 * one, up to RECORDING_MAX keys); offsets are stored only once
 * their records are written, and until then their keys stay pending (a
 * copy arriving meanwhile is a duplicate). drain waits for everything
 * (before a revoke, at exit). */
static int flush_output_mode(struct consumer *c, int drain)
{
	if (c->o->handler) {
		dedupe_release(c->dd); /* called before waiting for messages */
		return 0;
	}
	if (outbuf_flush(c->o->out) != 0) {
		recording_done(c);
		c->out_failed = 1;
		return -1;
	}
	if (c->dw && (drain || c->n_printed >= RECORDING_MAX || dedupe_writer_idle(c->dw)))
		recording_done(c);
	if (c->dw && (dedupe_writer_busy(c->dw) ||
		      (!drain && c->n_printed < RECORDING_MIN &&
		       timefmt_now_us() - c->last_submit_us < RECORDING_WAIT_MS * 1000))) {
		/* the writer is still at the last job: these records wait */
		dedupe_release(c->dd); /* called before waiting for messages */
	} else if (c->dw && c->n_printed) {
		c->last_submit_us = timefmt_now_us();
		SWAP(dedupe_key *, c->printed, c->recording);
		SWAP(size_t, c->cap_printed, c->cap_recording);
		SWAP(struct arena, c->ids, c->recording_ids);
		SWAP(struct pending_ids, c->pending, c->recording_pending);
		c->n_recording = c->n_printed;
		c->n_printed = 0;
		for (size_t i = 0; i < c->n_parts; i++)
			c->parts[i].recording_next = c->parts[i].handled_next;
		dedupe_writer_submit(c->dw, c->recording, c->n_recording);
		if (drain)
			recording_done(c);
	} else {
		if (c->dd && c->n_printed) {
			errinfo e;
			if (dedupe_record_many(c->dd, c->printed, c->n_printed, &e) != 0)
				diag_warn("%s (those events may be printed again)", e.text);
		}
		dedupe_release(c->dd);
		arena_reset(&c->ids);
		pending_clear(&c->pending);
		/* What was printed is out (and recorded): its offsets may be
		 * stored now. */
		for (size_t i = 0; i < c->n_parts; i++)
			c->parts[i].done_next = c->parts[i].handled_next;
		c->n_printed = 0;
	}
	c->n_printed_flushed = c->n_printed;
	c->last_flush_us = timefmt_now_us();
	store_offsets(c);
	return 0;
}

static int flush_output(struct consumer *c)
{
	return flush_output_mode(c, 1);
}

/* --with-kafka: {"topic":..,"partition":..,"offset":..,"key":..,"timestamp":..,"event":{..}} */
static int write_with_kafka(outbuf *o, const rd_kafka_message_t *m, const char *json, size_t n)
{
	buf b = BUF_INIT(MAX_EVENT * 2);
	int rc = buf_puts(&b, "{\"topic\":");
	if (!rc)
		rc = json_string_encode(&b, rd_kafka_topic_name(m->rkt), strlen(rd_kafka_topic_name(m->rkt)));
	if (!rc)
		rc = buf_printf(&b, ",\"partition\":%" PRId32 ",\"offset\":%" PRId64 ",\"key\":",
				m->partition, m->offset);
	if (!rc && m->key && utf8_valid(m->key, m->key_len)) {
		rc = json_string_encode(&b, m->key, m->key_len);
	} else if (!rc && m->key) {
		/* A key that is not UTF-8 text: null here, base64 beside it. */
		rc = buf_puts(&b, "null,\"key_base64\":\"");
		if (!rc)
			rc = base64_encode(&b, m->key, m->key_len);
		if (!rc)
			rc = buf_putc(&b, '"');
	} else if (!rc) {
		rc = buf_puts(&b, "null");
	}
	rd_kafka_timestamp_type_t tt;
	int64_t ts = rd_kafka_message_timestamp(m, &tt);
	if (!rc)
		rc = ts >= 0 ? buf_printf(&b, ",\"timestamp\":%" PRId64, ts) : buf_puts(&b, ",\"timestamp\":null");
	if (!rc)
		rc = buf_puts(&b, ",\"event\":");
	if (!rc)
		rc = buf_append(&b, json, n);
	if (!rc)
		rc = buf_puts(&b, "}\n");
	if (!rc)
		rc = outbuf_write(o, b.data, b.len);
	buf_free(&b);
	return rc;
}

/* ---- the dead-letter topic ---- */

static void dlq_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct consumer *c = opaque;
	(void)rk;
	c->dlq_inflight--;
	if (m->err)
		c->dlq_err = m->err;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *line);

/* A dead letter goes to the partition of its original (modulo the
 * dead-letter topic's partitions), as Spring Cloud Stream does: dead
 * letters of one partition stay in their order. The original partition
 * travels as the message's opaque. */
static int32_t dlq_partitioner(const rd_kafka_topic_t *rkt, const void *key, size_t keylen,
			       int32_t partition_cnt, void *rkt_opaque, void *msg_opaque)
{
	(void)rkt;
	(void)key;
	(void)keylen;
	(void)rkt_opaque;
	int32_t p = (int32_t)(intptr_t)msg_opaque;
	return partition_cnt > 0 ? p % partition_cnt : RD_KAFKA_PARTITION_UA;
}

static int dlq_open(struct consumer *c, errinfo *err)
{
	if (c->dlq)
		return 0;
	rd_kafka_conf_t *conf = kafkaconf_build(c->o->kc, err);
	if (!conf)
		return err->code;
	char es[512];
	rd_kafka_conf_set(conf, "acks", "all", es, sizeof es);
	rd_kafka_conf_set(conf, "enable.idempotence", "true", es, sizeof es);
	rd_kafka_conf_set_opaque(conf, c);
	rd_kafka_conf_set_dr_msg_cb(conf, dlq_dr);
	/* Sticky partitioning would place keyless letters itself, past the
	 * partitioner. */
	rd_kafka_conf_set(conf, "sticky.partitioning.linger.ms", "0", es, sizeof es);
	rd_kafka_topic_conf_t *tconf = rd_kafka_topic_conf_new();
	rd_kafka_topic_conf_set_partitioner_cb(tconf, dlq_partitioner);
	rd_kafka_conf_set_default_topic_conf(conf, tconf); /* conf owns it now */
	/* The consumer's -X properties reach the producer too; its warnings
	 * about them ("consumer property") are -v material. */
	rd_kafka_conf_set_log_cb(conf, log_cb);
	c->dlq = rd_kafka_new(RD_KAFKA_PRODUCER, conf, es, sizeof es);
	if (!c->dlq) {
		rd_kafka_conf_destroy(conf);
		return errinfo_set(err, EXIT_CONFIG, "dead-letter producer: %s", es);
	}
	return 0;
}

static char *dlq_topic_for(struct consumer *c, const char *topic, char *out, size_t cap)
{
	if (c->o->dlq_topic)
		snprintf(out, cap, "%s", c->o->dlq_topic);
	else
		snprintf(out, cap, "error.%s.%s", topic, c->o->group ? c->o->group : "none");
	return out;
}

/* Produce one message to the dead-letter topic and wait for its delivery
 * report. 0, or the librdkafka error. */
static rd_kafka_resp_err_t dlq_produce(struct consumer *c, const char *dt, int32_t partition,
				       const void *key, size_t key_len, const void *value,
				       size_t value_len, rd_kafka_headers_t *h)
{
	c->dlq_err = 0;
	c->dlq_inflight++;
	rd_kafka_resp_err_t e = rd_kafka_producev(
		c->dlq, RD_KAFKA_V_TOPIC(dt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		RD_KAFKA_V_KEY((void *)key, key_len), RD_KAFKA_V_VALUE((void *)value, value_len),
		RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE((void *)(intptr_t)partition), RD_KAFKA_V_END);
	if (e) {
		c->dlq_inflight--;
		rd_kafka_headers_destroy(h);
		return e;
	}
	while (c->dlq_inflight > 0)
		rd_kafka_poll(c->dlq, 100);
	return c->dlq_err;
}

static int too_large(rd_kafka_resp_err_t e)
{
	return e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
	       e == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE || e == RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE;
}

#define DLQ_KEY_KEEP 1024 /* bytes of an oversized message's key kept */

/* Produce one dead letter and wait for its delivery report. The original
 * key, value and headers, plus Spring Cloud Stream's x-original-* and
 * x-exception-message headers and our attempt count. A message too large
 * for the dead-letter topic goes without its value (and with its key cut
 * to DLQ_KEY_KEEP bytes), saying so in x-original-value-omitted: the
 * record of what failed, and where, is never lost to its size. */
static int dead_letter(struct consumer *c, const char *topic, int32_t partition, int64_t offset,
		       int64_t ts, const void *key, size_t key_len, const void *value,
		       size_t value_len, const rd_kafka_headers_t *orig, unsigned attempts,
		       const char *why, errinfo *err)
{
	int s = dlq_open(c, err);
	if (s)
		return s;
	char dt[512], num[32];
	dlq_topic_for(c, topic, dt, sizeof dt);
	rd_kafka_resp_err_t e = 0;
	for (int slim = 0; slim < 2; slim++) {
		rd_kafka_headers_t *h = orig && !slim ? rd_kafka_headers_copy(orig)
						      : rd_kafka_headers_new(8);
		rd_kafka_header_add(h, "x-original-topic", -1, topic, -1);
		snprintf(num, sizeof num, "%" PRId32, partition);
		rd_kafka_header_add(h, "x-original-partition", -1, num, -1);
		snprintf(num, sizeof num, "%" PRId64, offset);
		rd_kafka_header_add(h, "x-original-offset", -1, num, -1);
		if (ts >= 0) {
			snprintf(num, sizeof num, "%" PRId64, ts);
			rd_kafka_header_add(h, "x-original-timestamp", -1, num, -1);
		}
		rd_kafka_header_add(h, "x-exception-message", -1, why, -1);
		snprintf(num, sizeof num, "%u", attempts);
		rd_kafka_header_add(h, "x-attempts", -1, num, -1);
		if (slim) {
			snprintf(num, sizeof num, "%zu", value_len);
			rd_kafka_header_add(h, "x-original-value-omitted", -1, num, -1);
		}
		e = slim ? dlq_produce(c, dt, partition, key,
				       key_len > DLQ_KEY_KEEP ? DLQ_KEY_KEEP : key_len, NULL, 0, h)
			 : dlq_produce(c, dt, partition, key, key_len, value, value_len, h);
		if (!e || !too_large(e))
			break;
		diag_warn("%s [%" PRId32 "] @%" PRId64 ": too large for %s (%s): dead-lettered "
			  "without its value", topic, partition, offset, dt, rd_kafka_err2str(e));
	}
	if (e)
		return errinfo_set(err, kafkaconf_exitcode(e) ? kafkaconf_exitcode(e) : EXIT_SOFTWARE,
				   "%s [%" PRId32 "] @%" PRId64 ": dead-letter topic %s: %s", topic,
				   partition, offset, dt, rd_kafka_err2str(e));
	c->st->dead_lettered++;
	if (c->metrics)
		consume_metrics_dead_lettered(c->metrics);
	if (diag_verbosity >= 0)
		diag_warn("%s [%" PRId32 "] @%" PRId64 ": dead-lettered to %s: %s", topic, partition,
			  offset, dt, why);
	return 0;
}

static int dlq_enabled(const struct consumer *c)
{
	return !c->o->no_dlq && (c->o->group || c->o->dlq_topic);
}

/* ---- handlers ---- */

static void item_free(struct item *it)
{
	free(it->tracestate);
	free(it->bad_reason);
	free(it->json);
	free(it->topic);
	free(it->key);
	free(it->value);
	free(it->source);
	free(it->id);
	if (it->headers)
		rd_kafka_headers_destroy(it->headers);
	memset(it, 0, sizeof *it);
}

static void batch_clear(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		item_free(&b->items[i]);
	b->n = 0;
	b->n_handle = 0;
	b->attempts = 0;
}

static void *memdup(const void *p, size_t n)
{
	void *q = malloc(n ? n : 1);
	if (q && n)
		memcpy(q, p, n);
	return q;
}


static void mark_handled(struct consumer *c, const char *topic, int32_t partition, int64_t offset)
{
	struct part *p = find_part(c, topic, partition, 0);
	if (p && offset + 1 > p->handled_next) {
		p->handled_next = offset + 1;
		/* A handler's success is final; a printed line only once the
		 * output is flushed (flush_output). */
		if (c->o->handler)
			p->done_next = p->handled_next;
	}
}

/* Pause a partition (or resume it, sought back to offset). */
static void set_paused(struct consumer *c, const char *topic, int32_t partition, int pause,
		       int64_t offset)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, partition)->offset = offset;
	if (pause) {
		rd_kafka_pause_partitions(c->rk, l);
	} else {
		rd_kafka_resume_partitions(c->rk, l);
		/* Messages fetched while held were dropped: read them again. */
		rd_kafka_error_t *e = rd_kafka_seek_partitions(c->rk, l, 5000);
		if (e) {
			diag_warn("%s [%" PRId32 "]: seeking back to %" PRId64 ": %s", topic, partition,
				  offset, rd_kafka_error_string(e));
			rd_kafka_error_destroy(e);
		}
	}
	rd_kafka_topic_partition_list_destroy(l);
}

/* Settle the passengers of a batch whose handled events are done (handled
 * or dead-lettered). Returns 0, or an exit code when a dead letter could
 * not be produced (the batch is then held and tried again). */
static int settle_passengers(struct consumer *c, struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct item *it = &b->items[i];
		if (it->kind == ITEM_SKIP) {
			c->st->skipped++;
			it->kind = ITEM_DONE;
		} else if (it->kind == ITEM_DUP) {
			c->st->duplicates++;
			if (c->metrics)
				consume_metrics_duplicate(c->metrics);
			it->kind = ITEM_DONE;
		} else if (it->kind == ITEM_BAD) {
			if (!dlq_enabled(c)) {
				diag_error("%s [%" PRId32 "] @%" PRId64 ": not a valid CloudEvent: %s",
					   it->topic, it->partition, it->offset, it->bad_reason);
				c->have_undecodable_skipped = 1;
				it->kind = ITEM_DONE;
				continue;
			}
			errinfo e;
			if (dead_letter(c, it->topic, it->partition, it->offset, it->timestamp_ms, it->key,
					it->key_len, it->value, it->value_len, it->headers, 0, it->bad_reason,
					&e) != 0) {
				diag_warn("%s", e.text);
				return e.code ? e.code : EXIT_SOFTWARE;
			}
			it->kind = ITEM_DONE; /* dead-lettered: never again */
		}
	}
	return 0;
}

/* Run the handler over a batch; decide its fate. Returns 0, or an exit
 * code when the run must stop. *held_out says the batch waits for a retry. */
static int run_batch(struct consumer *c, struct batch *b, int *held_out)
{
	*held_out = 0;
	enum consume_result r = CONSUME_OK;
	char why[WHY_MAX] = "";
	if (b->n_handle) {
		consume_event *ev = calloc(b->n_handle, sizeof *ev);
		cloudevent *parsed = calloc(b->n_handle, sizeof *parsed);
		if (!ev || !parsed) {
			free(ev);
			free(parsed);
			return errinfo_set(&c->err, EXIT_SOFTWARE, "out of memory");
		}
		size_t k = 0;
		for (size_t i = 0; i < b->n; i++) {
			struct item *it = &b->items[i];
			if (it->kind != ITEM_HANDLE)
				continue;
			(void)ce_parse(&parsed[k], it->json, it->json_len, NULL);
			ev[k] = (consume_event){ it->json, it->json_len, &parsed[k], it->topic,
						 it->partition, it->offset, it->key, it->key_len,
						 it->timestamp_ms, it->hop, it->tracestate,
						 it->tracestate_len, b->attempts + 1 };
			k++;
		}
		int stop_code = 0;
		dedupe_release(c->dd); /* no snapshot held while the handler runs */
		int64_t t0 = timefmt_now_us();
		r = c->o->handler->handle(c->o->handler->self, ev, k, why, sizeof why, &stop_code);
		free(ev);
		free(parsed);
		if (c->metrics) {
			if (r == CONSUME_OK)
				consume_metrics_handled(c->metrics, k, (double)(timefmt_now_us() - t0) / 1e6);
			else
				consume_metrics_handler_error(c->metrics, r == CONSUME_RETRY ? "retry"
									  : r == CONSUME_DEAD ? "permanent"
											      : "stop");
		}
		b->attempts++;
		if (r == CONSUME_STOP) {
			c->stop_code = stop_code ? stop_code : EXIT_SOFTWARE;
			return errinfo_set(&c->err, c->stop_code, "%s",
					   why[0] ? why : "the handler asked to stop");
		}
		if (r == CONSUME_RETRY && b->attempts < c->o->max_attempts) {
			c->st->retried++;
			snprintf(b->why, sizeof b->why, "%s", why);
			b->next_at_us = timefmt_now_us() +
					(int64_t)backoff_delay_ms(c->o->backoff_min_ms, c->o->backoff_max_ms,
								  b->attempts) * 1000;
			diag_debug("%s [%" PRId32 "] @%" PRId64 ": attempt %u failed (%s); retrying",
				   b->items[0].topic, b->items[0].partition, b->items[0].offset,
				   b->attempts, why);
			*held_out = 1;
			return 0;
		}
	}
	if (r == CONSUME_OK && b->n_handle) {
		if (c->dd) {
			errinfo e;
			int s = dedupe_begin(c->dd, &e);
			for (size_t i = 0; i < b->n && !s; i++)
				if (b->items[i].kind == ITEM_HANDLE)
					s = dedupe_record(c->dd, b->items[i].source, b->items[i].source_len,
							  b->items[i].id, b->items[i].id_len, &e);
			if (!s)
				s = dedupe_commit(c->dd, &e);
			if (s)
				diag_warn("%s", e.text);
		}
		c->st->handled += b->n_handle;
		/* Done: never run again if a passenger holds the batch. */
		for (size_t i = 0; i < b->n; i++)
			if (b->items[i].kind == ITEM_HANDLE)
				b->items[i].kind = ITEM_DONE;
		b->n_handle = 0;
	} else if (r != CONSUME_OK) {
		char reason[WHY_MAX + 64];
		if (r == CONSUME_RETRY)
			snprintf(reason, sizeof reason, "gave up after %u attempts: %s", b->attempts, why);
		else
			snprintf(reason, sizeof reason, "%s", why[0] ? why : "permanent failure");
		for (size_t i = 0; i < b->n; i++) {
			struct item *it = &b->items[i];
			if (it->kind != ITEM_HANDLE)
				continue;
			if (!dlq_enabled(c)) {
				diag_error("%s [%" PRId32 "] @%" PRId64 ": %s (no dead-letter topic: skipped)",
					   it->topic, it->partition, it->offset, reason);
				c->have_undecodable_skipped = 1;
			} else {
				errinfo e;
				if (dead_letter(c, it->topic, it->partition, it->offset, it->timestamp_ms,
						it->key, it->key_len, it->value, it->value_len, it->headers,
						b->attempts, reason, &e) != 0) {
					/* Not dead-lettered: hold the batch and try again. */
					diag_warn("%s", e.text);
					b->next_at_us = timefmt_now_us() + (int64_t)c->o->backoff_min_ms * 1000;
					b->attempts--;
					*held_out = 1;
					return 0;
				}
			}
			it->kind = ITEM_DONE; /* settled */
			b->n_handle--;
		}
	}
	if (settle_passengers(c, b) != 0) {
		b->next_at_us = timefmt_now_us() + (int64_t)c->o->backoff_min_ms * 1000;
		*held_out = 1;
		return 0;
	}
	for (size_t i = 0; i < b->n; i++)
		mark_handled(c, b->items[i].topic, b->items[i].partition, b->items[i].offset);
	return 0;
}

/* Run the batch being filled; a failed one is held. */
static int flush_batch(struct consumer *c)
{
	if (!c->cur.n)
		return 0;
	int held;
	int s = run_batch(c, &c->cur, &held);
	if (s)
		return s;
	if (!held) {
		batch_clear(&c->cur);
		pending_rebuild(c);
		store_offsets(c);
		return 0;
	}
	struct batch *b = malloc(sizeof *b);
	if (!b)
		return errinfo_set(&c->err, EXIT_SOFTWARE, "out of memory");
	*b = c->cur;
	b->next = c->held;
	c->held = b;
	memset(&c->cur, 0, sizeof c->cur);
	/* Hold every partition of the batch at its first offset there. */
	for (size_t i = 0; i < b->n; i++) {
		struct part *p = find_part(c, b->items[i].topic, b->items[i].partition, 0);
		if (p && !p->held) {
			p->held = 1;
			p->held_offset = b->items[i].offset;
			set_paused(c, p->topic, p->partition, 1, 0);
		}
	}
	return 0;
}

/* Retry the held batches that are due. */
static int retry_due(struct consumer *c)
{
	if (!c->held)
		return 0; /* called for every message: no clock read for nothing */
	int64_t now = timefmt_now_us();
	for (struct batch **pp = &c->held; *pp;) {
		struct batch *b = *pp;
		if (b->next_at_us > now) {
			pp = &b->next;
			continue;
		}
		int held;
		int s = run_batch(c, b, &held);
		if (s)
			return s;
		if (held) {
			pp = &b->next;
			continue;
		}
		*pp = b->next;
		for (size_t i = 0; i < b->n; i++) {
			struct part *p = find_part(c, b->items[i].topic, b->items[i].partition, 0);
			if (p && p->held) {
				p->held = 0;
				/* Resume after the last offset of this partition in the batch. */
				set_paused(c, p->topic, p->partition, 0, p->handled_next);
				p->fetched_next = p->handled_next;
			}
		}
		batch_clear(b);
		free(b->items);
		free(b);
		pending_rebuild(c);
		store_offsets(c);
	}
	return 0;
}

static int64_t next_retry_us(const struct consumer *c)
{
	int64_t t = -1;
	for (const struct batch *b = c->held; b; b = b->next)
		if (t < 0 || b->next_at_us < t)
			t = b->next_at_us;
	return t;
}

/* ---- one message ---- */

static int type_wanted(const consume_options *o, const cloudevent *ev)
{
	if (!o->n_types)
		return 1;
	for (size_t i = 0; i < o->n_types; i++)
		if (json_string_equals(ev->type.value, o->types[i]))
			return 1;
	return 0;
}

/* The decoded id and source of ev, as copies. */
static int copy_attr(const ce_attr *a, char **out, size_t *len)
{
	buf b = BUF_INIT(1u << 20);
	if (ce_attr_value(a, &b) != 0 || buf_putc(&b, '\0') != 0) {
		buf_free(&b);
		return -1;
	}
	*out = b.data;
	*len = b.len - 1;
	return 0;
}

static void hop_for(const cekafka_info *info, const cloudevent *ev, traceparent *hop)
{
	traceparent parent;
	if (info->has_traceparent && traceparent_child(&info->traceparent, hop) == 0)
		return;
	if (ev->ext[0].name.p) {
		const ce_attr *tp = ce_find_extension(ev, "traceparent");
		if (tp && tp->type == JSON_STRING) {
			char v[TRACEPARENT_LEN + 8];
			size_t n = json_string_decode_fixed(tp->value, v, sizeof v);
			if (n != (size_t)-1 && traceparent_parse(&parent, v, n) == 0 &&
			    traceparent_child(&parent, hop) == 0)
				return;
		}
	}
	if (traceparent_new_root(hop) != 0)
		memset(hop, 0, sizeof *hop);
}


/* After batches were settled or freed: the pending set again holds just
 * the events of the batches still alive (held, and being gathered). */
static void pending_rebuild(struct consumer *c)
{
	if (c->o->handler == NULL)
		return;
	pending_clear(&c->pending);
	for (const struct batch *b = c->held;; b = b->next) {
		const struct batch *x = b ? b : &c->cur;
		for (size_t i = 0; i < x->n; i++)
			if (x->items[i].kind == ITEM_HANDLE && x->items[i].id)
				(void)pending_check_add(&c->pending,
							dedupe_key_hash(x->items[i].source,
									x->items[i].source_len,
									x->items[i].id, x->items[i].id_len),
							x->items[i].source, x->items[i].source_len,
							x->items[i].id, x->items[i].id_len);
		if (!b)
			break;
	}
}

/* The message's headers as cekafka wants them; *hdrs_out the original. */
static size_t message_headers(rd_kafka_message_t *m, cekafka_header *hs, size_t max,
			      rd_kafka_headers_t **hdrs_out)
{
	size_t nh = 0;
	rd_kafka_headers_t *hdrs = NULL;
	if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		const char *name;
		const void *val;
		size_t vlen;
		for (size_t i = 0; nh < max && rd_kafka_header_get_all(hdrs, i, &name, &val, &vlen) ==
						       RD_KAFKA_RESP_ERR_NO_ERROR;
		     i++)
			hs[nh++] = (cekafka_header){ name, strlen(name), val, vlen };
	}
	*hdrs_out = hdrs;
	return nh;
}

/* Handler mode: every message joins the batch being gathered (see enum
 * item_kind), copied, so that it can be held, retried and dead-lettered. */
static int gather(struct consumer *c, rd_kafka_message_t *m, const char *topic)
{
	struct batch *b = &c->cur;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct item *items = realloc(b->items, cap * sizeof *items);
		if (!items)
			return errinfo_set(&c->err, EXIT_SOFTWARE, "out of memory");
		b->items = items;
		b->cap = cap;
	}
	struct item *it = &b->items[b->n];
	memset(it, 0, sizeof *it);
	cekafka_header hs[256];
	rd_kafka_headers_t *hdrs;
	size_t nh = message_headers(m, hs, 256, &hdrs);
	it->topic = strdup(topic);
	it->partition = m->partition;
	it->offset = m->offset;
	if (m->key) {
		it->key = memdup(m->key, m->key_len);
		it->key_len = m->key_len;
	}
	it->value = memdup(m->payload, m->len);
	it->value_len = m->len;
	it->headers = hdrs ? rd_kafka_headers_copy(hdrs) : NULL;
	it->timestamp_ms = rd_kafka_message_timestamp(m, NULL);
	b->n++; /* freed with the batch from here on */
	if (!it->topic || (m->key && !it->key) || !it->value)
		return errinfo_set(&c->err, EXIT_SOFTWARE, "out of memory");

	cekafka_info info;
	errinfo e;
	buf_reset(&c->event);
	int rc = cekafka_decode(hs, nh, m->payload, m->len, &c->event, &info, &e);
	if (rc == EXIT_DATAERR) {
		c->st->undecodable++;
		if (c->metrics)
			consume_metrics_undecodable(c->metrics);
		it->kind = ITEM_BAD;
		if (!(it->bad_reason = strdup(e.text)))
			return errinfo_set(&c->err, EXIT_SOFTWARE, "out of memory");
		return 0;
	}
	if (rc)
		return errinfo_set(&c->err, rc, "%s", e.text);
	cloudevent ev;
	if (ce_parse(&ev, c->event.data, c->event.len, NULL) != 0)
		return errinfo_set(&c->err, EXIT_SOFTWARE, "decoded event does not parse");
	if (c->metrics) {
		char t[256];
		size_t tn = json_string_decode_fixed(ev.type.value, t, sizeof t);
		if (tn != (size_t)-1)
			consume_metrics_event(c->metrics, t, tn);
	}
	if (!type_wanted(c->o, &ev)) {
		it->kind = ITEM_SKIP;
		return 0;
	}
	if (c->dd) {
		if (copy_attr(&ev.source, &it->source, &it->source_len) != 0 ||
		    copy_attr(&ev.id, &it->id, &it->id_len) != 0)
			return errinfo_set(&c->err, EXIT_SOFTWARE, "out of memory");
		uint64_t kh = dedupe_key_hash(it->source, it->source_len, it->id, it->id_len);
		int seen = dedupe_seen(c->dd, kh, it->source, it->source_len, it->id, it->id_len, &e);
		if (seen < 0)
			return errinfo_set(&c->err, -seen, "%s", e.text);
		if (!seen) {
			seen = pending_check_add(&c->pending, kh, it->source, it->source_len, it->id,
						 it->id_len);
			if (seen < 0)
				return errinfo_set(&c->err, EXIT_SOFTWARE, "out of memory");
		}
		if (seen) {
			diag_debug("%s [%" PRId32 "] @%" PRId64 ": duplicate of a handled event (id %s), skipped",
				   topic, m->partition, m->offset, it->id);
			it->kind = ITEM_DUP;
			return 0;
		}
	}
	if (!(it->json = memdup(c->event.data, c->event.len + 1)))
		return errinfo_set(&c->err, EXIT_SOFTWARE, "out of memory");
	it->json_len = c->event.len;
	hop_for(&info, &ev, &it->hop);
	/* The hop's tracestate: the message's header with its traceparent,
	 * else the event's own extension. */
	if (info.has_traceparent && info.tracestate) {
		it->tracestate = memdup(info.tracestate, info.tracestate_len + 1);
		if (it->tracestate) {
			it->tracestate[info.tracestate_len] = '\0';
			it->tracestate_len = info.tracestate_len;
		}
	} else {
		const ce_attr *ts = ce_find_extension(&ev, "tracestate");
		buf t = BUF_INIT(1u << 16);
		if (ts && ce_attr_value(ts, &t) == 0 && t.data) {
			it->tracestate = t.data;
			it->tracestate_len = t.len;
		} else {
			buf_free(&t);
		}
	}
	it->kind = ITEM_HANDLE;
	b->n_handle++;
	c->events++;
	return 0;
}

/* --dedupe: an event's key as found before its decode (early_key_hash). */
struct early_key {
	uint64_t hash; /* 0: no key found */
	const char *id, *source;
	size_t id_len, source_len;
};

/* The body of the JSON string whose opening quote ends just before p, if
 * it is plain (no escape, ASCII, as strscan_plain scans); NULL otherwise. */
static const char *plain_string_at(const char *p, const char *end, size_t *len)
{
	size_t n = (size_t)(end - p);
	size_t k = strscan_plain((const unsigned char *)p, n, 0);
	if (k == n || p[k] != '"')
		return NULL;
	*len = k;
	return p;
}

/* A structured value's id and source, guessed before it is decoded (they
 * may be members of the data): the canonical member order (what
 * outbox-relay and cloudevent-wrap write) read in place, else the first
 * "id":" and "source":" among the first 256 bytes. 1 when both found. */
static int guess_id_source(const char *v, size_t n, struct early_key *k)
{
	static const char canon[] = "{\"specversion\":\"1.0\",\"id\":\"";
	static const char then_source[] = "\",\"source\":\"";
	const char *end = v + n;
	if (n > sizeof canon && memcmp(v, canon, sizeof canon - 1) == 0 &&
	    (k->id = plain_string_at(v + sizeof canon - 1, end, &k->id_len))) {
		const char *q = k->id + k->id_len; /* its closing quote */
		if ((size_t)(end - q) > sizeof then_source &&
		    memcmp(q, then_source, sizeof then_source - 1) == 0)
			return (k->source = plain_string_at(q + sizeof then_source - 1, end,
							    &k->source_len)) != NULL;
	}
	size_t head = n < 256 ? n : 256;
	const char *i = memmem(v, head, "\"id\":\"", 6);
	const char *s = memmem(v, head, "\"source\":\"", 10);
	return i && s && (k->id = plain_string_at(i + 6, end, &k->id_len)) &&
	       (k->source = plain_string_at(s + 10, end, &k->source_len));
}

/* --dedupe: the key's hash before the message is decoded, from the ce_id
 * and ce_source headers (binary mode) or from a guess at the value's
 * "id" and "source" members (structured), with the cache lines that the
 * checks read first (the filter's block, the pending sets' cells) loaded
 * while the decode runs: each is a cache miss, and they were a tenth of
 * the main thread's time. The decode points info's id and source into
 * those header values or that value (cekafka_info); handle_message uses
 * the hash only when they are the same bytes (the same pointers and
 * lengths). */
static void early_key_hash(const struct consumer *c, const cekafka_header *hs, size_t nh,
			   const void *value, size_t value_len, struct early_key *k)
{
	const cekafka_header *hid = NULL, *hsrc = NULL;
	for (size_t i = 0; i < nh; i++) {
		if (hs[i].name_len == 5 && memcmp(hs[i].name, "ce_id", 5) == 0)
			hid = &hs[i];
		else if (hs[i].name_len == 9 && memcmp(hs[i].name, "ce_source", 9) == 0)
			hsrc = &hs[i];
	}
	memset(k, 0, sizeof *k);
	if (hid && hsrc && hid->value && hsrc->value) {
		k->id = hid->value;
		k->id_len = hid->value_len;
		k->source = hsrc->value;
		k->source_len = hsrc->value_len;
	} else if (hid || !value || !guess_id_source(value, value_len, k)) {
		return;
	}
	uint64_t kh = dedupe_key_hash(k->source, k->source_len, k->id, k->id_len);
	dedupe_prefetch(c->dd, kh);
	/* Written out here: GCC takes a function that only prefetches for
	 * one without effects and drops the calls. */
	const struct pending_ids *sets[2] = { &c->pending, &c->recording_pending };
	for (int i = 0; i < 2; i++)
		if (sets[i]->n)
			__builtin_prefetch(&sets[i]->slot[pending_first(sets[i], kh)]);
	k->hash = kh;
}

/* 1 when k was hashed from the very bytes the decode took id and source
 * from: the same pointers and lengths. */
static int early_key_is(const struct early_key *k, const cekafka_info *info)
{
	return k->hash && info->id == k->id && info->id_len == k->id_len &&
	       info->source == k->source && info->source_len == k->source_len;
}

static int handle_message(struct consumer *c, rd_kafka_message_t *m)
{
	const char *topic = rd_kafka_topic_name(m->rkt);
	struct part *p = find_part(c, topic, m->partition, 1);
	if (!p)
		return errinfo_set(&c->err, EXIT_SOFTWARE, "out of memory");
	/* A held partition's messages come again after it resumes. */
	if (p->held)
		return 0;
	p->fetched_next = m->offset + 1;
	c->st->consumed++;
	if (c->o->exit_eof && p->end >= 0 && m->offset + 1 >= p->end)
		p->done = 1;
	if (c->o->handler) {
		int s = gather(c, m, topic);
		if (s)
			return s;
		unsigned max = c->o->batch > 1 ? c->o->batch : 1;
		/* Passengers alone never wait long: settle them in bounded batches. */
		if (c->cur.n_handle >= max || c->cur.n >= 4096)
			return flush_batch(c);
		return 0;
	}

	/* Printed output: decoded straight from the message. */
	cekafka_header hs[256];
	rd_kafka_headers_t *hdrs;
	size_t nh = message_headers(m, hs, 256, &hdrs);
	struct early_key early = { 0 };
	if (c->dd)
		early_key_hash(c, hs, nh, m->payload, m->len, &early);
	cekafka_info info;
	errinfo e;
	buf_reset(&c->event);
	int rc = cekafka_decode(hs, nh, m->payload, m->len, &c->event, &info, &e);
	if (rc) {
		c->st->undecodable++;
		if (c->metrics)
			consume_metrics_undecodable(c->metrics);
		if (rc != EXIT_DATAERR)
			return errinfo_set(&c->err, rc, "%s", e.text);
		if (dlq_enabled(c)) {
			flush_output(c);
			int s = dead_letter(c, topic, m->partition, m->offset,
					    rd_kafka_message_timestamp(m, NULL), m->key, m->key_len,
					    m->payload, m->len, hdrs, 0, e.text, &c->err);
			if (s)
				return s;
		} else {
			diag_error("%s [%" PRId32 "] @%" PRId64 ": not a valid CloudEvent: %s", topic,
				   m->partition, m->offset, e.text);
			c->have_undecodable_skipped = 1;
		}
		mark_handled(c, topic, m->partition, m->offset);
		return 0;
	}
	/* The event printed as it is needs no second parse (cekafka_decode
	 * validated it); filters, metrics and --data-only do, and dedupe when
	 * cekafka_decode could not point at the decoded id and source. */
	cloudevent ev;
	int need_parse = c->o->n_types || c->metrics || c->o->output == CONSUME_OUT_DATA ||
			 (c->dd && !(info.id && info.source));
	if (need_parse && ce_parse(&ev, c->event.data, c->event.len, NULL) != 0)
		return errinfo_set(&c->err, EXIT_SOFTWARE, "decoded event does not parse");
	if (c->metrics) {
		char t[256];
		size_t tn = json_string_decode_fixed(ev.type.value, t, sizeof t);
		if (tn != (size_t)-1)
			consume_metrics_event(c->metrics, t, tn);
	}
	if (need_parse && !type_wanted(c->o, &ev)) {
		c->st->skipped++;
		mark_handled(c, topic, m->partition, m->offset);
		return 0;
	}
	/* source and id live in c->ids until the flush that records them */
	const char *source = NULL, *id = NULL;
	size_t source_len = 0, id_len = 0;
	if (c->dd) {
		if (info.id && info.source ? arena_copy(&c->ids, info.source, info.source_len, &source) != 0 ||
						     arena_copy(&c->ids, info.id, info.id_len, &id) != 0
					   : arena_decode(&c->ids, ev.source.value, &source, &source_len) != 0 ||
						     arena_decode(&c->ids, ev.id.value, &id, &id_len) != 0)
			return errinfo_set(&c->err, EXIT_SOFTWARE, "out of memory");
		if (info.id && info.source) {
			source_len = info.source_len;
			id_len = info.id_len;
		}
		uint64_t kh = early_key_is(&early, &info) ? early.hash
							   : dedupe_key_hash(source, source_len, id, id_len);
		int seen = dedupe_seen(c->dd, kh, source, source_len, id, id_len, &e);
		if (seen < 0)
			return errinfo_set(&c->err, -seen, "%s", e.text);
		/* Printed but not recorded yet: a copy too. */
		if (!seen)
			seen = pending_has(&c->recording_pending, kh, source, source_len, id, id_len);
		if (!seen &&
		    (seen = pending_check_add(&c->pending, kh, source, source_len, id, id_len)) < 0)
			return errinfo_set(&c->err, EXIT_SOFTWARE, "out of memory");
		if (seen) {
			c->st->duplicates++;
			if (c->metrics)
				consume_metrics_duplicate(c->metrics);
			diag_debug("%s [%" PRId32 "] @%" PRId64 ": duplicate of a handled event (id %.*s), skipped",
				   topic, m->partition, m->offset, (int)(id_len > 200 ? 200 : id_len), id);
			mark_handled(c, topic, m->partition, m->offset);
			return 0;
		}
	}
	c->events++;
	int w;
	if (c->o->output == CONSUME_OUT_DATA) {
		/* data bytes are written as they are, one line */
		buf d = BUF_INIT(MAX_EVENT);
		w = ce_data_bytes(&ev, &d) != 0 || outbuf_write(c->o->out, d.data ? d.data : "", d.len) != 0 ||
		    outbuf_write(c->o->out, "\n", 1) != 0;
		buf_free(&d);
	} else if (c->o->output == CONSUME_OUT_WITH_KAFKA) {
		w = write_with_kafka(c->o->out, m, c->event.data, c->event.len) != 0;
	} else {
		w = outbuf_write(c->o->out, c->event.data, c->event.len) != 0 ||
		    outbuf_write(c->o->out, "\n", 1) != 0;
	}
	if (w) {
		/* Not printed: not pending either. */
		pending_clear(&c->pending);
		c->out_failed = 1;
		return 0;
	}
	c->st->handled++;
	if (c->metrics)
		consume_metrics_handled(c->metrics, 1, -1);
	mark_handled(c, topic, m->partition, m->offset);
	if (c->dd) {
		if (c->n_printed == c->cap_printed) {
			size_t cap = c->cap_printed ? c->cap_printed * 2 : 256;
			void *np = realloc(c->printed, cap * sizeof *c->printed);
			if (!np) {
				pending_clear(&c->pending);
				return errinfo_set(&c->err, EXIT_SOFTWARE, "out of memory");
			}
			c->printed = np;
			c->cap_printed = cap;
		}
		c->printed[c->n_printed++] = (dedupe_key){ source, id, source_len, id_len };
	}
	return 0;
}

/* ---- assignment ---- */

static void query_ends(struct consumer *c, rd_kafka_topic_partition_list_t *l)
{
	for (int i = 0; i < l->cnt; i++) {
		rd_kafka_topic_partition_t *tp = &l->elems[i];
		struct part *p = find_part(c, tp->topic, tp->partition, 1);
		if (!p)
			continue;
		p->assigned = 1;
		p->started = 1;
		if (!c->o->exit_eof || p->end >= 0)
			continue;
		int64_t lo = 0, hi = 0;
		rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(c->rk, tp->topic, tp->partition,
									 &lo, &hi, 10000);
		if (e) {
			diag_warn("%s [%" PRId32 "]: end offset: %s", tp->topic, tp->partition,
				  rd_kafka_err2str(e));
			continue;
		}
		p->end = hi;
		if (hi <= lo)
			p->done = 1;
	}
}

/* Starting offsets for --from, applied to partitions seen the first time. */
static int set_start_offsets(struct consumer *c, rd_kafka_topic_partition_list_t *l)
{
	enum consume_from f = c->o->from;
	if (f == CONSUME_FROM_DEFAULT)
		f = c->o->group ? CONSUME_FROM_STORED : CONSUME_FROM_BEGINNING;
	for (int i = 0; i < l->cnt; i++) {
		struct part *p = find_part(c, l->elems[i].topic, l->elems[i].partition, 0);
		int first = !p || !p->started;
		if (!first || f == CONSUME_FROM_STORED)
			l->elems[i].offset = RD_KAFKA_OFFSET_INVALID; /* committed, else auto.offset.reset */
		else if (f == CONSUME_FROM_BEGINNING)
			l->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
		else if (f == CONSUME_FROM_END)
			l->elems[i].offset = RD_KAFKA_OFFSET_END;
		else
			l->elems[i].offset = c->o->from_ms;
	}
	if (f == CONSUME_FROM_TIME) {
		rd_kafka_topic_partition_list_t *q = rd_kafka_topic_partition_list_new(l->cnt);
		for (int i = 0; i < l->cnt; i++)
			if (l->elems[i].offset == c->o->from_ms)
				rd_kafka_topic_partition_list_add(q, l->elems[i].topic, l->elems[i].partition)
					->offset = c->o->from_ms;
		if (q->cnt) {
			rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(c->rk, q, 10000);
			if (e) {
				rd_kafka_topic_partition_list_destroy(q);
				return errinfo_set(&c->err, kafkaconf_exitcode(e) ? kafkaconf_exitcode(e) : EXIT_SOFTWARE,
						   "offsets for --from time: %s", rd_kafka_err2str(e));
			}
			for (int i = 0; i < q->cnt; i++) {
				rd_kafka_topic_partition_t *t = rd_kafka_topic_partition_list_find(
					l, q->elems[i].topic, q->elems[i].partition);
				/* -1: no message at or after the time: start at the end. */
				if (t)
					t->offset = q->elems[i].offset >= 0 ? q->elems[i].offset : RD_KAFKA_OFFSET_END;
			}
		}
		rd_kafka_topic_partition_list_destroy(q);
	}
	return 0;
}

static void forget_assignment(struct consumer *c, rd_kafka_topic_partition_list_t *l)
{
	for (int i = 0; i < l->cnt; i++) {
		struct part *p = find_part(c, l->elems[i].topic, l->elems[i].partition, 0);
		if (p) {
			p->assigned = 0;
			p->held = 0;
			p->done = 1; /* not ours any more: nothing to wait for */
		}
	}
	/* Held batches of given-up partitions: another consumer reads them
	 * again from the committed offset. */
	for (struct batch **pp = &c->held; *pp;) {
		struct batch *b = *pp;
		struct part *p = find_part(c, b->items[0].topic, b->items[0].partition, 0);
		if (p && !p->assigned) {
			*pp = b->next;
			batch_clear(b);
			free(b->items);
			free(b);
		} else {
			pp = &b->next;
		}
	}
	pending_rebuild(c);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *l, void *opaque)
{
	struct consumer *c = opaque;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		if (set_start_offsets(c, l) != 0)
			c->fatal = 1;
		for (int i = 0; i < l->cnt; i++) {
			struct part *p = find_part(c, l->elems[i].topic, l->elems[i].partition, 1);
			if (p) {
				p->done = 0;
				p->end = -1;
				p->handled_next = -1;
				p->done_next = -1;
				p->recording_next = -1;
				p->stored_next = -1;
				p->fetched_next = -1;
			}
		}
		/* End offsets before the fetcher starts: once it long-polls, each
		 * of these requests would wait behind a fetch (0.5 s apiece). */
		query_ends(c, l);
		rd_kafka_assign(rk, l);
		if (!c->assigned_once) /* --idle-timeout counts from here */
			c->last_msg_us = timefmt_now_us();
		c->assigned_once = 1;
		diag_debug("assigned %d partitions", l->cnt);
	} else {
		/* Finished work is committed before the partitions go. */
		flush_output(c);
		commit_sync(c);
		forget_assignment(c, l);
		rd_kafka_assign(rk, NULL);
		diag_debug("revoked %d partitions", l->cnt);
	}
}

/* Without a group: every partition of every topic, from --from. */
static int assign_all(struct consumer *c)
{
	const rd_kafka_metadata_t *md = NULL;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
	int status = 0;
	for (size_t t = 0; t < c->o->n_topics && !status; t++) {
		rd_kafka_topic_t *rkt = rd_kafka_topic_new(c->rk, c->o->topics[t], NULL);
		rd_kafka_resp_err_t e = rd_kafka_metadata(c->rk, 0, rkt, &md, 10000);
		rd_kafka_topic_destroy(rkt);
		if (e) {
			status = errinfo_set(&c->err, kafkaconf_exitcode(e) ? kafkaconf_exitcode(e) : EXIT_SOFTWARE,
					     "%s: %s", c->o->topics[t], rd_kafka_err2str(e));
			break;
		}
		if (md->topic_cnt < 1 || md->topics[0].err) {
			e = md->topic_cnt < 1 ? RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART : md->topics[0].err;
			status = errinfo_set(&c->err, EXIT_CONFIG, "topic %s: %s", c->o->topics[t],
					     rd_kafka_err2str(e));
		} else {
			for (int i = 0; i < md->topics[0].partition_cnt; i++)
				rd_kafka_topic_partition_list_add(l, c->o->topics[t],
								  md->topics[0].partitions[i].id);
		}
		rd_kafka_metadata_destroy(md);
	}
	if (!status)
		status = set_start_offsets(c, l);
	if (!status) {
		/* Before the fetcher starts (see rebalance_cb). */
		query_ends(c, l);
		rd_kafka_resp_err_t e = rd_kafka_assign(c->rk, l);
		if (e)
			status = errinfo_set(&c->err, EXIT_SOFTWARE, "assign: %s", rd_kafka_err2str(e));
	}
	if (!status)
		c->assigned_once = 1;
	rd_kafka_topic_partition_list_destroy(l);
	return status;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *line)
{
	(void)rk;
	(void)level;
	diag_debug("librdkafka: %s: %s", fac, line);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct consumer *c = opaque;
	(void)rk;
	int code = kafkaconf_exitcode((rd_kafka_resp_err_t)err);
	if (err == RD_KAFKA_RESP_ERR__FATAL || code == EXIT_NOPERM) {
		c->fatal = 1;
		errinfo_set(&c->err, code ? code : EXIT_SOFTWARE, "%s", reason);
	} else {
		diag_debug("consumer: %s", reason);
	}
}

static int open_consumer(struct consumer *c)
{
	errinfo *err = &c->err;
	rd_kafka_conf_t *conf = kafkaconf_build(c->o->kc, err);
	if (!conf)
		return err->code;
	char es[512];
	/* librdkafka's consumer wants a group id even for assign(); without
	 * -g it gets a private one that never joins a group or commits. */
	char private_group[64];
	snprintf(private_group, sizeof private_group, "event-consume-%ld-%lld", (long)getpid(),
		 (long long)timefmt_now_us());
	struct {
		const char *k, *v;
	} set[] = {
		{ "enable.auto.offset.store", "false" },
		{ "enable.partition.eof", "true" },
		{ "auto.commit.interval.ms", "1000" },
		{ "auto.offset.reset", "earliest" },
		/* librdkafka prefetches up to 64 MB by default. 2 MB keeps the
		 * pipe full, and peak memory flat and small: a queued message
		 * pins its whole fetch response, so 4 MB held 44-53 MB of RSS
		 * (2 MB: 31 MB; 1 MB: 21 MB, but slower), 1M events, 128
		 * partitions. */
		{ "queued.max.messages.kbytes", "2048" },
		{ "group.id", c->o->group ? c->o->group : private_group },
		{ "enable.auto.commit", c->o->group ? "true" : "false" },
	};
	for (size_t i = 0; i < sizeof set / sizeof set[0]; i++) {
		if (!set[i].v)
			continue;
		/* The user's -X wins over our defaults, except for the settings
		 * the commit-after-handling guarantee rests on. */
		if (i >= 2 && i < 5 && kafkaconf_get(c->o->kc, set[i].k))
			continue;
		if (rd_kafka_conf_set(conf, set[i].k, set[i].v, es, sizeof es) != RD_KAFKA_CONF_OK) {
			rd_kafka_conf_destroy(conf);
			return errinfo_set(err, EXIT_CONFIG, "%s: %s", set[i].k, es);
		}
	}
	/* The group must not drop us while a handler runs: librdkafka counts
	 * time between polls against max.poll.interval.ms. */
	if (c->o->group && c->o->handler && !kafkaconf_get(c->o->kc, "max.poll.interval.ms")) {
		uint64_t need = c->o->handler_timeout_ms + 60000;
		char v[32];
		snprintf(v, sizeof v, "%llu", (unsigned long long)(need > 300000 ? need : 300000));
		if (need > 86400000 ||
		    rd_kafka_conf_set(conf, "max.poll.interval.ms", v, es, sizeof es) != RD_KAFKA_CONF_OK)
			diag_warn("a handler may run longer than max.poll.interval.ms allows; "
				  "set it with -X");
	}
	rd_kafka_conf_set_opaque(conf, c);
	rd_kafka_conf_set_log_cb(conf, log_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	if (c->o->group)
		rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
	c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, es, sizeof es);
	if (!c->rk) {
		rd_kafka_conf_destroy(conf);
		return errinfo_set(err, EXIT_CONFIG, "cannot create the consumer: %s", es);
	}
	rd_kafka_poll_set_consumer(c->rk);
	if (!c->o->group)
		return assign_all(c);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)c->o->n_topics);
	for (size_t i = 0; i < c->o->n_topics; i++)
		rd_kafka_topic_partition_list_add(l, c->o->topics[i], RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t e = rd_kafka_subscribe(c->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (e)
		return errinfo_set(err, EXIT_CONFIG, "subscribe: %s", rd_kafka_err2str(e));
	return 0;
}

/* Lag per assigned partition from the cached end offsets (no broker
 * request), then the file, at most every interval. */
static void write_metrics(struct consumer *c, uint64_t min_ms)
{
	if (!c->metrics)
		return;
	for (size_t i = 0; i < c->n_parts; i++) {
		struct part *p = &c->parts[i];
		int64_t lo = -1, hi = -1;
		if (!p->assigned ||
		    rd_kafka_get_watermark_offsets(c->rk, p->topic, p->partition, &lo, &hi) != 0 || hi < 0)
			continue;
		consume_metrics_lag(c->metrics, p->topic, p->partition,
				    hi - (p->handled_next >= 0 ? p->handled_next : lo));
	}
	int s = consume_metrics_write(c->metrics, min_ms, &c->metrics_err);
	/* The last write (min_ms 0) is not retried: it is the run's error. */
	if (s && !c->metrics_failed && min_ms)
		diag_warn("%s (will retry)", c->metrics_err.text);
	c->metrics_failed = s;
}

/* librdkafka 2.0.2 stops fetching once its queue holds
 * queued.max.messages.kbytes and looks again only when its broker thread
 * wakes, up to a second later (librdkafka #2879; 2.1 added
 * fetch.queue.backoff.ms for it). A consumer slower than the fetcher then
 * drains the queue and waits: most of the run when the queue holds a small
 * part of a second's events. So when the queue is found empty while some
 * partition has messages on the broker that were not fetched yet (the
 * high watermark of the last fetch is beyond the last message read), the
 * leaders of those partitions are asked for their end offsets: the
 * request wakes each broker thread, which then fetches again. Nothing of
 * the consumer's state is touched (no seek, no pause); with data waiting
 * a broker answers at once (a fetch waits only when nothing is there). */
static void nudge_fetcher(struct consumer *c)
{
	/* A broker that did not answer is not asked again for a second: each
	 * question may block the loop for NUDGE_TIMEOUT_MS. */
	if (c->nudge_failed_us && timefmt_now_us() - c->nudge_failed_us < 1000000)
		return;
	rd_kafka_topic_partition_list_t *l = NULL;
	for (size_t i = 0; i < c->n_parts; i++) {
		struct part *p = &c->parts[i];
		int64_t lo, hi;
		if (!p->assigned || p->held || p->fetched_next < 0 ||
		    rd_kafka_get_watermark_offsets(c->rk, p->topic, p->partition, &lo, &hi) != 0 ||
		    hi <= p->fetched_next)
			continue;
		if (!l)
			l = rd_kafka_topic_partition_list_new(16);
		rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset =
			RD_KAFKA_OFFSET_END;
	}
	if (!l)
		return;
	c->nudges++;
	rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(c->rk, l, NUDGE_TIMEOUT_MS);
	c->nudge_failed_us = e ? timefmt_now_us() : 0;
	if (e)
		diag_debug("waking the fetcher: %s", rd_kafka_err2str(e));
	rd_kafka_topic_partition_list_destroy(l);
}

static int all_done(const struct consumer *c)
{
	if (!c->assigned_once)
		return 0;
	for (size_t i = 0; i < c->n_parts; i++)
		if (c->parts[i].assigned && (!c->parts[i].done || c->parts[i].held))
			return 0;
	return !c->held && !c->cur.n;
}

int consume_run(const consume_options *o, volatile sig_atomic_t *stop, consume_stats *st,
		errinfo *err)
{
	struct consumer c;
	memset(&c, 0, sizeof c);
	memset(st, 0, sizeof *st);
	errinfo_clear(err);
	c.o = o;
	c.st = st;
	buf_init(&c.event, 2 * (size_t)MAX_EVENT);
	int status = 0;
	/* Fail fast when no broker answers, as --once tools do. */
	kafkaconf_topics topics = { 0 };
	status = kafkaconf_list_topics(o->kc, 10000, &topics, &c.err);
	if (!status) {
		for (size_t i = 0; i < o->n_topics && !status; i++)
			if (!kafkaconf_topics_find(&topics, o->topics[i]))
				status = errinfo_set(&c.err, EXIT_CONFIG, "topic %s does not exist",
						     o->topics[i]);
	}
	kafkaconf_topics_free(&topics);
	if (!status && o->dedupe_file) {
		c.dd = dedupe_open(o->dedupe_file, 0, &c.err);
		if (!c.dd)
			status = c.err.code;
		else if (dedupe_filter_start(c.dd, &c.err) != 0)
			status = c.err.code;
		else if (o->dedupe_ttl_ms) {
			errinfo e;
			long n = dedupe_expire(c.dd, o->dedupe_ttl_ms, 1000000, &e);
			if (n < 0)
				diag_warn("%s", e.text);
		}
		/* printing: the records are written by a thread (flush_output) */
		if (c.dd && !o->handler && !(c.dw = dedupe_writer_start(o->dedupe_file, &c.err)))
			status = c.err.code;
	}
	if (!status && o->metrics_file) {
		c.metrics = consume_metrics_new(o->metrics_file, o->group, &c.err);
		if (!c.metrics)
			status = c.err.code ? c.err.code : EXIT_SOFTWARE;
	}
	if (!status)
		status = open_consumer(&c);
	c.last_msg_us = c.last_commit_us = c.last_flush_us = timefmt_now_us();
	while (!status && !*stop && !c.fatal && !c.out_failed) {
		if (o->count && c.events >= o->count && !c.held)
			break;
		if (o->exit_eof && all_done(&c))
			break;
		/* coarse: read for every message, for timers of 100 ms or more */
		int64_t now = timefmt_now_coarse_us();
		/* With a group, idle time counts once the group has given us
		 * partitions (joining takes seconds). */
		if (o->idle_timeout_ms && c.assigned_once &&
		    now - c.last_msg_us >= (int64_t)o->idle_timeout_ms * 1000 && !c.held)
			break;
		status = retry_due(&c);
		if (status)
			break;
		/* A retry may have finished the -c events: take no more. */
		if (o->count && c.events >= o->count && !c.held)
			break;
		if (c.metrics)
			write_metrics(&c, 5000);
		/* A consumer slower than the fetcher may never find the queue
		 * empty: flush (and so store offsets and record dedupe entries)
		 * at least every FLUSH_EVERY_MS too. */
		int flushing = !o->handler && (now - c.last_flush_us >= FLUSH_EVERY_MS * 1000 ||
					       c.n_printed - c.n_printed_flushed >= FLUSH_EVERY_EVENTS);
		if (flushing && flush_output_mode(&c, 0) != 0)
			break;
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c.rk, 0);
		/* A message was waiting: the time read above is the time it
		 * came, unless a flush (a slow pipe) ran since. */
		int64_t got_us = flushing ? timefmt_now_coarse_us() : now;
		if (!m) {
			/* Nothing waiting: wake the fetcher first, so that its
			 * fetch runs while we flush what is done before blocking. */
			nudge_fetcher(&c);
			if (flush_output_mode(&c, 0) != 0)
				break;
			if ((status = flush_batch(&c)) != 0)
				break;
			int timeout = 100;
			int64_t r = next_retry_us(&c);
			if (r >= 0) {
				int64_t left = (r - timefmt_now_us()) / 1000;
				if (left < timeout)
					timeout = left < 0 ? 0 : (int)left;
			}
			m = rd_kafka_consumer_poll(c.rk, timeout);
			if (!m)
				continue;
			got_us = timefmt_now_coarse_us();
		}
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			struct part *p = find_part(&c, rd_kafka_topic_name(m->rkt), m->partition, 0);
			if (p && p->end >= 0 && m->offset >= p->end)
				p->done = 1;
		} else if (m->err) {
			int code = kafkaconf_exitcode(m->err);
			if (code == EXIT_NOPERM || code == EXIT_CONFIG) {
				status = errinfo_set(&c.err, code, "%s", rd_kafka_message_errstr(m));
			} else {
				diag_debug("consumer: %s", rd_kafka_message_errstr(m));
			}
		} else {
			c.last_msg_us = got_us;
			status = handle_message(&c, m);
		}
		rd_kafka_message_destroy(m);
		if (!status && o->count && c.events >= o->count) {
			status = flush_batch(&c);
		}
	}
	if (!status && c.fatal)
		status = c.err.code ? c.err.code : EXIT_SOFTWARE;
	diag_debug("the fetcher was woken %lu times", c.nudges);
	flush_output(&c);
	/* A batch still being gathered was not started: on a signal it stays
	 * uncommitted and comes again; otherwise (-c, --exit-eof) run it. */
	if (!status && !c.out_failed && !*stop)
		status = flush_batch(&c);
	/* Before the close: revoking the partitions forgets held batches. */
	int waiting = c.held != NULL;
	if (c.rk) {
		commit_sync(&c);
		write_metrics(&c, 0);
		rd_kafka_consumer_close(c.rk);
		rd_kafka_destroy(c.rk);
	}
	if (c.dlq) {
		rd_kafka_flush(c.dlq, 10000);
		rd_kafka_destroy(c.dlq);
	}
	while (c.held) {
		struct batch *b = c.held;
		c.held = b->next;
		batch_clear(b);
		free(b->items);
		free(b);
	}
	batch_clear(&c.cur);
	free(c.cur.items);
	dedupe_writer_stop(c.dw); /* flush_output waited for its last job */
	free(c.printed);
	arena_free(&c.ids);
	pending_free(&c.pending);
	free(c.recording);
	arena_free(&c.recording_ids);
	pending_free(&c.recording_pending);
	for (size_t i = 0; i < c.n_parts; i++)
		free(c.parts[i].topic);
	free(c.parts);
	dedupe_close(c.dd);
	consume_metrics_free(c.metrics);
	buf_free(&c.event);
	if (status) {
		*err = c.err;
		return status;
	}
	if (c.out_failed)
		return o->out->err == EPIPE ? 0
					    : errinfo_set(err, EXIT_IOERR, "standard output: %s",
							  strerror(o->out->err));
	if (waiting)
		return errinfo_set(err, EXIT_TEMPFAIL,
				   "stopped with events waiting for a retry; they come again next time");
	if (c.metrics_failed) {
		*err = c.metrics_err;
		return c.metrics_failed;
	}
	if (c.have_undecodable_skipped)
		return errinfo_set(err, EXIT_DATAERR,
				   "some messages were not valid CloudEvents or could not be handled "
				   "(reported above)");
	return 0;
}
