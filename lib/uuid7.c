/* uuid7.c - see uuid7.h */
#include "uuid7.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "rand.h"

/* Process-wide generator state: the last timestamp used and the counter
 * within it. One lock so that ids are increasing across threads too; it
 * is uncontended in the tools, where one thread makes the ids. */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_ms;
static unsigned counter; /* 12 bits */

static const char hex_pairs[513] =
	"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
	"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
	"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
	"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
	"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
	"c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
	"e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

/* 8-4-4-4-12: a dash after bytes 4, 6, 8 and 10. */
static void format(const unsigned char b[16], char out[UUID_STR_LEN + 1])
{
	char *o = out;
	for (int i = 0; i < 16; i++) {
		memcpy(o, hex_pairs + 2 * b[i], 2);
		o += 2;
		if (i == 3 || i == 5 || i == 7 || i == 9)
			*o++ = '-';
	}
	*o = '\0';
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0; /* cannot fail for CLOCK_REALTIME; 0 still yields
			   * increasing ids from the saved state */
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A fresh counter value with its top bit clear: at least 2048 ids then
 * fit in a millisecond before the counter overflows. */
static int seed_counter(unsigned *c)
{
	unsigned char r[2];
	if (rand_bytes(r, sizeof r) != 0)
		return -1;
	*c = ((unsigned)r[0] << 8 | r[1]) & 0x7ff;
	return 0;
}

int uuid7_generate_ms(uint64_t ms_now, char out[UUID_STR_LEN + 1])
{
	/* rand_b is drawn before taking the lock to keep the critical
	 * section short; the counter seed only when a new millisecond
	 * starts (the pool is per thread, so drawing under the lock is
	 * safe). */
	unsigned char rnd[8];
	if (rand_bytes(rnd, sizeof rnd) != 0)
		return -1;
	ms_now &= UINT64_C(0xffffffffffff);

	if (pthread_mutex_lock(&state_lock) != 0)
		return -1;
	int rc = 0;
	if (ms_now > last_ms) {
		unsigned seed;
		rc = seed_counter(&seed);
		if (rc == 0) {
			last_ms = ms_now;
			counter = seed;
		}
	} else if (counter < 0xfff) {
		/* Same millisecond, or the clock went back: stay on the saved
		 * timestamp and count up, so ids never go backwards. */
		counter++;
	} else {
		/* Counter exhausted: borrow the next millisecond (RFC 9562
		 * section 6.2, method 1). */
		unsigned seed;
		rc = seed_counter(&seed);
		if (rc == 0) {
			last_ms++;
			counter = seed;
		}
	}
	uint64_t ms = last_ms;
	unsigned ctr = counter;
	pthread_mutex_unlock(&state_lock);
	if (rc != 0)
		return -1;

	unsigned char b[16];
	b[0] = (unsigned char)(ms >> 40);
	b[1] = (unsigned char)(ms >> 32);
	b[2] = (unsigned char)(ms >> 24);
	b[3] = (unsigned char)(ms >> 16);
	b[4] = (unsigned char)(ms >> 8);
	b[5] = (unsigned char)ms;
	b[6] = (unsigned char)(0x70 | ctr >> 8); /* version 7 */
	b[7] = (unsigned char)ctr;
	memcpy(b + 8, rnd, 8);
	b[8] = (unsigned char)(0x80 | (b[8] & 0x3f)); /* variant 10 */
	format(b, out);
	return 0;
}

int uuid7_generate(char out[UUID_STR_LEN + 1])
{
	return uuid7_generate_ms(now_ms(), out);
}

int uuid4_generate(char out[UUID_STR_LEN + 1])
{
	unsigned char b[16];
	if (rand_bytes(b, sizeof b) != 0)
		return -1;
	b[6] = (unsigned char)(0x40 | (b[6] & 0x0f));
	b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
	format(b, out);
	return 0;
}
