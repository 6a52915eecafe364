/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Live anomaly detection and its cause, shared by `kapimon top` and `kapimon agent`.
 *
 * At each refresh (after agg_advance), every completed step's total request rate goes to the online
 * detector (agg_update_anomaly: analysis/online.h over analysis/stream.h, with the threshold and season
 * of agg_params), its newest verdict becomes the guarded mark (anomaly_line.h), and while an alerted
 * event goes on its cause is drilled down over the aggregate's live rows (live_cause.h). The events are
 * followed from start to end: each refresh returns what changed as anomaly records (an event started,
 * its cause was found or changed, it ended), which the outputs turn into the stderr line, the
 * {"kind":"anomaly"} flows line (output/anomaly_out.h, docs/records.md) and the Prometheus families.
 *
 * The series judged is the total request rate of everything the aggregate is fed: with several
 * apiservers followed, their sum (the load the control plane serves; etcd is shared by them).
 *
 * Two ways to use it: on an aggregate the front end keeps anyway (top: live_anomaly_init), or as a
 * pipeline sink that owns an aggregate of its own (the agent: live_anomaly_sink_new). Pure: no clock
 * reads (callers pass wall times). Not thread-safe.
 */
#ifndef KAPIMON_LIVE_ANOMALY_H
#define KAPIMON_LIVE_ANOMALY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregate/agg_sink.h"
#include "aggregate/aggregate.h"
#include "aggregate/anomaly_line.h"
#include "aggregate/live_cause.h"
#include "analysis/decompose.h"
#include "pipeline/pipeline.h"

#define LA_METRIC "requests" /* the series judged: requests per second, all apiservers fed */
#define LA_MAX_RECORDS 3     /* room for the records of one refresh (at most an end, then a start or a cause) */

enum la_phase { LA_START = 0, LA_CAUSE, LA_END };

/* {"kind":"anomaly"} (docs/records.md) */
struct anomaly_record {
	enum la_phase phase;
	const char *metric;       /* LA_METRIC */
	uint64_t seq;             /* the event's number since start (1, 2, ...): its records share it */
	uint64_t ts_ns;           /* wall: the refresh that produced the record */
	uint64_t start_ns;        /* wall: the start of the event's first step */
	uint64_t end_ns;          /* LA_END: the end of the last step the detector counted in the event; else 0 */
	int direction;            /* +1 high, -1 low */
	double observed, expected; /* requests/s over the event's completed steps judged (the cause line's
				    * numbers); before any drill-down: the step's rate and the baseline */
	double score;             /* LA_START: the score of the step that started the event; later: the most
				   * extreme so far (signed, -log10 of a tail probability, clamped to +-99) */
	struct live_cause cause;  /* cause.valid: a cause was found (attrs, share) */
};

struct live_anomaly {
	struct agg *agg;
	/* newest verdict (what top shows) */
	struct online_result res;
	struct anomaly_view view;
	bool cause_on;            /* an alerted event goes on and `cause` is its latest drill-down */
	struct live_cause cause;
	/* the event followed */
	bool active;
	uint64_t since_step, last_step, seq;
	int direction;
	double peak_score;
	struct live_cause ev_cause; /* the event's latest drill-down (kept for its end record) */
	char reported[sizeof(((struct live_cause *)0)->attrs)]; /* cause attrs last reported ("" none) */
	uint64_t events_total;    /* alerted events started */
	/* the sink form */
	bool own;
	struct agg_sink sink;
};

/* Set the detector options (--threshold, --season of cli_detector.h) in an aggregate's parameters:
 * dp's threshold (0: the default) and season; the detector's history grows to 4 x a fixed season.
 * -1 when the season cannot be modelled live (> LA_MAX_SEASON steps). */
#define LA_MAX_SEASON 3600
int live_anomaly_params(struct agg_params *ap, const struct dc_params *dp);

/* On an aggregate kept by the caller (its agg_params.detector_window must be > 0). */
void live_anomaly_init(struct live_anomaly *la, struct agg *a);
/* After agg_advance(agg, now_wall): feed the completed steps, update view/cause, follow the event.
 * Writes the records of what changed to out[LA_MAX_RECORDS] (in order) and returns their number. */
size_t live_anomaly_update(struct live_anomaly *la, uint64_t now_wall, struct anomaly_record *out);

/* The sink form: an aggregate of its own (p: e.g. agg_params_for_window(1) + live_anomaly_params),
 * fed by the pipeline. NULL on bad params or OOM. */
struct live_anomaly *live_anomaly_sink_new(const struct agg_params *p, uint64_t start_wall);
void live_anomaly_sink_free(struct live_anomaly *la);
struct pipeline_sink live_anomaly_sink_iface(struct live_anomaly *la);
/* agg_advance to now_wall, then live_anomaly_update. */
size_t live_anomaly_sink_refresh(struct live_anomaly *la, uint64_t now_wall, struct anomaly_record *out);

/* The record as one line, in top's words (live_cause_format): "anomaly since 04:12:40: requests +201/s
 * (270 vs 69 expected) -- cause: user_agent=..., verb=get, resource=leases (98% of the excess)"; an end
 * says "anomaly since 04:12:40 until 04:13:55 (75 s): ...". */
void anomaly_record_format(const struct anomaly_record *r, char *buf, size_t cap);
const char *anomaly_phase_name(enum la_phase p);

#endif
