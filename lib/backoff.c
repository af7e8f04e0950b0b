/* backoff.c - see backoff.h. */
#include "backoff.h"
#include "rand.h"

uint64_t backoff_delay_ms(uint64_t min_ms, uint64_t max_ms, unsigned failed)
{
	uint64_t ceil = min_ms;
	for (unsigned i = 1; i < failed && ceil < max_ms; i++)
		ceil = ceil > max_ms / 2 ? max_ms : ceil * 2;
	if (ceil > max_ms)
		ceil = max_ms;
	if (ceil <= min_ms)
		return min_ms;
	uint64_t rnd = 0;
	if (rand_bytes(&rnd, sizeof rnd) != 0)
		return ceil; /* no randomness: the ceiling is still a valid delay */
	return min_ms + rnd % (ceil - min_ms + 1);
}
