/* base64.h - RFC 4648 base64 (standard alphabet, padded). */
#ifndef BASE64_H
#define BASE64_H

#include <stddef.h>

#include "buf.h"

/* Append the encoding of p[0..n) to out. 0, or -1 if out is full. */
int base64_encode(buf *out, const void *p, size_t n);
/* Append the decoding of s[0..n) to out. Strict: length a multiple of 4,
 * padding only at the end, no whitespace, unused bits zero. 0 ok, -1 not
 * valid base64, -2 out is full. */
int base64_decode(buf *out, const char *s, size_t n);
/* 0 if s[0..n) is valid base64 by the same rules, else -1. */
int base64_check(const char *s, size_t n);

#endif
