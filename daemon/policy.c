/*
 * policy.c: routing policies, the routing settings a contact keeps for its
 * life.  Each distinct set of settings is stored once with a version
 * (store_policy_*); contacts name their version, so a reload or a restart
 * with a new config never changes how a contact already queued is routed.
 * Policies in use are shared and counted; the engine holds the cache.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "engine.h"
#include "log.h"
#include "store.h"
#include "util.h"

/* The routing settings of a policy as JSON text (caller frees). */
static char *
policy_text(const struct policy *p)
{
	json_t *tiers = json_array(), *o;
	char *text;

	for (size_t i = 0; i < p->route.ntiers; i++)
		json_array_append_new(tiers,
		    json_pack("{s:i, s:s, s:I}", "tier", p->tiers[i].tier,
		        "strategy", conf_strategy_name(p->tiers[i].strategy),
		        "offer_timeout_ms",
		        (json_int_t)p->tiers[i].offer_timeout_ms));
	o = json_pack("{s:o, s:I, s:s, s:I, s:I}", "tiers", tiers,
	    "max_wait_ms", (json_int_t)p->max_wait_ms, "overflow_target",
	    p->overflow_target, "continuity_ms",
	    (json_int_t)p->route.continuity_ms, "imminent_max_wait_ms",
	    (json_int_t)p->imminent_max_wait_ms);
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (text == NULL)
		fatalx("policy_text: out of memory");
	return text;
}

/* Read one stored tier; -1 if it is not ours. */
static int
policy_parse_tier(json_t *t, struct conf_tier *out)
{
	const char *strategy;
	json_int_t timeout;
	int tier, s;

	if (json_unpack(t, "{s:i, s:s, s:I}", "tier", &tier, "strategy",
	        &strategy, "offer_timeout_ms", &timeout) != 0 ||
	    (s = conf_strategy_from_name(strategy)) < 0 || tier < 1 ||
	    tier > ROSTER_TIER_MAX || timeout <= 0)
		return -1;
	out->tier = tier;
	out->strategy = (enum strategy)s;
	out->offer_timeout_ms = timeout;
	return 0;
}

/* A policy from its stored text; NULL if the text is not ours. */
static struct policy *
policy_parse(int version, const char *text)
{
	struct policy *p = xcalloc(1, sizeof(*p));
	json_t *o = json_loads(text, 0, NULL), *tiers = NULL, *t;
	json_int_t max_wait, continuity, imminent;
	const char *target;
	size_t i;

	if (o == NULL ||
	    json_unpack(o, "{s:o, s:I, s:s, s:I, s:I}", "tiers", &tiers,
	        "max_wait_ms", &max_wait, "overflow_target", &target,
	        "continuity_ms", &continuity, "imminent_max_wait_ms",
	        &imminent) != 0 ||
	    !json_is_array(tiers) || json_array_size(tiers) == 0 ||
	    json_array_size(tiers) > CONF_TIERS_MAX)
		goto fail;
	json_array_foreach (tiers, i, t) {
		if (policy_parse_tier(t, &p->tiers[i]) == -1)
			goto fail;
	}
	p->version = version;
	p->route.tiers = p->tiers;
	p->route.ntiers = json_array_size(tiers);
	p->route.continuity_ms = continuity;
	p->max_wait_ms = max_wait;
	p->imminent_max_wait_ms = imminent;
	p->overflow_target = xstrdup(target);
	json_decref(o);
	return p;
fail:
	json_decref(o);
	free(p);
	return NULL;
}

/* Keep a policy in the cache (the cache holds one reference). */
static void
policy_remember(struct policies *ps, struct policy *p)
{
	ps->cache = xreallocarray(ps->cache, ps->n + 1, sizeof(*ps->cache));
	ps->cache[ps->n++] = p;
	p->refs++;
}

/* The policy of the config's routing settings, stored if new. */
struct policy *
policy_from_conf(struct policies *ps, struct store *st, const struct conf *conf,
    int64_t now)
{
	struct policy *p = xcalloc(1, sizeof(*p));
	char *text;

	memcpy(p->tiers, conf->tiers, conf->ntiers * sizeof(*conf->tiers));
	p->route.tiers = p->tiers;
	p->route.ntiers = conf->ntiers;
	p->route.continuity_ms = conf->continuity_ms;
	p->max_wait_ms = conf->max_wait_ms;
	p->imminent_max_wait_ms = conf->imminent_max_wait_ms;
	p->overflow_target = xstrdup(conf->overflow_target);
	p->refs = 1;
	text = policy_text(p);
	if (store_policy_save(st, text, now, &p->version) != STORE_OK) {
		log_warnx("routing policy not stored: %s", store_error(st));
		p->version = 0;
	}
	free(text);
	log_info("routing policy version %d", p->version);
	for (size_t i = 0; i < ps->n; i++) {
		if (p->version > 0 && ps->cache[i]->version == p->version) {
			/* The same settings as a policy in use: share it. */
			policy_unref(p);
			ps->cache[i]->refs++;
			return ps->cache[i];
		}
	}
	if (p->version > 0)
		policy_remember(ps, p);
	return p;
}

/* The policy of a stored version (a new reference), or NULL. */
struct policy *
policy_get(struct policies *ps, struct store *st, int version)
{
	struct policy *p;
	char *text = NULL;

	for (size_t i = 0; i < ps->n; i++) {
		if (ps->cache[i]->version == version) {
			ps->cache[i]->refs++;
			return ps->cache[i];
		}
	}
	if (version <= 0 || store_policy_load(st, version, &text) != STORE_OK)
		return NULL;
	p = policy_parse(version, text);
	free(text);
	if (p == NULL)
		return NULL;
	p->refs = 1;
	policy_remember(ps, p);
	return p;
}

/* Take one more reference. */
void
policy_ref(struct policy *p)
{
	p->refs++;
}

/* Drop one reference; the last frees it. */
void
policy_unref(struct policy *p)
{
	if (p != NULL && --p->refs == 0) {
		free(p->overflow_target);
		free(p);
	}
}

/* Empty the cache (shutdown). */
void
policy_free_all(struct policies *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		policy_unref(ps->cache[i]);
	free(ps->cache);
	ps->cache = NULL;
	ps->n = 0;
}
