/* cloudevent-wrap - payload lines in, CloudEvents NDJSON out; also
 * --validate and --unwrap. See cloudevent-wrap(1). */
#include "cli.h"
#include "diag.h"
#include "exitcode.h"
#include "inputs.h"
#include "ndjson.h"
#include "outbuf.h"
#include "wrap.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_EXT 64
#define MAX_MASK 64

static const char usage_text[] =
	"usage: cloudevent-wrap -t TYPE [-s SOURCE] [--subject SUBJECT] [--dataschema URI]\n"
	"                       [--datacontenttype TYPE] [--time TIME] [-e NAME=VALUE]...\n"
	"                       [--id-from PTR] [--subject-from PTR] [--partition-key-from PTR]\n"
	"                       [--mask PTR]... [--text | --base64] [common options] [FILE...]\n"
	"       cloudevent-wrap --validate [common options] [FILE...]\n"
	"       cloudevent-wrap --unwrap [--raw] [common options] [FILE...]\n"
	"common options: [--on-error fail|skip] [--max-line SIZE] [-q] [-v]\n";

static const char help_text[] =
	"\n"
	"Wrap each payload line of FILE (or standard input) in a CloudEvent 1.0\n"
	"(JSON format) and write one event per line.\n"
	"\n"
	"  -t, --type TYPE            event type (required when wrapping)\n"
	"  -s, --source URI           event source (default: $CE_SOURCE)\n"
	"      --subject SUBJECT      subject attribute\n"
	"      --dataschema URI       dataschema attribute\n"
	"      --datacontenttype TYPE content type of data (default by payload kind)\n"
	"      --time TIME            fixed RFC 3339 time (default: now, microseconds)\n"
	"  -e, --ext NAME=VALUE       extension attribute (repeatable)\n"
	"      --id-from PTR          take id from the payload (JSON Pointer)\n"
	"      --subject-from PTR     take subject from the payload\n"
	"      --partition-key-from PTR  take the partitionkey extension from the payload\n"
	"      --mask PTR             replace that value in data with \"***\" (repeatable)\n"
	"      --text                 each line is a UTF-8 string (text/plain)\n"
	"      --base64               each line is raw bytes, sent as data_base64\n"
	"      --validate             input lines are CloudEvents: check, canonicalise\n"
	"      --unwrap               input lines are CloudEvents: print their data\n"
	"      --raw                  with --unwrap: print data bytes as they are\n"
	"      --on-error fail|skip   stop at the first bad line (default) or go on\n"
	"      --max-line SIZE        longest input line (default 1M)\n"
	"  -q, --quiet                no warnings\n"
	"  -v, --verbose              more messages\n"
	"  -h, --help                 this help\n"
	"  -V, --version              print the version\n";

enum {
	OPT_SUBJECT = 256, OPT_DATASCHEMA, OPT_CONTENTTYPE, OPT_TIME, OPT_ID_FROM,
	OPT_SUBJECT_FROM, OPT_PK_FROM, OPT_MASK, OPT_TEXT, OPT_BASE64, OPT_VALIDATE,
	OPT_UNWRAP, OPT_RAW, OPT_ON_ERROR, OPT_MAX_LINE
};

static const struct option long_options[] = {
	{ "type", required_argument, NULL, 't' },
	{ "source", required_argument, NULL, 's' },
	{ "subject", required_argument, NULL, OPT_SUBJECT },
	{ "dataschema", required_argument, NULL, OPT_DATASCHEMA },
	{ "datacontenttype", required_argument, NULL, OPT_CONTENTTYPE },
	{ "time", required_argument, NULL, OPT_TIME },
	{ "ext", required_argument, NULL, 'e' },
	{ "id-from", required_argument, NULL, OPT_ID_FROM },
	{ "subject-from", required_argument, NULL, OPT_SUBJECT_FROM },
	{ "partition-key-from", required_argument, NULL, OPT_PK_FROM },
	{ "mask", required_argument, NULL, OPT_MASK },
	{ "text", no_argument, NULL, OPT_TEXT },
	{ "base64", no_argument, NULL, OPT_BASE64 },
	{ "validate", no_argument, NULL, OPT_VALIDATE },
	{ "unwrap", no_argument, NULL, OPT_UNWRAP },
	{ "raw", no_argument, NULL, OPT_RAW },
	{ "on-error", required_argument, NULL, OPT_ON_ERROR },
	{ "max-line", required_argument, NULL, OPT_MAX_LINE },
	CLI_COMMON_LONG_OPTIONS
};

enum mode { MODE_WRAP, MODE_VALIDATE, MODE_UNWRAP };

struct config {
	enum mode mode;
	int raw;
	wrap_opts wrap;
	wrap_ext ext[MAX_EXT];
	const char *mask[MAX_MASK];
	inputs in;
};

static int parse_args(int argc, char **argv, struct config *c)
{
	int opt, modes = 0;
	while ((opt = getopt_long(argc, argv, "t:s:e:qvhV", long_options, NULL)) != -1) {
		switch (opt) {
		case 't': c->wrap.type = optarg; break;
		case 's': c->wrap.source = optarg; break;
		case OPT_SUBJECT: c->wrap.subject = optarg; break;
		case OPT_DATASCHEMA: c->wrap.dataschema = optarg; break;
		case OPT_CONTENTTYPE: c->wrap.datacontenttype = optarg; break;
		case OPT_TIME: c->wrap.time = optarg; break;
		case 'e': {
			char *eq = strchr(optarg, '=');
			if (!eq)
				return cli_bad_value(usage_text, "-e wants NAME=VALUE", optarg);
			if (c->wrap.n_ext >= MAX_EXT)
				return cli_bad_value(usage_text, "too many -e options", NULL);
			*eq = '\0';
			c->ext[c->wrap.n_ext++] = (wrap_ext){ optarg, eq + 1 };
			break;
		}
		case OPT_ID_FROM: c->wrap.id_from = optarg; break;
		case OPT_SUBJECT_FROM: c->wrap.subject_from = optarg; break;
		case OPT_PK_FROM: c->wrap.partition_key_from = optarg; break;
		case OPT_MASK:
			if (c->wrap.n_mask >= MAX_MASK)
				return cli_bad_value(usage_text, "too many --mask options", NULL);
			c->mask[c->wrap.n_mask++] = optarg;
			break;
		case OPT_TEXT: c->wrap.payload = WRAP_TEXT; modes |= 8; break;
		case OPT_BASE64: c->wrap.payload = WRAP_BASE64; modes |= 16; break;
		case OPT_VALIDATE: c->mode = MODE_VALIDATE; modes |= 1; break;
		case OPT_UNWRAP: c->mode = MODE_UNWRAP; modes |= 2; break;
		case OPT_RAW: c->raw = 1; break;
		case OPT_ON_ERROR:
			if (on_error_parse(optarg, &c->in.on_error) != 0)
				return cli_bad_value(usage_text, "--on-error wants fail or skip", optarg);
			break;
		case OPT_MAX_LINE:
			if (cli_parse_size(optarg, (size_t)1 << 30, &c->in.max_line) != 0 || c->in.max_line == 0)
				return cli_bad_value(usage_text, "--max-line wants a size from 1 to 1G", optarg);
			break;
		default:
			if (cli_common_option(opt, usage_text, help_text) != 0)
				return EXIT_USAGE;
		}
	}
	if ((modes & 3) == 3)
		return cli_bad_value(usage_text, "--validate and --unwrap exclude each other", NULL);
	if ((modes & 24) == 24)
		return cli_bad_value(usage_text, "--text and --base64 exclude each other", NULL);
	if (c->raw && c->mode != MODE_UNWRAP)
		return cli_bad_value(usage_text, "--raw goes with --unwrap", NULL);
	if (c->mode != MODE_WRAP && (c->wrap.type || c->wrap.source || c->wrap.n_ext || modes & 24 ||
				     c->wrap.n_mask || c->wrap.id_from || c->wrap.subject_from ||
				     c->wrap.partition_key_from || c->wrap.subject || c->wrap.time ||
				     c->wrap.dataschema || c->wrap.datacontenttype))
		return cli_bad_value(usage_text, "event attribute options only apply when wrapping", NULL);
	c->wrap.ext = c->ext;
	c->wrap.mask = c->mask;
	c->in.files = argv + optind;
	c->in.nfiles = argc - optind;
	return 0;
}

int main(int argc, char **argv)
{
	struct config c = { 0 };
	cli_start(argv[0]);
	int status = parse_args(argc, argv, &c);
	if (status)
		return status;

	line_sink sink = { 0 };
	inputs_line_fn fn = c.mode == MODE_VALIDATE ? validate_line
			  : c.mode == MODE_UNWRAP ? unwrap_line : wrap_line;
	if (c.mode == MODE_WRAP) {
		errinfo err = { 0 };
		if (!c.wrap.source)
			c.wrap.source = getenv("CE_SOURCE");
		c.wrap.traceparent = getenv("TRACEPARENT");
		c.wrap.tracestate = getenv("TRACESTATE");
		if ((status = wrapper_new(&sink.w, &c.wrap, &err)) != 0) {
			if (status == EXIT_USAGE)
				return cli_bad_value(usage_text, err.text, NULL);
			diag_errinfo(&err);
			return status;
		}
		/* Text and base64 payloads are data: an empty line is an empty
		 * payload. A JSON payload cannot be blank, so blank lines are
		 * skipped, as jq does. */
		c.in.skip_blank = c.wrap.payload == WRAP_JSON;
		/* --base64 carries any bytes: a CR before the LF is one. */
		if (c.wrap.payload == WRAP_BASE64)
			c.in.ndjson_flags |= NDJSON_KEEP_CR;
	} else
		c.in.skip_blank = 1;

	outbuf out;
	if (outbuf_init(&out, STDOUT_FILENO, 0) != 0) {
		diag_error("out of memory");
		return EXIT_SOFTWARE;
	}
	size_t max_line = c.in.max_line ? c.in.max_line : NDJSON_DEFAULT_MAX_LINE;
	buf_init(&sink.scratch, 2 * max_line + 65536); /* base64 grows 4/3 */
	sink.out = &out;
	sink.raw = c.raw;
	c.in.flush = &out;
	status = inputs_run(&c.in, fn, &sink);
	if (c.in.bad && c.in.on_error == ON_ERROR_SKIP)
		diag_warn("%lu bad line%s skipped", c.in.bad, c.in.bad == 1 ? "" : "s");
	buf_free(&sink.scratch);
	wrapper_free(sink.w);
	return cli_finish_output(&out, status);
}
