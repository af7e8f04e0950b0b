/* kafkaconf.h - librdkafka client configuration shared by every Kafka tool.
 *
 * Ownership: a kafkaconf copies every string it is given; callers keep
 * their arguments. Strings returned by kafkaconf_get() and
 * kafkaconf_origin() belong to the kafkaconf and stay valid until
 * kafkaconf_free(). kafkaconf_build() returns a new rd_kafka_conf_t owned
 * by the caller: hand it to rd_kafka_new() (which takes it over on success)
 * or rd_kafka_conf_destroy() it; the kafkaconf is left as it was and can
 * build again. A kafkaconf_topics owns its names; kafkaconf_topics_free()
 * releases them. Nothing here keeps a pointer to an rd_kafka_t it is given.
 *
 * Layers, as kcat users expect (DESIGN.md "Command-line conventions"):
 *
 *   KAFKACONF_DEFAULT  < KAFKACONF_FILE (-F) < KAFKACONF_ENV (KAFKA_BROKERS)
 *                      < KAFKACONF_FLAG (-b, -X, in command-line order)
 *
 * A higher layer wins whatever the order of the calls; within a layer the
 * later call wins. Settings are applied to librdkafka lowest layer first,
 * so aliases (metadata.broker.list for bootstrap.servers) obey the same
 * precedence. Property names and values are checked only by
 * kafkaconf_build(), which names where a bad setting came from
 * ("FILE:LINE", "-X", "KAFKA_BROKERS").
 *
 * Secrets: any message or dump made here names a secret property but
 * never shows its value (see kafkaconf_is_secret()).
 *
 * Functions returning int return 0 or an exitcode.h value, and fill err
 * (when given) with the message.
 */
#ifndef KAFKACONF_H
#define KAFKACONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <librdkafka/rdkafka.h>

#include "diag.h"

enum kafkaconf_layer {
	KAFKACONF_DEFAULT = 0, /* built in, or set by the tool */
	KAFKACONF_FILE = 1,    /* -F FILE */
	KAFKACONF_ENV = 2,     /* KAFKA_BROKERS */
	KAFKACONF_FLAG = 3     /* -b BROKERS, -X PROP=VALUE */
};

/* Default when nothing else names the brokers (DESIGN.md). */
#define KAFKACONF_DEFAULT_BROKERS "localhost:9092"

typedef struct kafkaconf kafkaconf;

/* A new configuration holding the built-in default
 * bootstrap.servers=localhost:9092. NULL when out of memory. */
kafkaconf *kafkaconf_new(void);
void kafkaconf_free(kafkaconf *kc);

/* Record prop=value in layer. 0; EXIT_CONFIG for an empty property name
 * or an unknown layer; EXIT_SOFTWARE when out of memory. */
int kafkaconf_set(kafkaconf *kc, const char *prop, const char *value, int layer);
/* A tool's own default (e.g. acks=all): kafkaconf_set(..., KAFKACONF_DEFAULT). */
int kafkaconf_default(kafkaconf *kc, const char *prop, const char *value);

/* -F FILE: lines "prop=value"; blank lines and lines whose first non-blank
 * character is '#' are skipped; blanks around the property and the value
 * are trimmed, and the value may itself contain '='. Returns 0;
 * EXIT_NOINPUT when FILE cannot be opened; EXIT_IOERR on a read error;
 * EXIT_CONFIG for a malformed line, with "FILE:LINE: " in the message. On
 * error nothing from the file is kept. */
int kafkaconf_load_file(kafkaconf *kc, const char *path, errinfo *err);

/* Environment layer: KAFKA_BROKERS (when set and not empty) becomes
 * bootstrap.servers. */
int kafkaconf_load_env(kafkaconf *kc, errinfo *err);

/* -X PROP=VALUE. EXIT_USAGE when there is no '=' or no property name. */
int kafkaconf_set_flag(kafkaconf *kc, const char *prop_eq_value, errinfo *err);
/* -b BROKERS: bootstrap.servers in the flag layer. EXIT_USAGE when empty. */
int kafkaconf_set_brokers(kafkaconf *kc, const char *brokers, errinfo *err);

/* The effective value of prop (aliases included), or NULL when no layer
 * sets it (librdkafka's own default then applies). */
const char *kafkaconf_get(const kafkaconf *kc, const char *prop);
/* Where that value came from: "default", "FILE:LINE", "KAFKA_BROKERS",
 * "-b", "-X"; NULL when unset. */
const char *kafkaconf_origin(const kafkaconf *kc, const char *prop);

/* 1 when prop's value must never be shown: sasl.password, ssl.key.password,
 * ssl.keystore.password, sasl.oauthbearer.client.secret, ssl.key.pem,
 * sasl.oauthbearer.config, and any name containing "password" or "secret"
 * (case-insensitive). */
int kafkaconf_is_secret(const char *prop);

/* The effective settings, one "prop=value  # origin" line each, sorted by
 * application order, secret values as "[redacted]". For -v output. */
int kafkaconf_dump(const kafkaconf *kc, FILE *f);

/* Apply every layer to a new rd_kafka_conf_t. NULL on error with
 * err->code EXIT_CONFIG (unknown property, bad value: the message names
 * the property and its origin, never a secret's value) or EXIT_SOFTWARE. */
rd_kafka_conf_t *kafkaconf_build(const kafkaconf *kc, errinfo *err);

/* Map a librdkafka error to the exit-status table:
 *   0                                   no error
 *   EXIT_UNAVAILABLE (69)  transport, resolve, all brokers down, timeouts,
 *                          leader/coordinator/broker not available,
 *                          not enough replicas, message timed out
 *   EXIT_NOPERM (77)       SASL/SSL authentication, any *_AUTHORIZATION_FAILED
 *   EXIT_CONFIG (78)       invalid argument or configuration, unsupported
 *                          feature, unknown topic or partition (a binding
 *                          that names a topic the cluster lacks)
 *   EXIT_SOFTWARE (70)     everything else
 * For RD_KAFKA_RESP_ERR__FATAL pass the error rd_kafka_fatal_error() gives. */
int kafkaconf_exitcode(rd_kafka_resp_err_t err);

/* Cluster metadata: the topics present. */
typedef struct kafkaconf_topic {
	char *name;
	int partitions;
	rd_kafka_resp_err_t err; /* the topic's own metadata error, usually 0 */
} kafkaconf_topic;

typedef struct kafkaconf_topics {
	kafkaconf_topic *v;
	size_t n;
	int32_t orig_broker_id;   /* the broker that answered */
} kafkaconf_topics;

/* Connect with a short-lived producer built from kc and list the topics,
 * giving up after timeout_ms (at least 100). Socket and connection-setup
 * timeouts not set by the user are bounded by timeout_ms, and the call
 * returns EXIT_UNAVAILABLE as soon as every bootstrap broker has failed
 * (refused, unresolvable) instead of waiting out the timeout. Errors:
 * EXIT_CONFIG (bad configuration), EXIT_UNAVAILABLE (no broker answered in
 * time; the message names the bootstrap list and the last broker error),
 * EXIT_NOPERM (authentication failed), EXIT_SOFTWARE. librdkafka's log
 * lines go to diag_debug() (shown with -v). out is cleared first. */
int kafkaconf_list_topics(const kafkaconf *kc, int timeout_ms, kafkaconf_topics *out,
			  errinfo *err);
/* Same with the caller's handle (any type); waits the whole timeout when
 * no broker is reachable. */
int kafkaconf_list_topics_rk(rd_kafka_t *rk, int timeout_ms, kafkaconf_topics *out,
			     errinfo *err);
/* The entry for topic name, or NULL when the cluster does not have it. */
const kafkaconf_topic *kafkaconf_topics_find(const kafkaconf_topics *t, const char *name);
void kafkaconf_topics_free(kafkaconf_topics *t);

#endif
