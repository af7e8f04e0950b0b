/* cepost.h - send one encoded CloudEvent (a cekafka_msg) over HTTP with
 * lib/cehttp: the one place that maps the Kafka binding's headers to the
 * HTTP binding's (ce_NAME -> ce-NAME, content-type -> Content-Type, the
 * hop's traceparent/tracestate as plain headers). outbox-relay's HTTP sink
 * and event-consume --post both use it.
 *
 * Ownership: nothing is kept; m and event are read during the call only.
 */
#ifndef CEPOST_H
#define CEPOST_H

#include <stddef.h>

#include "cehttp.h"
#include "cekafka.h"

/* Binary mode from m's headers and value; structured mode sends
 * event[0..len) (the canonical event) as the body. Extra plain headers
 * (may be NULL/0) go out besides the hop headers in m. Result and outcome
 * as cehttp_send_binary() gives them. */
cehttp_result cepost_send(cehttp *h, const cekafka_msg *m, int structured, const char *event,
			  size_t len, const cehttp_header *extra, size_t nextra, cehttp_outcome *out,
			  errinfo *err);

#endif
