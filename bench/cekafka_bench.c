/* cekafka_bench.c - cost of building Kafka messages from outbox events
 * (lib/cekafka), the relay's per-row work before librdkafka.
 *
 *   cekafka_bench [N] [binary|structured]
 *
 * Builds N distinct canonical events of about 360 bytes (JSON data, three
 * extensions: partitionkey, traceparent, tracestate) in memory first, then
 * times cekafka_encode + cekafka_hop_headers over them and prints events/s
 * and ns/event. Built and run by bench/cekafka.sh; for instructions/event
 * run it under valgrind --tool=callgrind (the script does, with N/20). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cekafka.h"

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	enum cekafka_mode mode = argc > 2 && strcmp(argv[2], "structured") == 0 ? CEKAFKA_STRUCTURED
										  : CEKAFKA_BINARY;
	if (n <= 0)
		return 64;
	buf all;
	buf_init(&all, 0);
	size_t *off = malloc((size_t)(n + 1) * sizeof *off);
	if (!off)
		return 70;
	for (long i = 0; i < n; i++) {
		off[i] = all.len;
		if (buf_printf(&all,
			       "{\"specversion\":\"1.0\",\"id\":\"0190a1b2-c3d4-7e5f-8a9b-%012ld\","
			       "\"source\":\"/wallet-hub\",\"type\":\"FundsAddedEvent\","
			       "\"time\":\"2026-11-27T09:51:38.%06ldZ\",\"datacontenttype\":\"application/json\","
			       "\"partitionkey\":\"w-%08ld\",\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-"
			       "00f067aa0ba902b7-01\",\"tracestate\":\"rojo=00f067aa0ba902b7\",\"data\":{\"walletId\":"
			       "\"w-%08ld\",\"amount\":%ld.%02ld,\"currency\":\"EUR\"}}",
			       i, i % 1000000, i % 50000, i % 50000, i % 1000, i % 100) != 0)
			return 70;
	}
	off[n] = all.len;

	cekafka_msg m;
	buf scratch;
	buf_init(&scratch, 1 << 20);
	errinfo err;
	size_t check = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		if (cekafka_encode(&m, all.data + off[i], off[i + 1] - off[i], mode, &scratch, &err) != 0 ||
		    cekafka_hop_headers(&m, NULL, &err) != 0) {
			fprintf(stderr, "cekafka_bench: %s\n", err.text);
			return 70;
		}
		check += m.n_headers + m.value_len + m.key_len;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("cekafka_encode+hop %s: %ld events of %zu bytes avg in %.3f s: %.0f events/s, %.0f "
	       "ns/event (check %zu)\n",
	       mode == CEKAFKA_BINARY ? "binary" : "structured", n, all.len / (size_t)n, s, n / s,
	       s * 1e9 / n, check);
	buf_free(&all);
	buf_free(&scratch);
	free(off);
	return 0;
}
