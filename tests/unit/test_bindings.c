/* test_bindings.c - unit tests of lib/bindings.c and lib/bindings_yaml.c */
#include "bindings.h"
#include "exitcode.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bindings *parse(const char *text, errinfo *err)
{
	errinfo_clear(err);
	return bindings_parse(text, strlen(text), "f", NULL, NULL, err);
}

static void test_defaults(void)
{
	errinfo err = { 0 };
	unsetenv("EVENT_BINDINGS");
	bindings *t = bindings_load(NULL, &err);
	CHECK(t != NULL);
	if (!t)
		return;
	CHECK_STR(bindings_source(t), BINDINGS_BUILTIN_NAME);
	CHECK_INT(bindings_count(t), 8);
	static const char *const types[] = { "WalletCreatedEvent", "FundsAddedEvent",
					     "FundsWithdrawnEvent", "FundsTransferredEvent" };
	static const char *const names[] = { "walletCreatedEventProducer-out-0", "fundsAddedEventProducer-out-0",
					     "fundsWithdrawnEventProducer-out-0", "fundsTransferredEventProducer-out-0" };
	static const char *const topics[] = { "wallet-created-events", "funds-added-events",
					      "funds-withdrawn-events", "funds-transferred-events" };
	static const char *const consumers[] = { "walletCreatedEventConsumer-in-0", "fundsAddedEventConsumer-in-0",
						 "fundsWithdrawnEventConsumer-in-0", "fundsTransferredEventConsumer-in-0" };
	for (int i = 0; i < 4; i++) {
		const binding *b = bindings_resolve(t, types[i], strlen(types[i]));
		CHECK(b != NULL);
		if (!b)
			continue;
		CHECK_STR(b->name, names[i]);
		CHECK_STR(b->topic, topics[i]);
		CHECK_INT(b->mode, BINDING_MODE_BINARY);
		CHECK_INT(b->key, BINDING_KEY_PARTITIONKEY);
		const binding *c = bindings_find(t, consumers[i]);
		CHECK(c != NULL && c->kind == BINDING_CONSUMER);
		if (c) {
			CHECK_STR(c->topic, topics[i]);
			CHECK_STR(c->group, "wallet-hub-consumers");
		}
	}
	/* "none" is an answer: unknown, case-different, prefix. */
	CHECK(bindings_resolve(t, "walletCreatedEvent", 18) == NULL);
	CHECK(bindings_resolve(t, "WalletCreated", 13) == NULL);
	CHECK(bindings_resolve(t, "", 0) == NULL);
	/* The length is what counts, not a NUL. */
	CHECK(bindings_resolve(t, "FundsAddedEventX", 15) != NULL);
	bindings_free(t);

	/* An empty EVENT_BINDINGS means unset. */
	setenv("EVENT_BINDINGS", "", 1);
	t = bindings_load(NULL, &err);
	CHECK(t && bindings_count(t) == 8);
	bindings_free(t);
	unsetenv("EVENT_BINDINGS");
}

static void test_syntax(void)
{
	errinfo err;
	bindings *t = parse("# comment\n\n   \t\n"
			    "producer A a-out-0 topic-a   # trailing comment\r\n"
			    "\tproducer\tB\tb-out-0\ttopic.b\tmode=structured\tkey=subject\n"
			    "producer C c-out-0 t_c key=data:/x/0/~1y mode=binary\n"
			    "producer D c-out-0 t_c key=none\n"
			    "producer café-✓ e-out-0 t key=id\n"
			    "consumer a-in-0 topic-a g1\n"
			    "consumer b-in-0 topic.b group:with:colons", &err);
	CHECK(t != NULL);
	if (!t) {
		printf("# %s\n", err.text);
		return;
	}
	CHECK_INT(bindings_count(t), 7);
	const binding *b = bindings_at(t, 0);
	CHECK_STR(b->event_type, "A");
	CHECK_STR(b->topic, "topic-a");
	CHECK_INT(b->line, 4);
	CHECK_STR(b->key_rule, "partitionkey");
	b = bindings_resolve(t, "B", 1);
	CHECK(b && b->mode == BINDING_MODE_STRUCTURED && b->key == BINDING_KEY_SUBJECT);
	CHECK(b && b->line == 5);
	b = bindings_resolve(t, "C", 1);
	CHECK(b && b->key == BINDING_KEY_DATA);
	if (b) {
		CHECK_STR(b->key_pointer, "/x/0/~1y");
		CHECK_STR(b->key_rule, "data:/x/0/~1y");
	}
	b = bindings_resolve(t, "D", 1);
	CHECK(b && b->key == BINDING_KEY_NONE && strcmp(b->name, "c-out-0") == 0);
	b = bindings_resolve(t, "café-✓", strlen("café-✓"));
	CHECK(b && b->key == BINDING_KEY_ID);
	b = bindings_find(t, "c-out-0");
	CHECK(b && strcmp(b->event_type, "C") == 0); /* the first of a shared binding */
	b = bindings_find(t, "b-in-0");
	CHECK(b && strcmp(b->group, "group:with:colons") == 0);
	CHECK(bindings_find(t, "nope") == NULL);
	bindings_free(t);

	/* Empty and comment-only files are valid, empty tables. */
	t = parse("", &err);
	CHECK(t && bindings_count(t) == 0);
	bindings_free(t);
	t = parse("# nothing\n", &err);
	CHECK(t && bindings_count(t) == 0);
	bindings_free(t);
}

static void test_errors(void)
{
	static const struct {
		const char *text;
		const char *msg; /* expected error text */
	} cases[] = {
		{ "bogus a b c\n", "f:1: unknown directive \"bogus\": expected producer or consumer" },
		{ "\nproducer A a\n", "f:2: producer takes EVENT-TYPE BINDING TOPIC [mode=...] [key=...]: 2 fields given" },
		{ "producer A a t mode=binary key=id x=y\n", "f:1: too many fields" },
		{ "consumer a t\n", "f:1: consumer takes BINDING TOPIC GROUP: 2 fields given" },
		{ "consumer a t g extra\n", "f:1: consumer takes BINDING TOPIC GROUP: 4 fields given" },
		{ "producer A a t mode=text\n", "f:1: bad mode \"text\": expected binary or structured" },
		{ "producer A a t color=red\n", "f:1: unknown option \"color\"" },
		{ "producer A a t structured\n", "f:1: bad option \"structured\": expected mode=... or key=..." },
		{ "producer A a t mode=binary mode=binary\n", "f:1: option mode given twice" },
		{ "producer A a t key=id key=id\n", "f:1: option key given twice" },
		{ "producer A a t key=offset\n", "f:1: bad key rule \"offset\": expected partitionkey, subject, id, data:/POINTER or none" },
		{ "producer A a t key=data:x\n", "f:1: bad key rule \"data:x\": not a JSON Pointer (RFC 6901)" },
		{ "producer A a t key=data:/a~2\n", "f:1: bad key rule \"data:/a~2\": not a JSON Pointer (RFC 6901)" },
		{ "producer A a bad/topic\n", "f:1: invalid topic name \"bad/topic\": Kafka allows 1 to 249 of [a-zA-Z0-9._-], not \".\" or \"..\"" },
		{ "producer A a .\n", "f:1: invalid topic name \".\": Kafka allows 1 to 249 of [a-zA-Z0-9._-], not \".\" or \"..\"" },
		{ "consumer a .. g\n", "f:1: invalid topic name \"..\": Kafka allows 1 to 249 of [a-zA-Z0-9._-], not \".\" or \"..\"" },
		{ "producer A a:b t\n", "f:1: invalid binding name \"a:b\": use 1 to 255 of [A-Za-z0-9._-]" },
		{ "producer A a t\nproducer A b t\n", "f:2: duplicate event type A (first bound at line 1)" },
		{ "producer A a t\n#\nproducer B a u\n", "f:3: binding a already sends to topic t (line 1), not u" },
		{ "consumer a t g\nconsumer a t g\n", "f:2: duplicate binding name a (first defined as a consumer at line 1)" },
		{ "producer A a t\nconsumer a t g\n", "f:2: duplicate binding name a (first defined as a producer at line 1)" },
		{ "consumer a t g\nproducer A a t\n", "f:2: duplicate binding name a (first defined as a consumer at line 1)" },
		{ "producer A\x01 a t\n", "f:1: control character 0x01 in line" },
		{ "producer A\xff a t\n", "f:1: invalid UTF-8 at byte 11" },
		{ "producer A a t\r\r\n", "f:1: control character 0x0d in line" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		errinfo err;
		bindings *t = parse(cases[i].text, &err);
		CHECK(t == NULL);
		bindings_free(t);
		CHECK_INT(err.code, EXIT_CONFIG);
		CHECK_STR(err.text, cases[i].msg);
	}
	/* NUL bytes, long lines, long topics and names. */
	errinfo err;
	bindings *t = bindings_parse("producer A a t\nproducer B\0 b t\n", 31, "f", NULL, NULL, &err);
	CHECK(t == NULL);
	CHECK_STR(err.text, "f:2: NUL byte in line");
	char big[BINDINGS_MAX_LINE + 64];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	t = parse(big, &err);
	CHECK(t == NULL);
	CHECK_STR(err.text, "f:1: line too long (more than 8192 bytes)");
	char line[600];
	snprintf(line, sizeof line, "producer A a %.*s\n", 249, big);
	t = parse(line, &err);
	CHECK(t != NULL);
	bindings_free(t);
	snprintf(line, sizeof line, "producer A a %.*s\n", 250, big);
	t = parse(line, &err);
	CHECK(t == NULL);
	snprintf(line, sizeof line, "consumer %.*s t g\n", 255, big);
	t = parse(line, &err);
	CHECK(t != NULL);
	bindings_free(t);
	snprintf(line, sizeof line, "consumer %.*s t g\n", 256, big);
	t = parse(line, &err);
	CHECK(t == NULL);
	snprintf(line, sizeof line, "consumer b t %.*s\n", 256, big);
	t = parse(line, &err);
	CHECK(t == NULL);
	CHECK_STR(err.text, "f:1: group too long (more than 255 bytes)");
}

struct collected {
	int n_err, n_warn;
	char text[2048];
};

static void collect(void *arg, int severity, const char *file, unsigned long line, const char *msg)
{
	struct collected *c = arg;
	if (severity == BINDINGS_ERROR)
		c->n_err++;
	else
		c->n_warn++;
	size_t n = strlen(c->text);
	snprintf(c->text + n, sizeof c->text - n, "%s %s:%lu: %s\n",
		 severity == BINDINGS_ERROR ? "E" : "W", file, line, msg);
}

static void test_report(void)
{
	struct collected c = { 0 };
	errinfo err;
	const char *text = "bogus\nproducer A a t\nproducer A b t\nconsumer c t\n";
	bindings *t = bindings_parse(text, strlen(text), "f", collect, &c, &err);
	CHECK(t == NULL);
	CHECK_INT(c.n_err, 3);
	CHECK_INT(c.n_warn, 0); /* warnings only for a file without errors */
	CHECK_STR(err.text, "f:1: unknown directive \"bogus\": expected producer or consumer");
	CHECK(strstr(c.text, "E f:3: duplicate event type A") != NULL);
	CHECK(strstr(c.text, "E f:4: consumer takes") != NULL);

	memset(&c, 0, sizeof c);
	text = "producer A a orders.eu\nproducer B b orders_eu\nproducer C c paid\n"
	       "consumer x orders.eu g\nconsumer y orders_eu g\n";
	t = bindings_parse(text, strlen(text), "f", collect, &c, &err);
	CHECK(t != NULL);
	bindings_free(t);
	CHECK_INT(c.n_err, 0);
	CHECK_INT(c.n_warn, 2);
	CHECK(strstr(c.text, "W f:2: topics orders.eu (line 1) and orders_eu collide") != NULL);
	CHECK(strstr(c.text, "W f:3: topic paid has no consumer binding") != NULL);
}

static void test_resolve_many(void)
{
	enum { N = 10000, ROUNDS = 30 };
	buf text = BUF_INIT(4u << 20);
	for (int i = 0; i < N; i++)
		CHECK(buf_printf(&text, "producer Type%d.v1 binding-%d-out-0 topic-%d\n", i, i, i % 100) == 0);
	errinfo err;
	bindings *t = bindings_parse(text.data, text.len, "big", NULL, NULL, &err);
	buf_free(&text);
	CHECK(t != NULL);
	if (!t)
		return;
	CHECK_INT(bindings_count(t), N);
	char type[64];
	int found = 0;
	/* 300k lookups: a linear scan would make 1.5e9 comparisons (many
	 * seconds); a hash lookup does it in milliseconds, even under ASan. */
	clock_t start = clock();
	for (int r = 0; r < ROUNDS; r++)
		for (int i = 0; i < N; i++) {
			int n = snprintf(type, sizeof type, "Type%d.v1", i);
			const binding *b = bindings_resolve(t, type, (size_t)n);
			found += b && b->line == (unsigned long)i + 1;
		}
	double secs = (double)(clock() - start) / CLOCKS_PER_SEC;
	CHECK_INT(found, N * ROUNDS);
	CHECK(secs < 2.0);
	CHECK(bindings_resolve(t, "Type10000.v1", 12) == NULL);
	const binding *b = bindings_find(t, "binding-9999-out-0");
	CHECK(b && b->line == N);
	bindings_free(t);
}

static const binding *producer(bindings **t, const char *rule)
{
	char text[256];
	snprintf(text, sizeof text, "producer T b t%s%s\n", rule ? " key=" : "", rule ? rule : "");
	errinfo err;
	*t = parse(text, &err);
	return *t ? bindings_resolve(*t, "T", 1) : NULL;
}

static void check_key(const char *rule, const char *event, int want_rc, const char *want)
{
	bindings *t;
	const binding *b = producer(&t, rule);
	CHECK(b != NULL);
	cloudevent ev;
	ce_error ce;
	int parsed = ce_parse(&ev, event, strlen(event), &ce);
	CHECK_INT(parsed, 0);
	if (b && parsed == 0) {
		buf out = BUF_INIT(1024);
		int rc = bindings_key(b, &ev, &out);
		if (rc != want_rc)
			printf("# rule %s on %s\n", rule ? rule : "(default)", event);
		CHECK_INT(rc, want_rc);
		CHECK_STR(out.data ? out.data : "", want);
		buf_free(&out);
	}
	bindings_free(t);
}

#define EV(rest) "{\"specversion\":\"1.0\",\"id\":\"id-1\",\"source\":\"/s\",\"type\":\"T\"" rest "}"

static void test_keys(void)
{
	check_key(NULL, EV(",\"partitionkey\":\"w-1\""), 1, "w-1");
	check_key(NULL, EV(""), 0, "");
	check_key("partitionkey", EV(",\"partitionkey\":\"a\\u00e9\\\"\""), 1, "a\xc3\xa9\"");
	check_key("partitionkey", EV(",\"partitionkey\":42"), 1, "42");
	check_key("partitionkey", EV(",\"partitionkey\":true"), 1, "true");
	check_key("partitionkey", EV(",\"partitionkey\":\"\""), 1, "");
	check_key("subject", EV(",\"subject\":\"wallet/7\""), 1, "wallet/7");
	check_key("subject", EV(",\"partitionkey\":\"p\""), 0, "");
	check_key("id", EV(""), 1, "id-1");
	check_key("none", EV(",\"partitionkey\":\"p\""), 0, "");
	check_key("data:/walletId", EV(",\"data\":{\"walletId\":\"w-9\",\"n\":1}"), 1, "w-9");
	check_key("data:/n", EV(",\"data\":{\"walletId\":\"w-9\",\"n\":-1.5e3}"), 1, "-1.5e3");
	check_key("data:/a/1", EV(",\"data\":{\"a\":[true,false]}"), 1, "false");
	check_key("data:/a~1b", EV(",\"data\":{\"a/b\":\"x\"}"), 1, "x");
	check_key("data:", EV(",\"data\":\"whole\""), 1, "whole");
	check_key("data:/o", EV(",\"data\":{\"o\":{\"k\":1}}"), 0, "");
	check_key("data:/o", EV(",\"data\":{\"o\":null}"), 0, "");
	check_key("data:/missing", EV(",\"data\":{\"o\":1}"), 0, "");
	check_key("data:/o", EV(""), 0, "");
	check_key("data:/o", EV(",\"data_base64\":\"AAAA\""), 0, "");

	/* A full buffer leaves it unchanged. */
	bindings *t;
	const binding *b = producer(&t, "id");
	cloudevent ev;
	ce_error ce;
	const char *text = EV("");
	CHECK(b && ce_parse(&ev, text, strlen(text), &ce) == 0);
	if (b) {
		buf out = BUF_INIT(5);
		CHECK(buf_puts(&out, "ab") == 0);
		CHECK_INT(bindings_key(b, &ev, &out), -1);
		CHECK_STR(out.data, "ab");
		buf_free(&out);
	}
	bindings_free(t);
}

static void test_load(void)
{
	errinfo err;
	char dir[] = "/tmp/test_bindings.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[256];
	snprintf(path, sizeof path, "%s/b.conf", dir);

	errinfo_clear(&err);
	CHECK(bindings_load(path, &err) == NULL);
	CHECK_INT(err.code, EXIT_NOINPUT);
	CHECK(strstr(err.text, "No such file") != NULL);

	setenv("EVENT_BINDINGS", path, 1);
	errinfo_clear(&err);
	CHECK(bindings_load(NULL, &err) == NULL);
	CHECK_INT(err.code, EXIT_NOINPUT);
	CHECK(strstr(err.text, "(from EVENT_BINDINGS)") != NULL);

	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("producer X x-out-0 xs\nbad line\n", f);
		fclose(f);
	}
	errinfo_clear(&err);
	CHECK(bindings_load(NULL, &err) == NULL);
	CHECK_INT(err.code, EXIT_CONFIG);
	char want[400];
	snprintf(want, sizeof want, "%s:2: unknown directive \"bad\": expected producer or consumer", path);
	CHECK_STR(err.text, want);

	f = fopen(path, "w");
	if (f) {
		fputs("producer X x-out-0 xs", f);
		fclose(f);
	}
	bindings *t = bindings_load(NULL, &err);
	CHECK(t && bindings_count(t) == 1 && strcmp(bindings_source(t), path) == 0);
	bindings_free(t);
	unsetenv("EVENT_BINDINGS");
	t = bindings_load(path, &err);
	CHECK(t && bindings_count(t) == 1);
	bindings_free(t);

	errinfo_clear(&err);
	CHECK(bindings_load(dir, &err) == NULL);
	CHECK_INT(err.code, EXIT_IOERR); /* a directory: there, but not a file */
	unlink(path);
	rmdir(dir);
}

/* The seed's configuration block, as in seed/000_*.txt. */
static const char seed_yaml[] =
	"spring:\n"
	"  cloud:\n"
	"    stream:\n"
	"      function:\n"
	"        definition: walletCreatedEventConsumer;fundsAddedEventConsumer\n"
	"      \n"
	"      bindings:\n"
	"        # Producer bindings\n"
	"        walletCreatedEventProducer-out-0:\n"
	"          destination: wallet-created-events\n"
	"          content-type: application/json\n"
	"        fundsAddedEventProducer-out-0:\n"
	"          destination: funds-added-events\n"
	"          content-type: application/json\n"
	"        fundsWithdrawnEventProducer-out-0:\n"
	"          destination: funds-withdrawn-events\n"
	"          content-type: application/json\n"
	"        fundsTransferredEventProducer-out-0:\n"
	"          destination: funds-transferred-events\n"
	"          content-type: application/json\n"
	"        walletCreatedEventConsumer-in-0:\n"
	"          destination: wallet-created-events\n"
	"          group: wallet-hub-consumers\n"
	"        fundsAddedEventConsumer-in-0:\n"
	"          destination: funds-added-events\n"
	"          group: wallet-hub-consumers\n"
	"        fundsWithdrawnEventConsumer-in-0:\n"
	"          destination: funds-withdrawn-events\n"
	"          group: wallet-hub-consumers\n"
	"        fundsTransferredEventConsumer-in-0:\n"
	"          destination: funds-transferred-events\n"
	"          group: wallet-hub-consumers\n"
	"      kafka:\n"
	"        binder:\n"
	"          brokers: ${KAFKA_BROKERS:localhost:9092}\n"
	"        producer:\n"
	"          properties:\n"
	"            spring.json.type.mapping: walletCreatedEvent:dev.bloco.WalletCreatedEvent\n";

static int import(const char *yaml, buf *out, struct collected *c, errinfo *err)
{
	errinfo_clear(err);
	buf_reset(out);
	return bindings_import_spring_text(yaml, strlen(yaml), "app.yml", out, collect, c, err);
}

static int same_tables(const bindings *a, const bindings *b)
{
	if (bindings_count(a) != bindings_count(b))
		return 0;
	for (size_t i = 0; i < bindings_count(a); i++) {
		const binding *x = bindings_at(a, i), *y = bindings_at(b, i);
		if (x->kind != y->kind || strcmp(x->name, y->name) || strcmp(x->topic, y->topic) ||
		    (x->event_type && strcmp(x->event_type, y->event_type)) ||
		    (x->group && strcmp(x->group, y->group)) || x->mode != y->mode || x->key != y->key)
			return 0;
	}
	return 1;
}

static void test_import_seed(void)
{
	buf out = BUF_INIT(1 << 20);
	struct collected c = { 0 };
	errinfo err;
	CHECK_INT(import(seed_yaml, &out, &c, &err), 0);
	CHECK_INT(c.n_warn, 0);
	CHECK(strstr(out.data, "# line 9: event type WalletCreatedEvent derived from function "
			       "walletCreatedEventProducer\n") != NULL);
	bindings *got = bindings_parse(out.data, out.len, "import", NULL, NULL, &err);
	bindings *want = bindings_parse(bindings_defaults_text(), strlen(bindings_defaults_text()),
					"defaults", NULL, NULL, &err);
	CHECK(got && want && same_tables(got, want));
	bindings_free(got);
	bindings_free(want);
	buf_free(&out);
}

static void test_import_forms(void)
{
	buf out = BUF_INIT(1 << 20);
	struct collected c = { 0 };
	errinfo err;
	/* Dotted keys, flow style, anchors, placeholders, structured mode,
	 * later documents overriding, skipped bindings. */
	const char *yaml =
		"spring.cloud.stream.bindings.orderPlacedProducer-out-0.destination: ${ORDERS:orders}\n"
		"spring.cloud.stream.bindings.orderPlacedProducer-out-0.content-type: application/cloudevents+json\n"
		"spring:\n"
		"  cloud.stream:\n"
		"    bindings:\n"
		"      audit-out-1: { destination: &a audit, contentType: application/json }\n"
		"      auditConsumer-in-0: { destination: *a, group: '${G:auditors}' }\n"
		"      anon-in-0: { destination: x }\n"
		"      weird: { destination: y }\n"
		"---\n"
		"spring.cloud.stream.bindings.audit-out-1.destination: audit2\n";
	CHECK_INT(import(yaml, &out, &c, &err), 0);
	if (err.code)
		printf("# %s\n", err.text);
	CHECK_INT(c.n_warn, 2);
	CHECK(strstr(c.text, "W app.yml:8: binding anon-in-0 has no group") != NULL);
	CHECK(strstr(c.text, "W app.yml:9: binding weird is neither NAME-out-N nor NAME-in-N") != NULL);
	CHECK(strstr(out.data, "producer OrderPlaced orderPlacedProducer-out-0 orders mode=structured\n") != NULL);
	CHECK(strstr(out.data, "# line 1: destination orders is the default of ${ORDERS:orders}\n") != NULL);
	CHECK(strstr(out.data, "# line 6: event type Audit derived from function audit (no \"Producer\" suffix)\n") != NULL);
	CHECK(strstr(out.data, "producer Audit audit-out-1 audit2\n") != NULL);
	CHECK(strstr(out.data, "consumer auditConsumer-in-0 audit auditors\n") != NULL);
	CHECK(strstr(out.data, "# line 8: anon-in-0 skipped: no group\n") != NULL);
	buf_free(&out);
}

static void test_import_errors(void)
{
	static const struct {
		const char *yaml;
		const char *msg;
	} cases[] = {
		{ "spring:\n  cloud:\n    stream:\n      bindings:\n        a-out-0:\n          group: g\n",
		  "app.yml:5: binding a-out-0 has no destination" },
		{ "spring:\n  cloud:\n    stream:\n      bindings:\n        a-in-0:\n          group: g\n"
		  "          destination: not/valid\n",
		  "app.yml:7: destination \"not/valid\" of binding a-in-0 is not a valid Kafka topic name" },
		{ "spring:\n  cloud:\n    stream:\n      bindings:\n        a-out-0:\n          destination: [x]\n",
		  "app.yml:6: destination of binding a-out-0 must be a single value" },
		{ "spring:\n  cloud:\n    stream:\n      bindings:\n        a-out-0:\n          destination: ${T}\n",
		  "app.yml:6: destination ${T} of binding a-out-0 is a placeholder without a default" },
		{ "spring:\n  cloud:\n    stream:\n      bindings:\n        'a b-out-0':\n          destination: t\n",
		  "app.yml:5: binding name \"a b-out-0\" is not usable: use 1 to 255 of [A-Za-z0-9._-]" },
		{ "spring:\n  cloud:\n    stream:\n      bindings:\n        fooProducer-out-0: {destination: a}\n"
		  "        foo-out-1: {destination: b}\n",
		  "app.yml:6: binding foo-out-1 gives event type Foo, as binding fooProducer-out-0 (line 5) does" },
		{ "spring:\n  cloud:\n    stream:\n      bindings:\n        a-in-0: {destination: a, group: 'x y'}\n",
		  "app.yml:5: group of binding a-in-0 must be 1 to 255 bytes without spaces" },
		{ "spring:\n  cloud: {}\n", "app.yml: no bindings under spring.cloud.stream.bindings" },
		{ "", "app.yml: no bindings under spring.cloud.stream.bindings" },
		{ "spring:\n  cloud:\n   stream: x\n  bad: [\n", "app.yml:5: invalid YAML: did not find expected node content while parsing a flow node (line 5)" },
		{ "a: b\n c: d\n", "app.yml:2: invalid YAML: mapping values are not allowed in this context" },
	};
	buf out = BUF_INIT(1 << 20);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct collected c = { 0 };
		errinfo err;
		int rc = import(cases[i].yaml, &out, &c, &err);
		CHECK_INT(rc, EXIT_DATAERR);
		CHECK_STR(err.text, cases[i].msg);
		CHECK_INT(out.len, 0);
	}
	/* An alias bomb is bounded, not expanded into memory. */
	const char *bomb =
		"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		"spring: {cloud: {stream: {bindings: {x: &g {y: *f, z: *f}, w: {a: *g, b: *g}}}}}\n";
	struct collected c = { 0 };
	errinfo err;
	import(bomb, &out, &c, &err);
	CHECK(err.code == EXIT_DATAERR || err.code == 0);
	buf_free(&out);
}

static void test_validators(void)
{
	CHECK(bindings_topic_valid("a", 1));
	CHECK(bindings_topic_valid("a.b_c-D9", 8));
	CHECK(!bindings_topic_valid("", 0));
	CHECK(!bindings_topic_valid(".", 1));
	CHECK(!bindings_topic_valid("..", 2));
	CHECK(bindings_topic_valid("...", 3));
	CHECK(!bindings_topic_valid("a b", 3));
	CHECK(!bindings_topic_valid("é", 2));
	CHECK(bindings_name_valid("walletCreatedEventProducer-out-0", 32));
	CHECK(!bindings_name_valid("a:b", 3));
	CHECK_STR(bindings_mode_name(BINDING_MODE_BINARY), "binary");
	CHECK_STR(bindings_mode_name(BINDING_MODE_STRUCTURED), "structured");
}

int main(void)
{
	RUN(test_defaults);
	RUN(test_syntax);
	RUN(test_errors);
	RUN(test_report);
	RUN(test_resolve_many);
	RUN(test_keys);
	RUN(test_load);
	RUN(test_import_seed);
	RUN(test_import_forms);
	RUN(test_import_errors);
	RUN(test_validators);
	return unit_done();
}
