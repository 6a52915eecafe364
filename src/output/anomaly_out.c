// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "output/anomaly_out.h"

#include <math.h>
#include <string.h>

#include "assemble/record_json.h"
#include "output/prometheus.h"

static void kv_time(struct json_writer *w, const char *k, uint64_t ns)
{
	char ts[64];

	record_ts_format(ns, ts, sizeof(ts));
	jw_kv_str(w, k, ts);
}

void anomaly_json(struct json_writer *w, const struct anomaly_record *r)
{
	char line[640];

	jw_obj_begin(w);
	jw_kv_str(w, "kind", "anomaly");
	kv_time(w, "ts", r->ts_ns);
	jw_kv_str(w, "phase", anomaly_phase_name(r->phase));
	jw_kv_uint(w, "seq", r->seq);
	jw_kv_str(w, "metric", r->metric ? r->metric : LA_METRIC);
	jw_kv_str(w, "direction", r->direction > 0 ? "high" : "low");
	kv_time(w, "start", r->start_ns);
	if (r->phase == LA_END) {
		kv_time(w, "end", r->end_ns);
		jw_kv_double(w, "duration_s", r->end_ns > r->start_ns ? (double)(r->end_ns - r->start_ns) / 1e9 : 0);
	}
	jw_kv_double(w, "observed_per_s", r->observed);
	jw_kv_double(w, "expected_per_s", r->expected);
	jw_kv_double(w, "score", r->score);
	jw_key(w, "cause");
	jw_obj_begin(w);
	jw_kv_bool(w, "found", r->cause.valid);
	if (r->cause.valid) {
		jw_key(w, "attrs");
		jw_obj_begin(w);
		for (size_t i = 0; i < r->cause.nattrs && i < 3; i++)
			jw_kv_str(w, r->cause.names[i], r->cause.values[i]);
		jw_obj_end(w);
		jw_kv_double(w, "share", r->cause.share);
		if (r->cause.seconds > 0) {
			jw_kv_double(w, "observed_per_s", r->cause.cause_real / r->cause.seconds);
			jw_kv_double(w, "expected_per_s", r->cause.cause_expected / r->cause.seconds);
		}
	}
	jw_obj_end(w);
	anomaly_record_format(r, line, sizeof(line));
	jw_kv_str(w, "line", line);
	jw_obj_end(w);
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void metric_sample(FILE *out, const char *name, double v)
{
	fprintf(out, "%s{metric=\"%s\"} ", name, LA_METRIC);
	prom_write_value(out, v);
	fputc('\n', out);
}

void anomaly_prom_render(const struct live_anomaly *la, FILE *out)
{
	const struct live_cause *c = &la->ev_cause;
	static const char *const dims[3] = { "user_agent", "verb", "resource" };

	family(out, "kapimon_anomaly_detector_ready", "gauge",
	       "1 once the online detector has learnt a baseline for the metric (it judges nothing before).");
	metric_sample(out, "kapimon_anomaly_detector_ready", la->view.state != AL_LEARNING);
	family(out, "kapimon_anomaly_active", "gauge",
	       "1 while an anomalous event of the metric goes on (the online detector's alerted event), else 0.");
	metric_sample(out, "kapimon_anomaly_active", la->active);
	family(out, "kapimon_anomaly_score", "gauge",
	       "The online detector's score of the newest completed step: -log10 of its tail probability, "
	       "signed (negative: below the baseline), clamped to +-99; 0 while learning.");
	metric_sample(out, "kapimon_anomaly_score", la->view.score);
	family(out, "kapimon_anomaly_expected_per_second", "gauge",
	       "The detector's baseline for the newest completed step, per second (NaN while learning).");
	metric_sample(out, "kapimon_anomaly_expected_per_second", la->view.baseline);
	family(out, "kapimon_anomaly_observed_per_second", "gauge", "The metric in the newest completed step, per second.");
	metric_sample(out, "kapimon_anomaly_observed_per_second", isfinite(la->view.rate) ? la->view.rate : NAN);
	family(out, "kapimon_anomalies_total", "counter", "Anomalous events of the metric the detector alerted since start.");
	metric_sample(out, "kapimon_anomalies_total", (double)la->events_total);
	family(out, "kapimon_anomaly_cause_info", "gauge",
	       "The cause of the anomalous event going on (value 1; absent without an event or a cause): the "
	       "dimensions the drill-down named, \"\" for those it did not.");
	if (la->active && c->valid && c->since_step == la->since_step) {
		const char *vals[3] = { "", "", "" };

		for (size_t i = 0; i < c->nattrs && i < 3; i++)
			for (int d = 0; d < 3; d++)
				if (!strcmp(c->names[i], dims[d]))
					vals[d] = c->values[i];
		fprintf(out, "kapimon_anomaly_cause_info{metric=\"%s\",direction=\"%s\"", LA_METRIC,
			la->direction > 0 ? "high" : "low");
		for (int d = 0; d < 3; d++) {
			fprintf(out, ",%s=", dims[d]);
			prom_write_label_value(out, vals[d]);
		}
		fputs("} 1\n", out);
	}
	family(out, "kapimon_anomaly_cause_share_ratio", "gauge",
	       "The share of the anomalous event's excess (or drop) its cause accounts for, 0..1 (absent "
	       "without an event or a cause).");
	if (la->active && c->valid && c->since_step == la->since_step)
		metric_sample(out, "kapimon_anomaly_cause_share_ratio", c->share);
}
