/* test_cloudevent.c - unit tests of lib/cloudevent.c, including every
 * vector of the CloudEvents JSON-format conformance suite, read at run time
 * from $SHARED_DIR/conformance (tests/run sets it; default ../shared, as
 * tests run from the repository root). */
#include <cJSON.h>
#include <stdint.h>
#include <stdlib.h>

#include "cloudevent.h"
#include "timefmt.h"
#include "unit.h"

#define CONFORMANCE "/conformance/cloudevents-json/"

/* Parse from a heap copy of exactly len bytes (ASan sees over-reads). The
 * copy is kept in *keep so the event's spans stay valid; free it after. */
static int parse_copy(cloudevent *ev, const char *s, size_t len, ce_error *err, char **keep)
{
	char *c = malloc(len ? len : 1);
	if (!c)
		return -2;
	memcpy(c, s, len);
	*keep = c;
	return ce_parse(ev, c, len, err);
}

static int parse_str(cloudevent *ev, const char *s, ce_error *err, char **keep)
{
	return parse_copy(ev, s, strlen(s), err, keep);
}

/* Expect a rejection naming attr, and, if text is given, a text holding it. */
static int rejects(const char *json, const char *attr, const char *text)
{
	cloudevent ev;
	ce_error err;
	char *keep = NULL;
	memset(&err, 0, sizeof err);
	int r = parse_str(&ev, json, &err, &keep);
	free(keep);
	int ok = r == -1 && strcmp(err.attribute, attr) == 0 && (!text || strstr(err.text, text));
	if (!ok)
		printf("# %s\n#   -> r=%d attribute \"%s\" text \"%s\"; want \"%s\" \"%s\"\n", json, r,
		       err.attribute, err.text, attr, text ? text : "");
	return ok;
}

static int accepts(const char *json)
{
	cloudevent ev;
	ce_error err;
	char *keep = NULL;
	int r = parse_str(&ev, json, &err, &keep);
	free(keep);
	if (r != 0)
		printf("# %s\n#   -> rejected: \"%s\" %s\n", json, err.attribute, err.text);
	return r == 0;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	buf b;
	buf_init(&b, 0);
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		if (buf_append(&b, tmp, n) != 0)
			break;
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		buf_free(&b);
		return NULL;
	}
	*len = b.len;
	return b.data;
}

static cJSON *load_vectors(const char *name)
{
	char path[512];
	const char *shared = getenv("SHARED_DIR");
	snprintf(path, sizeof path, "%s" CONFORMANCE "%s", shared && *shared ? shared : "../shared",
		 name);
	size_t len = 0;
	char *text = read_file(path, &len);
	if (!text) {
		printf("# cannot read %s (run the tests from the repository root, with "
		       "../shared/conformance beside it)\n", path);
		return NULL;
	}
	cJSON *doc = cJSON_ParseWithLength(text, len);
	free(text);
	if (!doc)
		printf("# %s: not JSON\n", path);
	return doc;
}

/* ---- round-trip comparison ---- */

/* 1 if two JSON strings hold the same instant. */
static int same_instant(const cJSON *a, const cJSON *b)
{
	int64_t x, y;
	if (!cJSON_IsString(a) || !cJSON_IsString(b))
		return 0;
	return rfc3339_parse_us(a->valuestring, strlen(a->valuestring), &x) == 0 &&
	       rfc3339_parse_us(b->valuestring, strlen(b->valuestring), &y) == 0 && x == y;
}

static const char *const canonical[] = {
	"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema",
};

static int canon_rank(const char *k)
{
	for (int i = 0; i < 8; i++)
		if (strcmp(k, canonical[i]) == 0)
			return i;
	if (strcmp(k, "data") == 0 || strcmp(k, "data_base64") == 0)
		return 100;
	return 50; /* extension */
}

/* Check that out (written by ce_write_json) re-parses, keeps every
 * non-null member of the original event (time as an instant), adds none,
 * and is in canonical order. */
static int round_trip_ok(const cJSON *orig, const char *out, size_t out_len, const char *id)
{
	int ok = 1;
	cloudevent ev2;
	ce_error err;
	char *keep = NULL;
	if (parse_copy(&ev2, out, out_len, &err, &keep) != 0) {
		printf("# %s: output does not re-parse: %s %s\n", id, err.attribute, err.text);
		ok = 0;
	}
	/* idempotent: writing the re-parsed event gives the same bytes */
	buf again;
	buf_init(&again, 0);
	if (ok && (ce_write_json(&ev2, &again) != 0 || again.len != out_len ||
		   memcmp(again.data, out, out_len) != 0)) {
		printf("# %s: second write differs\n", id);
		ok = 0;
	}
	buf_free(&again);
	free(keep);

	cJSON *o = cJSON_ParseWithLength(out, out_len);
	if (!o) {
		printf("# %s: cJSON cannot read the output\n", id);
		return 0;
	}
	const cJSON *m;
	cJSON_ArrayForEach(m, orig) {
		const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, m->string);
		if (cJSON_IsNull(m)) {
			if (w) {
				printf("# %s: null %s written\n", id, m->string);
				ok = 0;
			}
			continue;
		}
		int same = w && (strcmp(m->string, "time") == 0 ? same_instant(m, w) : cJSON_Compare(m, w, 1));
		if (!same) {
			printf("# %s: attribute %s lost or changed\n", id, m->string);
			ok = 0;
		}
	}
	int last = -1;
	const char *last_ext = "";
	cJSON_ArrayForEach(m, o) {
		const cJSON *w = cJSON_GetObjectItemCaseSensitive(orig, m->string);
		if (!w || cJSON_IsNull(w)) {
			printf("# %s: %s added\n", id, m->string);
			ok = 0;
		}
		int rank = canon_rank(m->string);
		if (rank < last || (rank == 50 && last == 50 && strcmp(last_ext, m->string) >= 0)) {
			printf("# %s: %s out of canonical order\n", id, m->string);
			ok = 0;
		}
		if (rank == 50)
			last_ext = m->string;
		last = rank;
	}
	cJSON_Delete(o);
	return ok;
}

/* Parse one event given as a cJSON node, as one NDJSON line would be. */
static int parse_node(const cJSON *event, cloudevent *ev, ce_error *err, char **line, size_t *len)
{
	*line = cJSON_PrintUnformatted(event);
	if (!*line)
		return -2;
	*len = strlen(*line);
	/* keep the spans valid: ce_parse reads the printed line itself */
	return ce_parse(ev, *line, *len, err);
}

static void test_conformance_valid(void)
{
	cJSON *doc = load_vectors("valid-events.json");
	CHECK(doc != NULL);
	if (!doc)
		return;
	const cJSON *tests = cJSON_GetObjectItemCaseSensitive(doc, "tests"), *t;
	int n = 0;
	cJSON_ArrayForEach(t, tests) {
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "id"));
		const cJSON *event = cJSON_GetObjectItemCaseSensitive(t, "event");
		CHECK(id && event);
		if (!id || !event)
			continue;
		cloudevent ev;
		ce_error err;
		char *line;
		size_t len;
		int r = parse_node(event, &ev, &err, &line, &len);
		if (r != 0)
			printf("# %s rejected: %s: %s\n", id, err.attribute, err.text);
		CHECK_INT(r, 0);
		if (r == 0) {
			buf out;
			buf_init(&out, 0);
			CHECK_INT(ce_write_json(&ev, &out), 0);
			CHECK(round_trip_ok(event, out.data, out.len, id));
			buf_free(&out);
		}
		cJSON_free(line);
		n++;
	}
	CHECK(n >= 10);
	cJSON_Delete(doc);
}

/* The attribute each invalid vector must be rejected for. A vector that
 * is not listed fails the test: new vectors need a decision. */
static const struct {
	const char *id;
	const char *attr;
	const char *alt; /* another acceptable attribute, or NULL */
} expected_attr[] = {
	{"invalidNoSpecVersion", "specversion", NULL},
	{"invalidNoId", "id", NULL},
	{"invalidNoType", "type", NULL},
	{"invalidNoSource", "source", NULL},
	{"invalidTimeGarbage", "time", NULL},
	{"invalidTimeToMinute", "time", NULL},
	{"invalidTimeOffsetX", "time", NULL},
	{"invalidTimeOffsetOutOfRange", "time", NULL},
	{"invalidTimeOffsetNonInteger", "time", NULL},
	{"invalidTimeOffsetHourOnly", "time", NULL},
	{"invalidEmptyId", "id", NULL},
	{"invalidEmptyType", "type", NULL},
	{"invalidEmptySource", "source", NULL},
	{"invalidEmptySpecVersion", "specversion", NULL},
	{"invalidUnknownSpecVersion", "specversion", NULL},
	{"invalidNonRfc2046DataContentType", "datacontenttype", NULL},
	{"invalidEmptyDataContentType", "datacontenttype", NULL},
	{"invalidEmptyDataSchema", "dataschema", NULL},
	{"invalidEmptySubject", "subject", NULL},
	{"invalidNumericId", "id", NULL},
	{"invalidObjectId", "id", NULL},
	{"invalidCapitalizedExtension", "MyExtension", NULL},
	{"invalidPunctuatedExtension", "my.extension", NULL},
	{"invalidNonIntegerExtensionValue", "my.extension", NULL},
	{"invalidBothDataAndDataBase64", "data_base64", "data"},
};

static int attr_expected(const char *id, const char *got, const cJSON *event)
{
	for (size_t i = 0; i < sizeof expected_attr / sizeof expected_attr[0]; i++) {
		if (strcmp(expected_attr[i].id, id) != 0)
			continue;
		int ok = strcmp(got, expected_attr[i].attr) == 0 ||
			 (expected_attr[i].alt && strcmp(got, expected_attr[i].alt) == 0);
		/* and it is relevant: present in the event, or a required one */
		int present = cJSON_GetObjectItemCaseSensitive(event, got) != NULL;
		int required = !strcmp(got, "specversion") || !strcmp(got, "id") ||
			       !strcmp(got, "source") || !strcmp(got, "type");
		return ok && (present || required);
	}
	printf("# vector %s has no expected attribute in the table\n", id);
	return 0;
}

static void test_conformance_invalid(void)
{
	cJSON *doc = load_vectors("invalid-events.json");
	CHECK(doc != NULL);
	if (!doc)
		return;
	const cJSON *tests = cJSON_GetObjectItemCaseSensitive(doc, "tests"), *t;
	int n = 0;
	cJSON_ArrayForEach(t, tests) {
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "id"));
		const cJSON *event = cJSON_GetObjectItemCaseSensitive(t, "event");
		CHECK(id && event);
		if (!id || !event)
			continue;
		cloudevent ev;
		ce_error err;
		memset(&err, 0, sizeof err);
		char *line;
		size_t len;
		int r = parse_node(event, &ev, &err, &line, &len);
		if (r != -1)
			printf("# %s accepted\n", id);
		CHECK_INT(r, -1);
		if (r == -1) {
			int ok = attr_expected(id, err.attribute, event);
			if (!ok)
				printf("# %s: attribute \"%s\" (%s)\n", id, err.attribute, err.text);
			CHECK(ok);
			CHECK(err.text[0] != '\0');
		}
		cJSON_free(line);
		n++;
	}
	CHECK(n >= 25);
	cJSON_Delete(doc);
}

static const struct {
	const char *id;
	const char *attr; /* expected for the failing element */
	const char *text;
} expected_batch[] = {
	{"invalidBatchMixedSpecVersions", "specversion", "batch element 2"},
	{"invalidBatchContainingInvalidCloudEvent", "id", "batch element 1"},
	{"invalidBatchContainingNonObject", "", "not a JSON object"},
};

static void run_batches(const char *file, int valid)
{
	cJSON *doc = load_vectors(file);
	CHECK(doc != NULL);
	if (!doc)
		return;
	const cJSON *tests = cJSON_GetObjectItemCaseSensitive(doc, "tests"), *t;
	int n = 0;
	cJSON_ArrayForEach(t, tests) {
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "id"));
		const cJSON *batch = cJSON_GetObjectItemCaseSensitive(t, "batch");
		CHECK(id && cJSON_IsArray(batch));
		if (!id || !batch)
			continue;
		char *text = cJSON_PrintUnformatted(batch);
		CHECK(text != NULL);
		if (!text)
			continue;
		ce_batch b;
		ce_error err;
		memset(&err, 0, sizeof err);
		int r = ce_batch_begin(&b, text, strlen(text), &err);
		CHECK_INT(r, 0);
		int count = 0, failed = 0;
		cloudevent ev;
		while (r == 0) {
			int k = ce_batch_next(&b, &ev, &err);
			if (k == 0)
				break;
			if (k < 0) {
				failed = 1;
				break;
			}
			buf out;
			buf_init(&out, 0);
			CHECK_INT(ce_write_json(&ev, &out), 0);
			CHECK(round_trip_ok(cJSON_GetArrayItem(batch, count), out.data, out.len, id));
			buf_free(&out);
			count++;
		}
		if (valid) {
			if (failed)
				printf("# %s: %s %s\n", id, err.attribute, err.text);
			CHECK(!failed);
			CHECK_INT(count, cJSON_GetArraySize(batch));
		} else {
			CHECK(failed);
			size_t i;
			for (i = 0; i < sizeof expected_batch / sizeof expected_batch[0]; i++)
				if (strcmp(expected_batch[i].id, id) == 0)
					break;
			if (i == sizeof expected_batch / sizeof expected_batch[0]) {
				printf("# batch vector %s has no expectation in the table\n", id);
				CHECK(0);
			} else if (strcmp(err.attribute, expected_batch[i].attr) != 0 ||
				   !strstr(err.text, expected_batch[i].text)) {
				printf("# %s: \"%s\" \"%s\"\n", id, err.attribute, err.text);
				CHECK(0);
			}
		}
		cJSON_free(text);
		n++;
	}
	CHECK(n >= 3);
	cJSON_Delete(doc);
}

static void test_conformance_batches(void)
{
	run_batches("valid-batches.json", 1);
	run_batches("invalid-batches.json", 0);
}

static void test_batch_misc(void)
{
	ce_batch b;
	ce_error err;
	cloudevent ev;
	CHECK_INT(ce_batch_begin(&b, "{}", 2, &err), -1);
	CHECK(strstr(err.text, "must be a JSON array") != NULL);
	CHECK_INT(ce_batch_begin(&b, "[", 1, &err), -1);
	CHECK(strstr(err.text, "invalid JSON") != NULL);
	static const char two[] = " [ {\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\"} ,"
				  " 5, {\"specversion\":\"1.0\",\"id\":\"2\",\"source\":\"s\",\"type\":\"t\"} ] ";
	CHECK_INT(ce_batch_begin(&b, two, sizeof two - 1, &err), 0);
	CHECK_INT(ce_batch_next(&b, &ev, &err), 1);
	CHECK(json_string_equals(ev.id.value, "1"));
	CHECK_INT(ce_batch_next(&b, &ev, &err), -1);
	CHECK(strstr(err.text, "batch element 2") != NULL);
	/* the iteration goes on after a bad element */
	CHECK_INT(ce_batch_next(&b, &ev, &err), 1);
	CHECK(json_string_equals(ev.id.value, "2"));
	CHECK_INT(b.index, 3);
	CHECK_INT(ce_batch_next(&b, &ev, &err), 0);
}

#define MIN "\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"/s\",\"type\":\"t\""

static void test_required(void)
{
	CHECK(accepts("{" MIN "}"));
	CHECK(accepts(" \r\n\t{ " MIN " } \r\n"));
	CHECK(rejects("{\"id\":\"x\",\"source\":\"/s\",\"type\":\"t\"}", "specversion", "required attribute missing"));
	CHECK(rejects("{\"specversion\":null,\"id\":\"x\",\"source\":\"/s\",\"type\":\"t\"}", "specversion", "missing"));
	CHECK(rejects("{\"specversion\":\"1.0\",\"id\":null,\"source\":\"/s\",\"type\":\"t\"}", "id", "missing"));
	CHECK(rejects("{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":null,\"type\":\"t\"}", "source", "missing"));
	CHECK(rejects("{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"/s\",\"type\":null}", "type", "missing"));
	CHECK(rejects("{\"specversion\":1.0,\"id\":\"x\",\"source\":\"/s\",\"type\":\"t\"}", "specversion", "found a number"));
	CHECK(rejects("{\"specversion\":\"1.0\",\"id\":1,\"source\":\"/s\",\"type\":\"t\"}", "id", "must be a string, found a number"));
	CHECK(rejects("{\"specversion\":\"1.0\",\"id\":true,\"source\":\"/s\",\"type\":\"t\"}", "id", "found a boolean"));
	CHECK(rejects("{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":[],\"type\":\"t\"}", "source", "found an array"));
	CHECK(rejects("{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"/s\",\"type\":{}}", "type", "found an object"));
	CHECK(rejects("{\"specversion\":\"1.1\",\"id\":\"x\",\"source\":\"/s\",\"type\":\"t\"}", "specversion", "1.0"));
	CHECK(rejects("{}", "specversion", "missing"));
	/* escaped names and values are decoded */
	CHECK(accepts("{\"specversion\":\"1\\u002e0\",\"\\u0069d\":\"x\",\"source\":\"/s\",\"type\":\"t\"}"));
	/* a bad specversion outranks earlier problems */
	CHECK(rejects("{\"id\":1,\"specversion\":\"0.3\",\"source\":\"/s\",\"type\":\"t\"}", "specversion", NULL));
	/* otherwise the first problem in input order */
	CHECK(rejects("{\"id\":1,\"specversion\":\"1.0\",\"source\":\"\",\"type\":\"t\"}", "id", NULL));
}

static void test_json_errors(void)
{
	CHECK(rejects("", "", "invalid JSON at byte 1"));
	CHECK(rejects("{", "", "invalid JSON at byte 2"));
	CHECK(rejects("[1]", "", "not a JSON object, found an array"));
	CHECK(rejects("\"x\"", "", "not a JSON object"));
	CHECK(rejects("{" MIN ",}", "", "invalid JSON"));
	CHECK(rejects("{" MIN "} x", "", "trailing characters"));
	CHECK(rejects("{" MIN "}{}", "", "trailing characters"));
	CHECK(rejects("{" MIN " \"a\":1}", "", "expected ',' or '}'"));
	CHECK(rejects("{" MIN ",\"a\" 1}", "", "expected ':'"));
	CHECK(rejects("{" MIN ",1:2}", "", "expected a string key"));
	/* JSON problems win over attribute problems seen before them */
	CHECK(rejects("{\"id\":5,\"x\":tru}", "", "invalid JSON"));
	CHECK(rejects("{\"id\":\"\xff\"}", "", "invalid UTF-8"));
	CHECK(rejects("{" MIN ",\"data\":{\"a\":[1,}}", "", "invalid JSON"));
}

static void test_duplicates(void)
{
	CHECK(rejects("{" MIN ",\"id\":\"y\"}", "id", "duplicate attribute"));
	CHECK(rejects("{" MIN ",\"\\u0069d\":\"y\"}", "id", "duplicate"));
	CHECK(rejects("{" MIN ",\"time\":null,\"time\":\"2020-01-01T00:00:00Z\"}", "time", "duplicate"));
	CHECK(rejects("{" MIN ",\"ext\":1,\"ext\":2}", "ext", "duplicate"));
	CHECK(rejects("{" MIN ",\"ext\":null,\"ext\":2}", "ext", "duplicate"));
	CHECK(rejects("{" MIN ",\"ext\":1,\"e\\u0078t\":2}", "ext", "duplicate"));
	CHECK(rejects("{" MIN ",\"e\\u0078t\":1,\"ext\":2}", "ext", "duplicate"));
	CHECK(rejects("{" MIN ",\"a\":1,\"e\\u0078t\":1,\"b\":1,\"\\u0065xt\":2}", "ext", "duplicate"));
	CHECK(accepts("{" MIN ",\"a\":1,\"e\\u0078t\":1,\"b\":1,\"ex\":2,\"exu\":2}"));
	CHECK(rejects("{" MIN ",\"data\":1,\"data\":2}", "data", "duplicate"));
}

static void test_optional(void)
{
	CHECK(accepts("{" MIN ",\"subject\":\"s\",\"time\":\"2018-04-05T17:31:00.123+01:00\","
		      "\"datacontenttype\":\"text/plain\",\"dataschema\":\"urn:x\"}"));
	CHECK(rejects("{" MIN ",\"subject\":\"\"}", "subject", "non-empty"));
	CHECK(rejects("{" MIN ",\"subject\":1}", "subject", "must be a string"));
	CHECK(rejects("{" MIN ",\"time\":\"2018-02-30T00:00:00Z\"}", "time", "RFC 3339"));
	CHECK(rejects("{" MIN ",\"time\":\"\"}", "time", NULL));
	CHECK(accepts("{" MIN ",\"time\":\"\\u0032018-04-05T17:31:00Z\"}"));
	CHECK(rejects("{" MIN ",\"dataschema\":\"schema.json\"}", "dataschema", "absolute URI"));
	CHECK(accepts("{" MIN ",\"dataschema\":\"https://example.com/s.json\"}"));

	static const char *const ct_ok[] = {
		"application/json", "application/cloudevents+json; charset=utf-8",
		"text/plain;charset=\\\"utf-8\\\"", "multipart/form-data; boundary=x; a=b",
		"text/plain;", "application/vnd.example+json", "TEXT/PLAIN",
		"text/plain; x=\\\"a \\\\\\\" b\\\"",
	};
	static const char *const ct_bad[] = {
		"xyz", "text/", "/json", "text/plain ", "text/plain; =x", "te xt/plain",
		"text/plain; a", "text/plain; a=", "text/plain; a=\\\"x", "text//plain", "text/pl\\u00e9in",
	};
	char line[512];
	for (size_t i = 0; i < sizeof ct_ok / sizeof ct_ok[0]; i++) {
		snprintf(line, sizeof line, "{" MIN ",\"datacontenttype\":\"%s\"}", ct_ok[i]);
		CHECK(accepts(line));
	}
	for (size_t i = 0; i < sizeof ct_bad / sizeof ct_bad[0]; i++) {
		snprintf(line, sizeof line, "{" MIN ",\"datacontenttype\":\"%s\"}", ct_bad[i]);
		CHECK(rejects(line, "datacontenttype", "media type"));
	}
}

static void test_string_chars(void)
{
	CHECK(accepts("{" MIN ",\"subject\":\"caf\xc3\xa9 \\u00e9 \xf0\x9f\x98\x80\"}"));
	CHECK(rejects("{\"specversion\":\"1.0\",\"id\":\"a\\u0001\",\"source\":\"/s\",\"type\":\"t\"}", "id", "control"));
	CHECK(rejects("{\"specversion\":\"1.0\",\"id\":\"a\\n\",\"source\":\"/s\",\"type\":\"t\"}", "id", "control"));
	CHECK(rejects("{" MIN ",\"subject\":\"a\x7f\"}", "subject", "control"));
	CHECK(rejects("{" MIN ",\"subject\":\"a\xc2\x85\"}", "subject", "control"));
	CHECK(rejects("{" MIN ",\"subject\":\"\\uFFFE\"}", "subject", "noncharacter"));
	CHECK(rejects("{" MIN ",\"subject\":\"\\ufdd0\"}", "subject", "noncharacter"));
	CHECK(rejects("{" MIN ",\"ext\":\"x\\u0000\"}", "ext", "control"));
	CHECK(rejects("{" MIN ",\"subject\":\"\xf0\x9f\xbf\xbf\"}", "subject", "noncharacter"));
	/* data is not an attribute: anything JSON allows */
	CHECK(accepts("{" MIN ",\"data\":\"\\u0000\\n\x7f\"}"));
}

static void test_extensions(void)
{
	CHECK(accepts("{" MIN ",\"a1\":\"s\",\"b\":true,\"c\":false,\"d\":0,\"e\":-0,\"f\":2147483647,"
		      "\"g\":-2147483648,\"h\":null,\"averyveryverylongextensionnamebeyondtwenty\":1}"));
	CHECK(rejects("{" MIN ",\"f\":2147483648}", "f", "integer"));
	CHECK(rejects("{" MIN ",\"f\":-2147483649}", "f", "integer"));
	CHECK(rejects("{" MIN ",\"f\":99999999999999999999}", "f", "integer"));
	CHECK(rejects("{" MIN ",\"f\":1e3}", "f", "integer"));
	CHECK(rejects("{" MIN ",\"f\":1.0}", "f", "integer"));
	CHECK(rejects("{" MIN ",\"f\":{}}", "f", "found an object"));
	CHECK(rejects("{" MIN ",\"f\":[1]}", "f", "found an array"));
	CHECK(rejects("{" MIN ",\"x_y\":1}", "x_y", "invalid extension name"));
	CHECK(rejects("{" MIN ",\"\":1}", "", "invalid extension name"));
	CHECK(rejects("{" MIN ",\"a\\nb\":1}", "a?b", "invalid extension name"));
	CHECK(rejects("{" MIN ",\"Data\":1}", "Data", "invalid extension name"));
	/* the name in the error is cut to fit, on a character boundary */
	char line[600];
	snprintf(line, sizeof line, "{" MIN ",\"%s\":1}",
		 "ABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJAB\xc3\xa9xyz");
	CHECK(rejects(line, "ABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJAB", NULL));

	/* the limit of CE_MAX_EXTENSIONS */
	buf b;
	buf_init(&b, 0);
	CHECK_INT(buf_puts(&b, "{" MIN), 0);
	for (int i = 0; i < CE_MAX_EXTENSIONS; i++)
		CHECK_INT(buf_printf(&b, ",\"e%d\":%d", i, i), 0);
	CHECK_INT(buf_putc(&b, '}'), 0);
	CHECK(accepts(b.data));
	b.len--;
	CHECK_INT(buf_puts(&b, ",\"toomany\":1}"), 0);
	CHECK(rejects(b.data, "toomany", "too many"));
	buf_free(&b);

	CHECK(ce_extension_name_valid("abc123", 6));
	CHECK(!ce_extension_name_valid("", 0));
	CHECK(!ce_extension_name_valid("aBc", 3));
	CHECK(!ce_extension_name_valid("a-b", 3));
	CHECK(!ce_extension_name_valid("id", 2));
	CHECK(!ce_extension_name_valid("time", 4));
	CHECK(!ce_extension_name_valid("data", 4));
	CHECK(!ce_extension_name_valid("specversion", 11));
	CHECK(ce_extension_name_valid("ids", 3));
	CHECK(ce_extension_name_valid("abX", 2)); /* only the first len bytes */
	CHECK(!ce_extension_name_valid("idx", 2));
}

static void test_data(void)
{
	CHECK(rejects("{" MIN ",\"data\":1,\"data_base64\":\"TWE=\"}", "data_base64", "mutually exclusive"));
	CHECK(rejects("{" MIN ",\"data_base64\":\"TWE=\",\"data\":1}", "data", "mutually exclusive"));
	CHECK(accepts("{" MIN ",\"data\":null,\"data_base64\":\"TWE=\"}"));
	CHECK(accepts("{" MIN ",\"data\":1,\"data_base64\":null}"));
	CHECK(rejects("{" MIN ",\"data_base64\":\"TWE\"}", "data_base64", "base64"));
	CHECK(rejects("{" MIN ",\"data_base64\":\"T=WE\"}", "data_base64", "base64"));
	CHECK(rejects("{" MIN ",\"data_base64\":\"TW E=\"}", "data_base64", "base64"));
	CHECK(rejects("{" MIN ",\"data_base64\":12}", "data_base64", "must be a string"));
	CHECK(accepts("{" MIN ",\"data_base64\":\"\"}"));

	cloudevent ev;
	ce_error err;
	char *keep;
	CHECK_INT(parse_str(&ev, "{" MIN ",\"data\":null}", &err, &keep), 0);
	CHECK_INT(ev.data_kind, CE_DATA_NONE);
	free(keep);
	CHECK_INT(parse_str(&ev, "{" MIN ",\"data\":[1, 2]}", &err, &keep), 0);
	CHECK_INT(ev.data_kind, CE_DATA_JSON);
	CHECK_INT(ev.data_type, JSON_ARRAY);
	free(keep);
	CHECK_INT(parse_str(&ev, "{" MIN ",\"data_base64\":\"TWE=\"}", &err, &keep), 0);
	CHECK_INT(ev.data_kind, CE_DATA_BASE64);
	CHECK_INT(ev.data_type, JSON_STRING);
	free(keep);
}

static const char *write_of(const char *in, buf *out)
{
	cloudevent ev;
	ce_error err;
	char *keep = NULL;
	buf_reset(out);
	const char *res = NULL;
	if (parse_str(&ev, in, &err, &keep) == 0 && ce_write_json(&ev, out) == 0)
		res = out->data;
	else
		printf("# cannot parse or write %s: %s %s\n", in, err.attribute, err.text);
	free(keep);
	return res ? res : "(failed)";
}

static void test_write(void)
{
	buf out;
	buf_init(&out, 0);
	CHECK_STR(write_of("{ \"zz\" : 1, \"data\" : { \"a\" : [ 1 , \"x y\" ] }, \"type\":\"t\", \"h\":null,"
			   "\"aa\":\"v\",\"source\":\"/s\",\"subject\":\"sub\",\"id\":\"i\",\"specversion\":\"1.0\","
			   "\"dataschema\":\"urn:s\",\"m\":true,\"datacontenttype\":\"application/json\","
			   "\"time\":\"2020-01-01T00:00:00.123456789Z\" }", &out),
		  "{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"/s\",\"type\":\"t\",\"subject\":\"sub\","
		  "\"time\":\"2020-01-01T00:00:00.123456789Z\",\"datacontenttype\":\"application/json\","
		  "\"dataschema\":\"urn:s\",\"aa\":\"v\",\"m\":true,\"zz\":1,\"data\":{\"a\":[1,\"x y\"]}}");
	/* string escapes kept as given; escaped extension names written decoded */
	CHECK_STR(write_of("{" MIN ",\"subject\":\"\\u00e9\\/\",\"e\\u0078t\":\"v\",\"data_base64\":\"TWE=\"}", &out),
		  "{" MIN ",\"subject\":\"\\u00e9\\/\",\"ext\":\"v\",\"data_base64\":\"TWE=\"}");
	CHECK_STR(write_of("{" MIN ",\"data\":\"a b\"}", &out), "{" MIN ",\"data\":\"a b\"}");
	CHECK_STR(write_of("{" MIN "}", &out), "{" MIN "}");

	/* appends; a full buffer gives -1 and leaves it unchanged */
	cloudevent ev;
	ce_error err;
	char *keep;
	CHECK_INT(parse_str(&ev, "{" MIN ",\"data\":{ \"k\" : 1 }}", &err, &keep), 0);
	buf small;
	buf_init(&small, 20);
	CHECK_INT(buf_puts(&small, "abc"), 0);
	CHECK_INT(ce_write_json(&ev, &small), -1);
	CHECK_STR(small.data, "abc");
	buf_free(&small);
	buf_reset(&out);
	CHECK_INT(buf_puts(&out, "abc"), 0);
	CHECK_INT(ce_write_json(&ev, &out), 0);
	CHECK_STR(out.data, "abc{" MIN ",\"data\":{\"k\":1}}");
	free(keep);
	buf_free(&out);
}

/* The canonical form of the typical event, and variants of it that mean
 * the same but are not canonical (ce_write_json must then take the
 * general path and still write exactly CANON). */
#define CANON_HEAD "{\"specversion\":\"1.0\",\"id\":\"01a1ee56-5e00-7001-8224-0000ffffffff\"," \
		   "\"source\":\"/wallet-hub/wallets\",\"type\":\"FundsAddedEvent\","
#define CANON_TAIL "\"subject\":\"wallet-000001\",\"time\":\"2026-11-27T09:51:38.000001Z\"," \
		   "\"datacontenttype\":\"application/json\",\"partitionkey\":\"wallet-000001\"," \
		   "\"tenant\":\"acme\",\"data\":{\"walletId\":\"wallet-000001\",\"amount\":\"1.50\"}}"
#define CANON CANON_HEAD CANON_TAIL

/* a then b, in a static buffer */
static const char *join(const char *a, const char *b)
{
	static char s[1024];
	snprintf(s, sizeof s, "%s%s", a, b);
	return s;
}

/* Parse in, check whether ce_parse found it canonical, and that the
 * output is want. */
static int writes(const char *in, int canon, const char *want)
{
	cloudevent ev;
	ce_error err;
	char *keep = NULL;
	buf out;
	buf_init(&out, 0);
	int ok = parse_str(&ev, in, &err, &keep) == 0 && ce_write_json(&ev, &out) == 0 &&
		 (ev.canonical.p != NULL) == canon && strcmp(out.data, want) == 0;
	if (!ok)
		printf("# %s\n#   -> canonical %d, wrote %s\n", in, ev.canonical.p != NULL,
		       out.data ? out.data : "(nothing)");
	free(keep);
	buf_free(&out);
	return ok;
}

static void test_canonical(void)
{
	CHECK(writes(CANON, 1, CANON));
	CHECK(writes(" \n" CANON "\r\n", 1, CANON)); /* around the object is fine */
	CHECK(writes("{" MIN "}", 1, "{" MIN "}"));
	CHECK(writes("{" MIN ",\"data_base64\":\"TWE=\"}", 1, "{" MIN ",\"data_base64\":\"TWE=\"}"));
	CHECK(writes("{" MIN ",\"a\":1,\"b\":true,\"c\":\"x\\u00e9\\/\"}", 1,
		     "{" MIN ",\"a\":1,\"b\":true,\"c\":\"x\\u00e9\\/\"}"));
	CHECK(writes("{" MIN ",\"data\":\"a b\\\"\"}", 1, "{" MIN ",\"data\":\"a b\\\"\"}"));
	CHECK(writes("{" MIN ",\"subject\":\"caf\xc3\xa9\"}", 1, "{" MIN ",\"subject\":\"caf\xc3\xa9\"}"));
	/* whitespace anywhere inside: not canonical, same output */
	CHECK(writes(join("{ ", CANON + 1), 0, CANON));
	CHECK(writes(join("{\"specversion\" :\"1.0\",", CANON + 21), 0, CANON));
	CHECK(writes(join("{\"specversion\": \"1.0\",", CANON + 21), 0, CANON));
	CHECK(writes(join("{\"specversion\":\"1.0\" ,", CANON + 21), 0, CANON));
	CHECK(writes(join("{\"specversion\":\"1.0\",\t", CANON + 21), 0, CANON));
	CHECK(writes(CANON_HEAD "\"subject\":\"wallet-000001\",\"time\":\"2026-11-27T09:51:38.000001Z\","
		     "\"datacontenttype\":\"application/json\",\"partitionkey\":\"wallet-000001\","
		     "\"tenant\":\"acme\",\"data\":{\"walletId\":\"wallet-000001\",\"amount\":\"1.50\"}\n}", 0, CANON));
	CHECK(writes(CANON_HEAD "\"subject\":\"wallet-000001\",\"time\":\"2026-11-27T09:51:38.000001Z\","
		     "\"datacontenttype\":\"application/json\",\"partitionkey\":\"wallet-000001\","
		     "\"tenant\":\"acme\",\"data\":{\"walletId\": \"wallet-000001\",\"amount\":\"1.50\"}}", 0, CANON));
	/* escapes in names */
	CHECK(writes(join("{\"\\u0073pecversion\":\"1.0\",", CANON + 21), 0, CANON));
	CHECK(writes(CANON_HEAD "\"subject\":\"wallet-000001\",\"time\":\"2026-11-27T09:51:38.000001Z\","
		     "\"datacontenttype\":\"application/json\",\"partitionke\\u0079\":\"wallet-000001\","
		     "\"tenant\":\"acme\",\"data\":{\"walletId\":\"wallet-000001\",\"amount\":\"1.50\"}}", 0, CANON));
	/* nulls are dropped */
	CHECK(writes("{" MIN ",\"subject\":null}", 0, "{" MIN "}"));
	CHECK(writes("{" MIN ",\"x\":null}", 0, "{" MIN "}"));
	CHECK(writes("{" MIN ",\"data\":null}", 0, "{" MIN "}"));
	CHECK(writes("{" MIN ",\"data\":null,\"data_base64\":\"TWE=\"}", 0, "{" MIN ",\"data_base64\":\"TWE=\"}"));
	/* out of order: core attributes, extensions, data not last */
	CHECK(writes("{\"id\":\"x\",\"specversion\":\"1.0\",\"source\":\"/s\",\"type\":\"t\"}", 0, "{" MIN "}"));
	CHECK(writes("{" MIN ",\"b\":1,\"a\":2}", 0, "{" MIN ",\"a\":2,\"b\":1}"));
	CHECK(writes("{" MIN ",\"ab\":1,\"a\":2}", 0, "{" MIN ",\"a\":2,\"ab\":1}"));
	CHECK(writes("{" MIN ",\"a\":1,\"ab\":2}", 1, "{" MIN ",\"a\":1,\"ab\":2}"));
	CHECK(writes("{" MIN ",\"a\":1,\"subject\":\"s\"}", 0, "{" MIN ",\"subject\":\"s\",\"a\":1}"));
	CHECK(writes("{" MIN ",\"data\":1,\"a\":2}", 0, "{" MIN ",\"a\":2,\"data\":1}"));
	CHECK(writes("{" MIN ",\"data\":1,\"subject\":\"s\"}", 0, "{" MIN ",\"subject\":\"s\",\"data\":1}"));
	/* a non-compact data value is compacted by the general writer */
	CHECK(writes("{" MIN ",\"data\":[1, {\"a\" :\"b c\"}]}", 0, "{" MIN ",\"data\":[1,{\"a\":\"b c\"}]}"));
}

/* An event edited after ce_parse must be written as it now is, whatever
 * ce_parse noted about the text it came from. */
static void test_canonical_edited(void)
{
	cloudevent ev;
	ce_error err;
	char *keep;
	buf out;
	buf_init(&out, 0);
	static const char other[] = "\"2030-01-01T00:00:00Z\" \"FundsAddedEvent\" \"x\"";

	CHECK_INT(parse_str(&ev, CANON, &err, &keep), 0);
	CHECK(ev.canonical.p != NULL);
	ev.time.value.p = other; /* a value from elsewhere */
	ev.time.value.n = 22;
	CHECK_INT(ce_write_json(&ev, &out), 0);
	CHECK(strstr(out.data, "\"time\":\"2030-01-01T00:00:00Z\",\"datacontenttype\"") != NULL);
	free(keep);

	CHECK_INT(parse_str(&ev, CANON, &err, &keep), 0);
	ev.subject.value.p = NULL; /* removed */
	buf_reset(&out);
	CHECK_INT(ce_write_json(&ev, &out), 0);
	CHECK(strstr(out.data, "subject") == NULL && strstr(out.data, "\"type\":\"FundsAddedEvent\",\"time\""));
	free(keep);

	CHECK_INT(parse_str(&ev, CANON, &err, &keep), 0);
	ev.data_kind = CE_DATA_NONE; /* data dropped */
	buf_reset(&out);
	CHECK_INT(ce_write_json(&ev, &out), 0);
	CHECK(strstr(out.data, "data\"") == NULL && out.data[out.len - 1] == '}');
	free(keep);

	CHECK_INT(parse_str(&ev, CANON, &err, &keep), 0);
	ev.data_kind = CE_DATA_BASE64; /* same span, other kind */
	buf_reset(&out);
	CHECK_INT(ce_write_json(&ev, &out), 0);
	CHECK(strstr(out.data, "\"data_base64\":{") != NULL);
	free(keep);

	CHECK_INT(parse_str(&ev, CANON, &err, &keep), 0);
	ev.n_ext = 1; /* an extension dropped */
	buf_reset(&out);
	CHECK_INT(ce_write_json(&ev, &out), 0);
	CHECK(strstr(out.data, "tenant") == NULL && strstr(out.data, "\"partitionkey\":\"wallet-000001\",\"data\""));
	free(keep);

	CHECK_INT(parse_str(&ev, CANON, &err, &keep), 0);
	ev.ext[2] = ev.ext[1]; /* an extension added */
	ev.ext[2].value.p = other + 41;
	ev.ext[2].value.n = 3;
	ev.n_ext = 3;
	buf_reset(&out);
	CHECK_INT(ce_write_json(&ev, &out), 0);
	CHECK(strstr(out.data, "\"tenant\":\"acme\",\"tenant\":\"x\",\"data\"") != NULL);
	free(keep);

	/* a span moved to another attribute of the same name length, at the
	 * same place in the text: the key written differs from the text's */
	CHECK_INT(parse_str(&ev, "{" MIN ",\"time\":\"2020-01-01T00:00:00Z\"}", &err, &keep), 0);
	CHECK(ev.canonical.p != NULL);
	ev.subject = ev.time;
	ev.time.value.p = NULL;
	buf_reset(&out);
	CHECK_INT(ce_write_json(&ev, &out), 0);
	CHECK_STR(out.data, "{" MIN ",\"subject\":\"2020-01-01T00:00:00Z\"}");
	ev.type = ev.subject; /* "type" and "time" have the same length */
	ev.subject.value.p = NULL;
	buf_reset(&out);
	CHECK_INT(ce_write_json(&ev, &out), 0);
	CHECK_STR(out.data, "{\"specversion\":\"1.0\",\"id\":\"x\",\"source\":\"/s\","
			    "\"type\":\"2020-01-01T00:00:00Z\"}");
	free(keep);

	/* zeroed by hand: no shortcut */
	memset(&ev, 0, sizeof ev);
	ev.specversion.value = (json_span){"\"1.0\"", 5};
	buf_reset(&out);
	CHECK_INT(ce_write_json(&ev, &out), 0);
	CHECK_STR(out.data, "{\"specversion\":\"1.0\"}");
	buf_free(&out);
}

/* The fast path reads plain strings, core keys and literals itself and
 * hands anything else to the scanner: the verdicts and messages are the
 * scanner's. */
static void test_fast_path(void)
{
	/* byte offsets of JSON errors met on the way */
	CHECK(rejects("{\"specversion\":\"1.0\x01\"}", "", "invalid JSON at byte 20: control character in string"));
	CHECK(rejects("{\"spec\x01version\":\"1.0\"}", "", "invalid JSON at byte 7: control character"));
	CHECK(rejects("{\"specversion", "", "invalid JSON at byte 14: unterminated string"));
	CHECK(rejects("{\"specversion\"", "", "invalid JSON at byte 15: expected ':'"));
	CHECK(rejects("{\"id", "", "invalid JSON at byte 5: unterminated string"));
	CHECK(rejects("{\"id\":\"abc", "", "invalid JSON at byte 11: unterminated string"));
	CHECK(rejects("{\"id\":\"abcdefghijklmnopq", "", "invalid JSON at byte 25: unterminated string"));
	CHECK(rejects("{\"id\":\"a\\qb\"}", "", "invalid JSON at byte 9: invalid escape"));
	CHECK(rejects("{\"x\":nul", "", "invalid JSON at byte 6: invalid literal"));
	CHECK(rejects("{\"x\":nullx}", "", "invalid JSON at byte 10: expected ',' or '}'"));
	CHECK(rejects("{\"x\":tru}", "", "invalid JSON at byte 6: invalid literal"));
	CHECK(rejects("{\"x\":fals", "", "invalid JSON at byte 6: invalid literal"));
	CHECK(rejects("{\"x\":true", "", "invalid JSON at byte 10: unexpected end of input"));
	CHECK(rejects("{\"x\":\"\xc3\"}", "", "invalid UTF-8"));
	/* keys that start like core names */
	CHECK(accepts("{" MIN ",\"specversionx\":1,\"ids\":2,\"datax\":3,\"typ\":\"4\",\"timer\":true}"));
	CHECK(rejects("{" MIN ",\"data_base6\":1}", "data_base6", "invalid extension name"));
	CHECK(rejects("{" MIN ",\"Type\":1}", "Type", "invalid extension name"));
	/* DEL and C1 controls: valid JSON, not valid CloudEvents Strings */
	CHECK(rejects("{" MIN ",\"subject\":\"a\x7f\"}", "subject", "control character"));
	CHECK(rejects("{" MIN ",\"subject\":\"abcdefghijk\x7fz\"}", "subject", "control character"));
	CHECK(rejects("{" MIN ",\"subject\":\"a\xc2\x85\"}", "subject", "control character"));
	CHECK(rejects("{" MIN ",\"e\":\"a\\u007f\"}", "e", "control character"));
	CHECK(rejects("{" MIN ",\"e\x7f\":1}", "e?", "invalid extension name"));
	CHECK(accepts("{" MIN ",\"subject\":\"~ !#$%&'()*+,-./:;<=>?@[]^_`{|}\"}"));
	/* specversion and datacontenttype shortcuts */
	CHECK(rejects("{\"specversion\":\"1.00\",\"id\":\"x\",\"source\":\"/s\",\"type\":\"t\"}", "specversion", NULL));
	CHECK(rejects("{\"specversion\":\"1.\",\"id\":\"x\",\"source\":\"/s\",\"type\":\"t\"}", "specversion", NULL));
	CHECK(accepts("{\"specversion\":\"\\u0031.0\",\"id\":\"x\",\"source\":\"/s\",\"type\":\"t\"}"));
	CHECK(accepts("{" MIN ",\"datacontenttype\":\"application/json\"}"));
	CHECK(accepts("{" MIN ",\"datacontenttype\":\"application/jsonx\"}"));
	CHECK(accepts("{" MIN ",\"datacontenttype\":\"application/json; charset=utf-8\"}"));
	CHECK(rejects("{" MIN ",\"datacontenttype\":\"application/json \"}", "datacontenttype", "media type"));
	CHECK(rejects("{" MIN ",\"datacontenttype\":\"application/\"}", "datacontenttype", "media type"));
	/* the input is not NUL-terminated: parse_copy gives ASan exact bounds */
	for (size_t n = 0; n < sizeof CANON - 1; n++) {
		cloudevent ev;
		ce_error err;
		char *keep = NULL;
		CHECK_INT(parse_copy(&ev, CANON, n, &err, &keep), -1);
		free(keep);
	}
}

static void test_accessors(void)
{
	cloudevent ev;
	ce_error err;
	char *keep;
	CHECK_INT(parse_str(&ev, "{\"specversion\":\"1.0\",\"id\":\"a\\\"b\",\"source\":\"/s\",\"type\":\"t\","
				 "\"n\":42,\"b\":false,\"s\":\"x\\u00e9\",\"partitionkey\":\"k1\"}", &err, &keep), 0);
	buf b;
	buf_init(&b, 0);
	CHECK_INT(ce_attr_value(&ev.id, &b), 0);
	CHECK_STR(b.data, "a\"b");
	buf_reset(&b);
	CHECK_INT(ce_attr_value(&ev.subject, &b), 0); /* absent: nothing */
	CHECK_INT(b.len, 0);
	const ce_attr *a = ce_find_extension(&ev, "n");
	CHECK(a != NULL);
	if (a) {
		CHECK_INT(a->type, JSON_NUMBER);
		CHECK_INT(ce_attr_value(a, &b), 0);
		CHECK_STR(b.data, "42");
	}
	buf_reset(&b);
	a = ce_find_extension(&ev, "b");
	CHECK(a && a->type == JSON_FALSE);
	if (a) {
		CHECK_INT(ce_attr_value(a, &b), 0);
		CHECK_STR(b.data, "false");
	}
	buf_reset(&b);
	a = ce_find_extension(&ev, "s");
	CHECK(a != NULL);
	if (a) {
		CHECK_INT(ce_attr_value(a, &b), 0);
		CHECK_STR(b.data, "x\xc3\xa9");
	}
	CHECK(ce_find_extension(&ev, "partitionkey") != NULL);
	CHECK(ce_find_extension(&ev, "nope") == NULL);
	CHECK(ce_find_extension(&ev, "id") == NULL);
	CHECK_INT(ev.n_ext, 4);
	buf_free(&b);
	free(keep);

	static const struct {
		const char *ct;
		int json;
	} cts[] = {
		{"", 1},
		{"application/json", 1},
		{"Application/JSON; charset=utf-8", 1},
		{"  text/json ;x=y", 1},
		{"application/cloudevents+json", 1},
		{"application/vnd.api+JSON", 1},
		{"text/plain", 0},
		{"application/jsonx", 0},
		{"application/octet-stream", 0},
		{"+json", 0},
		{"application/x-json-seq", 0},
	};
	for (size_t i = 0; i < sizeof cts / sizeof cts[0]; i++)
		CHECK_INT(ce_content_type_is_json(cts[i].ct, strlen(cts[i].ct)), cts[i].json);
	CHECK_INT(ce_content_type_is_json(NULL, 0), 1);
}

static const char *data_of(const char *in, buf *out)
{
	cloudevent ev;
	ce_error err;
	char *keep = NULL;
	buf_reset(out);
	const char *res = NULL;
	if (parse_str(&ev, in, &err, &keep) == 0 && ce_data_bytes(&ev, out) == 0)
		res = out->data ? out->data : "";
	else
		printf("# data_of %s: %s %s\n", in, err.attribute, err.text);
	free(keep);
	return res ? res : "(failed)";
}

static void test_data_bytes(void)
{
	buf out;
	buf_init(&out, 0);
	CHECK_STR(data_of("{" MIN "}", &out), "");
	CHECK_INT(out.len, 0);
	CHECK_STR(data_of("{" MIN ",\"data\":{ \"a\" : [1, 2] }}", &out), "{\"a\":[1,2]}");
	CHECK_STR(data_of("{" MIN ",\"data\":\"a\\nb\"}", &out), "\"a\\nb\"");
	CHECK_STR(data_of("{" MIN ",\"datacontenttype\":\"application/json\",\"data\":\"a\\nb\"}", &out), "\"a\\nb\"");
	CHECK_STR(data_of("{" MIN ",\"datacontenttype\":\"text/plain\",\"data\":\"a\\nb\"}", &out), "a\nb");
	CHECK_STR(data_of("{" MIN ",\"datacontenttype\":\"text/plain\",\"data\":{\"k\": 1}}", &out), "{\"k\":1}");
	CHECK_STR(data_of("{" MIN ",\"datacontenttype\":\"text/plain\",\"data\":12}", &out), "12");
	CHECK_STR(data_of("{" MIN ",\"data_base64\":\"TWE=\"}", &out), "Ma");
	CHECK_STR(data_of("{" MIN ",\"data_base64\":\"TW\\u0045=\"}", &out), "Ma");
	CHECK_STR(data_of("{" MIN ",\"data_base64\":\"\"}", &out), "");
	/* an escaped base64 text longer than one decoding chunk */
	buf in;
	buf_init(&in, 0);
	CHECK_INT(buf_puts(&in, "{" MIN ",\"data_base64\":\""), 0);
	for (int i = 0; i < 1000; i++)
		CHECK_INT(buf_puts(&in, i == 500 ? "\\/w==" : "QUJD"), 0);
	CHECK_INT(buf_puts(&in, "\"}"), 0);
	CHECK(rejects(in.data, "data_base64", "base64")); /* padding mid-way */
	buf_reset(&in);
	CHECK_INT(buf_puts(&in, "{" MIN ",\"data_base64\":\""), 0);
	for (int i = 0; i < 1000; i++)
		CHECK_INT(buf_puts(&in, i == 500 ? "\\/\\/\\/\\/" : "QUJD"), 0);
	CHECK_INT(buf_puts(&in, "QQ==\"}"), 0);
	const char *d = data_of(in.data, &out);
	CHECK_INT(out.len, 999 * 3 + 3 + 1);
	CHECK(memcmp(d, "ABC", 3) == 0);
	CHECK(memcmp(d + 1500, "\xff\xff\xff", 3) == 0);
	CHECK(d[out.len - 1] == 'A');
	buf_free(&in);
	buf_free(&out);
}

static int parses(const char *ext, ce_error *err)
{
	char line[1024];
	snprintf(line, sizeof line, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"%s}", ext);
	cloudevent ev;
	char *keep = NULL;
	int r = parse_copy(&ev, line, strlen(line), err, &keep);
	free(keep);
	return r;
}

/* The distributed-tracing extension is checked as W3C Trace Context. */
static void test_trace_extension(void)
{
	static const char *good[] = {
		",\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\"",
		",\"traceparent\":\"\\u0030\\u0030-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00\"",
		",\"traceparent\":\"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future\"",
		",\"traceparent\":null",
		",\"tracestate\":\"congo=t61rcWkgMzE,rojo=00f067aa0ba902b7\"",
	};
	static const char *bad_tp[] = {
		",\"traceparent\":\"garbage\"",
		",\"traceparent\":\"00-00000000000000000000000000000000-00f067aa0ba902b7-01\"",
		",\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01\"",
		",\"traceparent\":\"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\"",
		",\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x\"",
		",\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\\u0000\"",
		",\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-\u00e9\"",
	};
	static const char *bad_ts[] = {
		",\"tracestate\":\"=x\"",
		",\"tracestate\":\"a=1,a=2\"",
		",\"tracestate\":\"\"",
	};
	ce_error err;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		int r = parses(good[i], &err);
		if (r != 0)
			printf("# rejected %s: %s\n", good[i], err.text);
		CHECK_INT(r, 0);
	}
	for (size_t i = 0; i < sizeof bad_tp / sizeof bad_tp[0]; i++) {
		CHECK_INT(parses(bad_tp[i], &err), -1);
		CHECK_STR(err.attribute, "traceparent");
	}
	CHECK_INT(parses(bad_tp[0], &err), -1);
	CHECK_STR(err.text, "not a valid W3C traceparent");
	for (size_t i = 0; i < sizeof bad_ts / sizeof bad_ts[0]; i++) {
		CHECK_INT(parses(bad_ts[i], &err), -1);
		CHECK_STR(err.attribute, "tracestate");
	}
	CHECK_INT(parses(",\"traceparent\":1", &err), -1);
	CHECK_STR(err.text, "must be a string, found a number");
	CHECK_INT(parses(",\"tracestate\":true", &err), -1);
}

static void test_string_rule_for_writers(void)
{
	CHECK_INT(ce_string_invalid_at("abc", 3), 3);
	CHECK_INT(ce_string_invalid_at("a\x01", 2), 1);
	CHECK_INT(ce_string_invalid_at("ab\x7f", 3), 2);
	CHECK_INT(ce_string_invalid_at("\xc3\xa9\xc2\x85", 4), 2);   /* U+0085 */
	CHECK_INT(ce_string_invalid_at("x\xef\xbf\xbf", 4), 1);       /* U+FFFF */
	CHECK_INT(ce_string_invalid_at("\xef\xb7\x90", 3), 0);        /* U+FDD0 */
	CHECK_INT(ce_string_invalid_at("\xf0\x9f\x98\x80", 4), 4);   /* U+1F600 */
	CHECK_INT(ce_string_invalid_at("\xf0\x9f\xbf\xbe", 4), 0);   /* U+1FFFE */
	CHECK_INT(ce_string_invalid_at("ok\xff", 3), 2);              /* not UTF-8 */
	json_span t1 = { "\"a\\u0000\"", 10 }, t2 = { "\"plain\"", 7 }, t3 = { "\"\\uffff\"", 8 };
	CHECK_INT(ce_string_token_valid(t1), 0);
	CHECK_INT(ce_string_token_valid(t2), 1);
	CHECK_INT(ce_string_token_valid(t3), 0);
}

/* 1 if span b is span a moved by off bytes (both absent counts). */
static int moved(json_span a, json_span b, const char *base_a, const char *base_b)
{
	if (!a.p || !b.p)
		return !a.p && !b.p && a.n == b.n;
	return a.n == b.n && a.p - base_a == b.p - base_b;
}

static int same_attr(const ce_attr *a, const ce_attr *b, const char *ba, const char *bb)
{
	return moved(a->name, b->name, ba, bb) && moved(a->value, b->value, ba, bb) &&
	       (!a->value.p || a->type == b->type);
}

/* ce_parse of text, and of " " + text (which the canonical fast path
 * never takes: it wants '{' first), give the same verdict, the same error
 * and the same event, span for span. Returns 1 when they agree; *canon
 * tells whether text was found canonical. */
static int agrees_with_general_path(const char *text, int *canon)
{
	size_t n = strlen(text);
	char *a = malloc(n ? n : 1), *b = malloc(n + 1);
	if (!a || !b) {
		free(a);
		free(b);
		return 0;
	}
	memcpy(a, text, n);
	b[0] = ' ';
	memcpy(b + 1, text, n);
	static cloudevent ea, eb;
	ce_error xa, xb;
	int ra = ce_parse(&ea, a, n, &xa), rb = ce_parse(&eb, b, n + 1, &xb);
	int ok = ra == rb;
	if (ok && ra != 0)
		ok = strcmp(xa.attribute, xb.attribute) == 0 &&
		     (strncmp(xa.text, "invalid JSON", 12) == 0 ? strncmp(xb.text, "invalid JSON", 12) == 0
								 : strcmp(xa.text, xb.text) == 0);
	if (ok && ra == 0) {
		ok = same_attr(&ea.specversion, &eb.specversion, a, b + 1) &&
		     same_attr(&ea.id, &eb.id, a, b + 1) && same_attr(&ea.source, &eb.source, a, b + 1) &&
		     same_attr(&ea.type, &eb.type, a, b + 1) &&
		     same_attr(&ea.subject, &eb.subject, a, b + 1) &&
		     same_attr(&ea.time, &eb.time, a, b + 1) &&
		     same_attr(&ea.datacontenttype, &eb.datacontenttype, a, b + 1) &&
		     same_attr(&ea.dataschema, &eb.dataschema, a, b + 1) && ea.n_ext == eb.n_ext &&
		     ea.data_kind == eb.data_kind && moved(ea.data, eb.data, a, b + 1) &&
		     (!ea.data.p || ea.data_type == eb.data_type) &&
		     moved(ea.canonical, eb.canonical, a, b + 1) &&
		     moved(ea.data_compact, eb.data_compact, a, b + 1);
		for (size_t i = 0; ok && i < ea.n_ext; i++)
			ok = same_attr(&ea.ext[i], &eb.ext[i], a, b + 1);
		*canon = ea.canonical.p == a && ea.canonical.n == n;
	}
	if (!ok)
		printf("# fast and general path differ on %s\n", text);
	free(a);
	free(b);
	return ok;
}

/* The canonical fast path (outbox rows): whatever it sees, the event or
 * the error is the general path's. */
static void test_canonical_fast_path(void)
{
#define SV "{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"/s\",\"type\":\"t\""
	static const struct {
		const char *text;
		int valid, canonical;
	} cases[] = {
		{SV "}", 1, 1},
		{SV ",\"subject\":\"s\",\"time\":\"2026-11-27T09:51:38.000001Z\",\"datacontenttype\":"
		    "\"application/json\",\"dataschema\":\"https://x/s\",\"a1\":\"v\",\"b\":true,\"c\":false,"
		    "\"partitionkey\":\"k\",\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-"
		    "00f067aa0ba902b7-01\",\"tracestate\":\"rojo=1,congo=2\",\"data\":{\"a\":[1,2.5e3,null],"
		    "\"b\":\"x\"}}", 1, 1},
		{SV ",\"data\":\"text\"}", 1, 1},
		{SV ",\"data\":123}", 1, 1},
		{SV ",\"data\":[]}", 1, 1},
		{SV ",\"data_base64\":\"AAEC\"}", 1, 1},
		{SV ",\"data_base64\":\"\"}", 1, 1},
		{SV ",\"datacontenttype\":\"text/plain;charset=utf-8\",\"data\":\"x\"}", 1, 1},
		{SV ",\"n\":7}", 1, 1},                 /* integers: general path */
		{SV ",\"e\":\"\\u00e9\"}", 1, 1},       /* escapes: general path */
		{SV ",\"e\":\"\xc3\xa9\"}", 1, 1},      /* UTF-8: general path */
		{SV ",\"data\":{\"a\" : 1}}", 1, 0},    /* whitespace in data */
		/* flat data objects (read without the full scanner) */
		{SV ",\"data\":{}}", 1, 1},
		{SV ",\"data\":{\"a\":\"x\",\"b\":true,\"c\":false,\"d\":null,\"e\":-0,\"f\":0.5E-3,"
		    "\"g\":12e+7,\"h\":-3.25,\"i\":1E9}}", 1, 1},
		{SV ",\"data\":{\"a\":{\"b\":[1]}}}", 1, 1},
		{SV ",\"data\":{\"a\":\"\\n\",\"\\u0062\":\"\x7f\xc3\xa9\"}}", 1, 1},
		{SV ",\"data\":{\"a\":01}}", 0, 0},
		{SV ",\"data\":{\"a\":-}}", 0, 0},
		{SV ",\"data\":{\"a\":1.}}", 0, 0},
		{SV ",\"data\":{\"a\":1e}}", 0, 0},
		{SV ",\"data\":{\"a\":1e+}}", 0, 0},
		{SV ",\"data\":{\"a\":.5}}", 0, 0},
		{SV ",\"data\":{\"a\":+1}}", 0, 0},
		{SV ",\"data\":{\"a\":1x}}", 0, 0},
		{SV ",\"data\":{\"a\":nul}}", 0, 0},
		{SV ",\"data\":{\"a\":\"x\",}}", 0, 0},
		{SV ",\"data\":{\"a\"}}", 0, 0},
		{SV ",\"data\":{\"a\":\"\x01\"}}", 0, 0},
		{SV ",\"data\":{\"a\":1}", 0, 0},
		{SV ",\"data\":{\"a\":1},\"e\":\"x\"}", 1, 0},
		{SV ",\"data\":null}", 1, 0},
		{SV ",\"e\":null}", 1, 0},
		{SV ",\"b\":\"1\",\"a\":\"2\"}", 1, 0}, /* extensions out of order */
		{SV ",\"data\":1,\"e\":\"x\"}", 1, 0},  /* extension after data */
		{"{\"id\":\"i\",\"specversion\":\"1.0\",\"source\":\"/s\",\"type\":\"t\"}", 1, 0},
		{SV ",\"time\":\"2026-11-27T09:51:38Z\",\"subject\":\"s\"}", 1, 0},
		/* canonical shape, invalid: the general path's errors */
		{SV ",\"a\":\"1\",\"a\":\"2\"}", 0, 0},
		{SV ",\"type\":\"u\"}", 0, 0},
		{SV ",\"data\":1,\"data_base64\":\"AA==\"}", 0, 0},
		{SV ",\"data\":1,\"data\":2}", 0, 0},
		{SV ",\"data_base64\":\"AAE\"}", 0, 0},
		{SV ",\"time\":\"2026-13-27T09:51:38Z\"}", 0, 0},
		{SV ",\"subject\":\"\"}", 0, 0},
		{SV ",\"datacontenttype\":\"json\"}", 0, 0},
		{SV ",\"dataschema\":\"/relative\"}", 0, 0},
		{SV ",\"Ab\":\"1\"}", 0, 0},
		{SV ",\"a_b\":\"1\"}", 0, 0},
		{SV ",\"\":\"1\"}", 0, 0},
		{SV ",\"e\":1.5}", 0, 0},
		{SV ",\"e\":{}}", 0, 0},
		{SV ",\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01\"}", 0, 0},
		{SV ",\"traceparent\":true}", 0, 0},
		{SV ",\"tracestate\":\"\"}", 0, 0},
		{SV ",\"tracestate\":\"a=1,a=2\"}", 0, 0},
		{"{\"specversion\":\"0.3\",\"id\":\"i\",\"source\":\"/s\",\"type\":\"t\"}", 0, 0},
		{"{\"specversion\":\"1.0\",\"id\":\"\",\"source\":\"/s\",\"type\":\"t\"}", 0, 0},
		{"{\"specversion\":\"1.0\",\"source\":\"/s\",\"type\":\"t\"}", 0, 0},
		{"{\"specversion\":\"1.0\",\"id\":\"i\",\"source\":\"/s\"}", 0, 0},
		{SV ",}", 0, 0},
		{SV ",\"e\":\"x\",}", 0, 0},
		{SV "}}", 0, 0},
		{SV ",\"e\":\"x\"", 0, 0},
		{SV ",\"e\":tru}", 0, 0},
		{SV ",\"e\":\"x\"}x", 0, 0},
		{"{}", 0, 0},
		{"{\"", 0, 0},
		{"{\"id\"}", 0, 0},
	};
	/* keys one letter away from a core name, where the fast path looks
	 * for core names: before and after the required attributes */
	static const char *const names[] = {"specversion", "id", "source", "type", "subject", "time",
					    "datacontenttype", "dataschema", "data", "data_base64"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		for (size_t k = 0; k <= strlen(names[i]); k++)
			for (int how = 0; how < 3; how++) {
				char name[32], ev[256];
				size_t nl = strlen(names[i]);
				memcpy(name, names[i], nl + 1);
				if (how == 0 && k < nl)
					name[k] = name[k] == 'q' ? 'r' : 'q';
				else if (how == 1) { /* one letter more */
					memmove(name + k + 1, name + k, nl - k + 1);
					name[k] = 'q';
				} else if (how == 2 && k < nl) { /* one letter less */
					memmove(name + k, name + k + 1, nl - k);
				}
				snprintf(ev, sizeof ev, "{\"%s\":\"1.0\",%s}", name, SV + 1);
				int canon;
				CHECK(agrees_with_general_path(ev, &canon));
				snprintf(ev, sizeof ev, SV ",\"%s\":\"application/json\"}", name);
				CHECK(agrees_with_general_path(ev, &canon));
			}
	/* extension names of 1..40 characters (the fast path reads them 16
	 * at a time), with a character outside [a-z0-9] at every position:
	 * the neighbours of both ranges, upper case, punctuation, UTF-8 */
	static const char odd[] = {'`', '{', '/', ':', 'A', 'Z', '_', '-', '.', '@', '~', ' ',
				   (char)0xC3, (char)0x80, (char)0xE9};
	int name_fails = 0;
	for (size_t nl = 1; nl <= 40; nl++)
		for (size_t k = 0; k <= nl; k++)
			for (size_t o = 0; o < (k < nl ? sizeof odd : 1); o++) {
				char name[48], ev[160];
				for (size_t j = 0; j < nl; j++)
					name[j] = j % 3 == 2 ? (char)('0' + j % 10) : (char)('a' + j % 26);
				name[nl] = '\0';
				if (k < nl)
					name[k] = odd[o];
				snprintf(ev, sizeof ev, SV ",\"%s\":\"v\"}", name);
				int canon = 0;
				if (!agrees_with_general_path(ev, &canon))
					name_fails++;
				cloudevent e;
				ce_error err;
				char *keep = NULL;
				int r = parse_str(&e, ev, &err, &keep);
				free(keep);
				if ((r == 0) != (k == nl) || (r == 0 && !canon))
					name_fails++;
			}
	CHECK_INT(name_fails, 0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int canon = -1;
		CHECK(agrees_with_general_path(cases[i].text, &canon));
		cloudevent ev;
		ce_error err;
		char *keep = NULL;
		int r = parse_str(&ev, cases[i].text, &err, &keep);
		free(keep);
		if ((r == 0) != cases[i].valid || (r == 0 && canon != cases[i].canonical)) {
			printf("# case %zu: r=%d canonical=%d: %s\n", i, r, canon, cases[i].text);
			CHECK(0);
		}
		/* every prefix, cut anywhere: a JSON error either way */
		size_t n = strlen(cases[i].text);
		for (size_t k = 0; k < n; k++) {
			char *cut = malloc(k + 1);
			if (!cut)
				break;
			memcpy(cut, cases[i].text, k);
			cut[k] = '\0';
			int c2;
			CHECK(agrees_with_general_path(cut, &c2));
			free(cut);
		}
	}
#undef SV
}

int main(void)
{
	RUN(test_conformance_valid);
	RUN(test_conformance_invalid);
	RUN(test_conformance_batches);
	RUN(test_batch_misc);
	RUN(test_required);
	RUN(test_json_errors);
	RUN(test_duplicates);
	RUN(test_optional);
	RUN(test_string_chars);
	RUN(test_extensions);
	RUN(test_data);
	RUN(test_write);
	RUN(test_canonical);
	RUN(test_canonical_edited);
	RUN(test_fast_path);
	RUN(test_canonical_fast_path);
	RUN(test_accessors);
	RUN(test_data_bytes);
	RUN(test_trace_extension);
	RUN(test_string_rule_for_writers);
	return unit_done();
}
