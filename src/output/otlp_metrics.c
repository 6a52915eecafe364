// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The OTLP exporter's counters as Prometheus families (see otlp_metrics.h). */
#include "output/otlp_metrics.h"

#include "output/prometheus.h"

void otlp_metrics_add(struct otlp_metrics *m, const struct otlp_exporter_stats *s)
{
	m->st.queued += s->queued;
	m->st.sent += s->sent;
	m->st.dropped += s->dropped;
	m->st.failed += s->failed;
	m->st.rejected += s->rejected;
	m->st.sampled_out += s->sampled_out;
	m->st.skipped += s->skipped;
	m->st.encode_errors += s->encode_errors;
	m->st.export_errors += s->export_errors;
	m->st.retries += s->retries;
	m->st.batches += s->batches;
	m->st.queue_len += s->queue_len;
	m->st.queue_capacity += s->queue_capacity;
	m->st.last_status = s->last_status;
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void labelled(FILE *out, const char *name, const char *label, const char *value, uint64_t v)
{
	fprintf(out, "%s{%s=", name, label);
	prom_write_label_value(out, value);
	fprintf(out, "} %llu\n", (unsigned long long)v);
}

int otlp_metrics_render(FILE *out, const struct otlp_metrics *m)
{
	const struct otlp_exporter_stats *s = &m->st;
	static const char spans[] = "kapimon_otlp_spans_total", exported[] = "kapimon_otlp_exported_spans_total";

	family(out, spans, "counter", "Spans handed to the OTLP exporter, by what became of them on the capture side.");
	labelled(out, spans, "result", "queued", s->queued);
	labelled(out, spans, "result", "dropped", s->dropped);
	labelled(out, spans, "result", "sampled_out", s->sampled_out);
	labelled(out, spans, "result", "skipped", s->skipped);
	labelled(out, spans, "result", "encode_error", s->encode_errors);
	labelled(out, spans, "result", "no_exporter", m->no_exporter);
	family(out, exported, "counter", "Queued spans that left the OTLP queue, by outcome.");
	labelled(out, exported, "result", "sent", s->sent);
	labelled(out, exported, "result", "failed", s->failed);
	labelled(out, exported, "result", "rejected", s->rejected);
	family(out, "kapimon_otlp_export_errors_total", "counter",
	       "Failed OTLP HTTP attempts (connection errors and non-2xx statuses).");
	fprintf(out, "kapimon_otlp_export_errors_total %llu\n", (unsigned long long)s->export_errors);
	family(out, "kapimon_otlp_retries_total", "counter", "OTLP export attempts after a batch's first.");
	fprintf(out, "kapimon_otlp_retries_total %llu\n", (unsigned long long)s->retries);
	family(out, "kapimon_otlp_batches_total", "counter", "Successful OTLP export requests.");
	fprintf(out, "kapimon_otlp_batches_total %llu\n", (unsigned long long)s->batches);
	family(out, "kapimon_otlp_queue_spans", "gauge", "Spans waiting in the OTLP queues.");
	fprintf(out, "kapimon_otlp_queue_spans %llu\n", (unsigned long long)s->queue_len);
	family(out, "kapimon_otlp_queue_capacity_spans", "gauge", "Bound of the OTLP queues in spans.");
	fprintf(out, "kapimon_otlp_queue_capacity_spans %llu\n", (unsigned long long)s->queue_capacity);
	if (m->exporters) {
		family(out, "kapimon_otlp_last_http_status", "gauge",
		       "HTTP status of the last OTLP export attempt (-1: connection error, 0: none yet).");
		fprintf(out, "kapimon_otlp_last_http_status %d\n", s->last_status);
	}
	return ferror(out) ? -1 : 0;
}
