/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Bounded heavy hitters with expiry: a decayed Space-Saving summary over `cap` rows.
 *
 * The caller owns the keys and the per-row data (aggregate.c keeps a key, per-step counters and
 * cumulative totals per row); this structure decides which key owns which row. It keeps per row a
 * score, the exponentially decayed weight of the row's key (time constant `decay_steps` steps), and
 * answers "which row holds the key with this hash" through its own hash index (the caller confirms
 * equality with a callback, so any key type works).
 *
 * Space-Saving (Metwally et al. 2005) with weighted, decayed updates:
 *   - a hit adds w * g^(step - landmark) to the row's score (forward decay: every score decays by the
 *     same factor g = e^(1/decay_steps) per step, so decaying is a change of unit, never a pass over
 *     the rows; scores are rescaled when the unit grows large);
 *   - a key without a row takes a free row, or evicts the row with the minimum score m (a binary
 *     min-heap) and starts at score m + w with err = m (it may have had up to m before, untracked).
 * Invariants (decayed weights, in the same unit): a tracked key's true decayed weight D lies in
 * [score - err, score]; an untracked key's D is <= the current minimum; the scores sum to the total
 * decayed weight W, so the minimum and every err are <= W / cap.
 * In raw counts over a window of steps [first, now): a key that is not tracked had at most
 * hh_threshold(first) = min / g^(first - landmark) weight in the window (each of its records there
 * weighs at least g^(first - landmark) units); a key tracked since before `first` (born < first) is
 * counted exactly by the caller's per-step counters; a key admitted inside the window (born >= first)
 * may have missed up to hh_err(row, first) = err / g^(first - landmark) before its admission.
 *
 * Cost: a hit compares the row's new score with its heap children (inline) and sifts down (O(log cap))
 * only when it passes one; an admission one index insert,
 * one index delete (backward shift) and one sift. Memory: cap * 52 B + 8 B per index slot (2 * cap
 * rounded up to a power of two), allocated in hh_new. Not thread-safe; pure logic.
 */
#ifndef KAPIMON_AGGREGATE_HH_H
#define KAPIMON_AGGREGATE_HH_H

#include <stdbool.h>
#include <stdint.h>

#define HH_NONE UINT32_MAX

/* The summary's state: visible only so that hh_hit, called per record and table, is inline; use the
 * functions below. */
struct hh {
	uint32_t cap, n;
	uint64_t *hash;  /* per row */
	double *score;   /* forward-decay units: weight * g^(step - landmark) */
	double *err;     /* same units */
	uint32_t *gen;
	uint64_t *born;
	uint32_t *heap;  /* min-heap of rows by score, n entries */
	uint32_t *pos;   /* row -> heap position */
	uint32_t *index; /* open addressing: row + 1, 0 = empty */
	uint32_t mask;
	double lng;      /* ln g = 1 / decay_steps */
	uint64_t landmark, step;
	double mult;     /* g^(step - landmark) */
	uint64_t evictions;
};

void hh_sift_down_(struct hh *h, uint32_t i); /* hh_hit's slow path */

/* Key equality for a hash match: does row `row` hold the caller's key? */
typedef bool (*hh_eq_fn)(void *ctx, uint32_t row);

/* cap: rows (1 .. 2^24); decay_steps: time constant of the decay in steps (>= 1). start_step: the
 * current step. NULL on bad parameters or OOM. */
struct hh *hh_new(uint32_t cap, double decay_steps, uint64_t start_step);
void hh_free(struct hh *h);

/* Move the clock (steps only go forward; older values are ignored). */
void hh_set_step(struct hh *h, uint64_t step);

/* Row holding the key with this hash (eq confirms), HH_NONE when not tracked. */
uint32_t hh_find(const struct hh *h, uint64_t hash, hh_eq_fn eq, void *ctx);
/* Add weight w >= 0 to a tracked row. A score only grows: the row moves in the heap only when it
 * passes a child (most hits leave it in place). */
static inline void hh_hit(struct hh *h, uint32_t row, double w)
{
	uint32_t i = h->pos[row], l = 2 * i + 1;
	double s = h->score[row] += w * h->mult;

	if (l >= h->n || (h->score[h->heap[l]] >= s && (l + 1 >= h->n || h->score[h->heap[l + 1]] >= s)))
		return;
	hh_sift_down_(h, i);
}
/*
 * Give an untracked key (hash) a row with weight w: a free row, or, when may_evict, the row with the
 * minimum score (*evicted set: the caller must drop that row's old key and data first-hand). Returns
 * HH_NONE when there is no free row and !may_evict. The caller must not admit a key that is tracked.
 */
uint32_t hh_admit(struct hh *h, uint64_t hash, double w, bool may_evict, bool *evicted);

uint32_t hh_size(const struct hh *h);     /* rows in use (0 .. cap) */
/* The smallest score as of now (0 while a row is free). */
double hh_min_score(const struct hh *h);
uint32_t hh_cap(const struct hh *h);
uint64_t hh_evictions(const struct hh *h);
/* Generation of a row: changes whenever the row gets a new key (never 0 for a used row). */
uint32_t hh_gen(const struct hh *h, uint32_t row);
/* Step at which the row's current key was admitted. */
uint64_t hh_born(const struct hh *h, uint32_t row);
/* The row's decayed score and its overestimate bound err, in weight as of step `at` (<= now). */
double hh_score(const struct hh *h, uint32_t row, uint64_t at);
/* Upper bound of the raw weight the row's key may have had in steps [first, now) before its admission
 * (0 when it was admitted before `first`): see above. */
double hh_err(const struct hh *h, uint32_t row, uint64_t first);
/* Raw weight in steps [first, now) above which a key is certainly tracked (0 while a row is free). */
double hh_threshold(const struct hh *h, uint64_t first);

#endif
