/* rand.h - random bytes from the operating system (getrandom), buffered so
 * that generating an id per event does not cost a system call per event.
 * Thread-safe: each thread has its own 4 KiB pool. A forked child drops
 * the parent's pool (pthread_atfork), so parent and child never share
 * bytes. There is no fallback to a weaker source: if getrandom() fails,
 * rand_bytes fails. */
#ifndef RAND_H
#define RAND_H

#include <stddef.h>

/* Fill p with n random bytes; 0, or -1 if the OS source failed (errno). */
int rand_bytes(void *p, size_t n);

#endif
