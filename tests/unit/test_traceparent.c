/* test_traceparent.c - W3C Trace Context level 1 parsing and tracestate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traceparent.h"
#include "unit.h"

static int parse_str(traceparent *tp, const char *s)
{
	return traceparent_parse(tp, s, strlen(s));
}

static void test_spec_examples(void)
{
	traceparent tp;
	const char *ex = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
	CHECK_INT(parse_str(&tp, ex), 0);
	CHECK_INT(tp.version, 0);
	CHECK_INT(tp.flags, 1);
	CHECK_INT(tp.trace_id[0], 0x4b);
	CHECK_INT(tp.trace_id[15], 0x36);
	CHECK_INT(tp.parent_id[0], 0x00);
	CHECK_INT(tp.parent_id[7], 0xb7);
	char out[TRACEPARENT_LEN + 1];
	traceparent_format(&tp, out);
	CHECK_STR(out, ex);
	const char *ex2 = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
	CHECK_INT(parse_str(&tp, ex2), 0);
	CHECK_INT(tp.flags, 0);
	traceparent_format(&tp, out);
	CHECK_STR(out, ex2);
}

static void test_versions(void)
{
	traceparent tp;
	/* Higher versions: the first 55 characters as 00, then '-' or end. */
	CHECK_INT(parse_str(&tp, "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), 0);
	CHECK_INT(tp.version, 1);
	CHECK_INT(parse_str(&tp, "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like"), 0);
	CHECK_INT(tp.version, 0xcc);
	char out[TRACEPARENT_LEN + 1];
	traceparent_format(&tp, out);
	CHECK_STR(out, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
	CHECK_INT(parse_str(&tp, "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what"), -1);
	CHECK_INT(parse_str(&tp, "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-"), 0);
	CHECK_INT(parse_str(&tp, "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), -1);
	/* Version 00 must be exactly 55 characters. */
	CHECK_INT(parse_str(&tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-"), -1);
	CHECK_INT(parse_str(&tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xx"), -1);
}

static void test_invalid(void)
{
	static const char *bad[] = {
		"",
		"00",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",  /* short */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", /* upper */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
		"0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01", /* zero */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
		"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
		"00-4bf92f3577b34da6a3ce929d0e0e47-3600f067aa0ba902b7-01",
		" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
		"0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"-0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		traceparent tp;
		memset(&tp, 0x5a, sizeof tp);
		if (parse_str(&tp, bad[i]) != -1) {
			printf("# accepted %s\n", bad[i]);
			CHECK(0);
		}
		CHECK_INT(tp.version, 0x5a); /* untouched on failure */
	}
	/* n is honoured: bytes past it are not part of the value. */
	traceparent tp;
	const char *ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01junk";
	CHECK_INT(traceparent_parse(&tp, ok, 55), 0);
	CHECK_INT(traceparent_parse(&tp, ok, 54), -1);
}

static int zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static void test_root_and_child(void)
{
	traceparent root, child, back;
	char s[TRACEPARENT_LEN + 1];
	CHECK_INT(traceparent_new_root(&root), 0);
	CHECK(!zero(root.trace_id, 16));
	CHECK(!zero(root.parent_id, 8));
	CHECK_INT(root.flags, 1);
	CHECK_INT(root.version, 0);
	traceparent_format(&root, s);
	CHECK_INT(strlen(s), TRACEPARENT_LEN);
	CHECK_INT(traceparent_parse(&back, s, strlen(s)), 0);
	CHECK(memcmp(&back, &root, sizeof back) == 0);

	CHECK_INT(traceparent_child(&root, &child), 0);
	CHECK(memcmp(child.trace_id, root.trace_id, 16) == 0);
	CHECK(memcmp(child.parent_id, root.parent_id, 8) != 0);
	CHECK(!zero(child.parent_id, 8));
	CHECK_INT(child.flags, root.flags);

	/* A child of an unsampled higher-version parent keeps the flags and
	 * speaks version 00. */
	CHECK_INT(parse_str(&back, "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"), 0);
	CHECK_INT(traceparent_child(&back, &child), 0);
	CHECK_INT(child.flags, 0);
	CHECK_INT(child.version, 0);
	traceparent_format(&child, s);
	CHECK(strncmp(s, "00-4bf92f3577b34da6a3ce929d0e0e4736-", 36) == 0);
	CHECK(strcmp(s + 36, "00f067aa0ba902b7-00") != 0);

	traceparent r2;
	CHECK_INT(traceparent_new_root(&r2), 0);
	CHECK(memcmp(r2.trace_id, root.trace_id, 16) != 0);
}

static int ts(const char *s)
{
	return tracestate_check(s, strlen(s));
}

static void build_members(char *out, size_t cap, int n, const char *sep)
{
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		char m[32];
		snprintf(m, sizeof m, "%sk%d=v%d", i ? sep : "", i, i);
		strncat(out, m, cap - strlen(out) - 1);
	}
}

static void test_tracestate(void)
{
	static const char *good[] = {
		"congo=t61rcWkgMzE",
		"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
		"rojo=00f067aa0ba902b7 , congo=t61rcWkgMzE",
		"rojo=00f067aa0ba902b7\t,\tcongo=t61rcWkgMzE",
		"foo=1,,bar=2",
		"foo=1,  ,bar=2",
		",foo=1",
		"foo=1,",
		"foo=1 ",
		" foo=1",
		"tenant@system=x",
		"0tenant@s=x",
		"a*b/c_d-e=x",
		"foo=a b",
		"foo= a",                  /* leading space is a chr */
		"foo=!\"#$%&'()*+-./:;<>?@[\\]^_`{|}~",
		"foo=1,bar@baz=1",         /* simple and multi-tenant keys differ */
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		if (ts(good[i]) != 0) {
			printf("# rejected [%s]\n", good[i]);
			CHECK(0);
		}
	}
	static const char *bad[] = {
		"",
		",",
		" , ,",
		"foo",
		"foo=",
		"=1",
		"Foo=1",                   /* uppercase key */
		"0foo=1",                  /* simple key must start a-z */
		"foo bar=1",
		"foo=1,foo=2",             /* duplicate */
		"foo=1, foo=2",
		"foo=a=b",
		"foo=a\tb",
		"foo=\x7f",
		"foo=\xc3\xa9",
		"foo=1;bar=2",
		"@s=x",                    /* empty tenant */
		"t@=x",
		"t@0s=x",                  /* system must start a-z */
		"t@s@u=x",
		"t@abcdefghijklmno=x",     /* system-id 15 chars */
		"_t@s=x",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (ts(bad[i]) != -1) {
			printf("# accepted [%s]\n", bad[i]);
			CHECK(0);
		}
	}
	/* Length limits. */
	char s[2048];
	memset(s, 'k', 256);
	memcpy(s + 256, "=v", 3);
	CHECK_INT(ts(s), 0);                         /* key 256 */
	memset(s, 'k', 257);
	memcpy(s + 257, "=v", 3);
	CHECK_INT(ts(s), -1);                        /* key 257 */
	memset(s, 't', 241);
	memcpy(s + 241, "@abcdefghijklmn=v", 18);
	CHECK_INT(ts(s), 0);                         /* tenant 241, system 14 */
	memset(s, 't', 242);
	memcpy(s + 242, "@s=v", 5);
	CHECK_INT(ts(s), -1);                        /* tenant 242 */
	memcpy(s, "k=", 2);
	memset(s + 2, 'v', 256);
	s[258] = '\0';
	CHECK_INT(ts(s), 0);                         /* value 256 */
	memset(s + 2, 'v', 257);
	s[259] = '\0';
	CHECK_INT(ts(s), -1);                        /* value 257 */
	/* Member count: 32 ok, 33 not; empty members do not count. */
	build_members(s, sizeof s, 32, ",");
	CHECK_INT(ts(s), 0);
	build_members(s, sizeof s, 32, " , ,");
	CHECK_INT(ts(s), 0);
	build_members(s, sizeof s, 33, ",");
	CHECK_INT(ts(s), -1);
	/* n is honoured. */
	CHECK_INT(tracestate_check("foo=1,Bad", 5), 0);
}

/* traceparent_check (eight digits at a time) gives traceparent_parse's
 * verdict: every byte value at every position of valid values of several
 * versions, at several lengths, each copied to a buffer of exactly its
 * length (ASan sees any read past it). */
static void test_check_agrees(void)
{
	static const char *base[] = {
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
		"fe-00000000000000000000000000000001-0000000000000001-ff",
		"00-10000000000000000000000000000000-1000000000000000-01",
		"00-abcdef0123456789abcdef0123456789-0123456789abcdef-0f",
	};
	static const char *tails[] = {"", "-", "-x", "x", "--"};
	int disagree = 0, cases = 0;
	for (size_t b = 0; b < sizeof base / sizeof base[0]; b++)
		for (size_t t = 0; t < sizeof tails / sizeof tails[0]; t++) {
			char v[64];
			size_t n = (size_t)snprintf(v, sizeof v, "%s%s", base[b], tails[t]);
			for (size_t k = 0; k <= n; k++)
				for (unsigned c = 0; c < 256; c++) {
					/* k == n: the value cut short by one */
					size_t len = k == n ? n - 1 : n;
					char *x = malloc(len);
					if (!x)
						return;
					memcpy(x, v, len);
					if (k < n)
						x[k] = (char)c;
					traceparent tp;
					int want = traceparent_parse(&tp, x, len);
					disagree += traceparent_check(x, len) != want;
					cases++;
					free(x);
					if (k == n)
						break;
				}
		}
	CHECK_INT(disagree, 0);
	CHECK(cases > 50000);
	/* the cases the spec names */
	CHECK_INT(traceparent_check("00-00000000000000000000000000000000-00f067aa0ba902b7-01", 55), -1);
	CHECK_INT(traceparent_check("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", 55), -1);
	CHECK_INT(traceparent_check("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 55), -1);
	CHECK_INT(traceparent_check("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", 55), -1);
	CHECK_INT(traceparent_check("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 55), 0);
}

/* traceparent_child_text: traceparent_child then traceparent_format,
 * from the text. */
static void test_child_text(void)
{
	static const char *parents[] = {
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
		"cc-abcdef0123456789abcdef0123456789-0123456789abcdef-ff-future",
	};
	for (size_t i = 0; i < sizeof parents / sizeof parents[0]; i++) {
		const char *p = parents[i];
		traceparent parent, child, viatext;
		char a[TRACEPARENT_LEN + 1], b[TRACEPARENT_LEN + 1];
		CHECK_INT(parse_str(&parent, p), 0);
		CHECK_INT(traceparent_child(&parent, &child), 0);
		traceparent_format(&child, a);
		memset(b, 'x', sizeof b);
		CHECK_INT(traceparent_child_text(p, b), 0);
		CHECK_INT(strlen(b), TRACEPARENT_LEN);
		CHECK_INT(traceparent_parse(&viatext, b, strlen(b)), 0);
		CHECK_INT(viatext.version, 0);
		CHECK(memcmp(viatext.trace_id, parent.trace_id, 16) == 0);
		CHECK_INT(viatext.flags, parent.flags);
		CHECK(memcmp(viatext.parent_id, parent.parent_id, 8) != 0);
		/* the same text as the struct way, but for the random id */
		CHECK(memcmp(a, b, 36) == 0 && memcmp(a + 52, b + 52, 4) == 0);
	}
	/* the formatter's digits, every byte value in every position */
	traceparent t;
	memset(&t, 0, sizeof t);
	for (unsigned c = 0; c < 256; c++) {
		char o[TRACEPARENT_LEN + 1], want[3];
		for (size_t k = 0; k < 16; k++)
			t.trace_id[k] = (uint8_t)(c + k);
		for (size_t k = 0; k < 8; k++)
			t.parent_id[k] = (uint8_t)(c * 7 + k);
		t.flags = (uint8_t)c;
		traceparent_format(&t, o);
		for (size_t k = 0; k < 16; k++) {
			snprintf(want, sizeof want, "%02x", (unsigned)t.trace_id[k]);
			CHECK(memcmp(o + 3 + 2 * k, want, 2) == 0);
		}
		for (size_t k = 0; k < 8; k++) {
			snprintf(want, sizeof want, "%02x", (unsigned)t.parent_id[k]);
			CHECK(memcmp(o + 36 + 2 * k, want, 2) == 0);
		}
		snprintf(want, sizeof want, "%02x", c);
		CHECK(memcmp(o + 53, want, 2) == 0);
	}
}

int main(void)
{
	RUN(test_spec_examples);
	RUN(test_versions);
	RUN(test_invalid);
	RUN(test_root_and_child);
	RUN(test_tracestate);
	RUN(test_check_agrees);
	RUN(test_child_text);
	return unit_done();
}
