/* replay.c - run a libFuzzer target over files given as arguments, so the
 * seed corpus (and any crash reproducer) runs in the normal test suite
 * without clang. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f) {
			perror(argv[i]);
			return 1;
		}
		static uint8_t data[1 << 20];
		size_t n = fread(data, 1, sizeof data, f);
		int bad = ferror(f);
		fclose(f);
		if (bad) {
			perror(argv[i]);
			return 1;
		}
		/* A copy of exactly n bytes so ASan sees reads past the end. */
		uint8_t *copy = malloc(n ? n : 1);
		if (!copy)
			return 1;
		for (size_t k = 0; k < n; k++)
			copy[k] = data[k];
		LLVMFuzzerTestOneInput(copy, n);
		free(copy);
	}
	return 0;
}
