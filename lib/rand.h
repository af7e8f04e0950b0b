/* rand.h - random bytes from the operating system (getrandom), buffered so
 * that generating an id per event does not cost a system call per event.
 * Not thread-safe: each thread that needs ids keeps to its own calls or
 * the caller serialises. */
#ifndef RAND_H
#define RAND_H

#include <stddef.h>

/* Fill p with n random bytes; 0, or -1 if the OS source failed (errno). */
int rand_bytes(void *p, size_t n);

#endif
