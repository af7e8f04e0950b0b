/* fuzz_kafkaconf.c - libFuzzer target for the -F property-file parser.
 * The input becomes a file (memfd, read back through /proc/self/fd); a
 * parse that succeeds must build or fail cleanly, and a secret value must
 * never appear in any error message. */
#include "diag.h"
#include "exitcode.h"
#include "kafkaconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "s3cr3t-never-shown"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("props", 0);
	if (fd < 0)
		return 0;
	/* A known secret first, so leaks of it can be checked for. */
	static const char head[] = "sasl.password=" SECRET "\n";
	if (write(fd, head, sizeof head - 1) != (ssize_t)(sizeof head - 1) ||
	    (size && write(fd, data, size) != (ssize_t)size)) {
		close(fd);
		return 0;
	}
	/* If the input spells the secret itself (as a property name, say), a
	 * message may rightly quote it: the leak check needs a clean input. */
	int check_leak = !memmem(data, size, SECRET, sizeof SECRET - 1);
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	kafkaconf *kc = kafkaconf_new();
	if (!kc)
		abort();
	errinfo err = { 0 };
	int rc = kafkaconf_load_file(kc, path, &err);
	if (rc != 0) {
		if (rc != EXIT_CONFIG && rc != EXIT_IOERR && rc != EXIT_NOINPUT)
			abort();
		if (check_leak && strstr(err.text, SECRET))
			abort();
	} else {
		const char *pw = kafkaconf_get(kc, "sasl.password");
		if (!pw)
			abort(); /* a later line may change it, never remove it */
		errinfo_clear(&err);
		rd_kafka_conf_t *conf = kafkaconf_build(kc, &err);
		if (conf)
			rd_kafka_conf_destroy(conf);
		else if (check_leak && strstr(err.text, SECRET))
			abort();
	}
	kafkaconf_free(kc);
	close(fd);
	return 0;
}
