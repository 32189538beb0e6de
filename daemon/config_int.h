/*
 * config_int.h: what the config loader's three files share, and nobody
 * else sees.  config.c walks the file and owns the key tables,
 * config_value.c checks and stores single values, config_tls.c the tls
 * group.  This header includes <libconfig.h>; only config*.c include it.
 *
 * Every name here starts with conf_, like the exports in config.h, because
 * libconfig already owns the config_ prefix.
 */
#ifndef CRISISD_CONFIG_INT_H
#define CRISISD_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

#include "config.h"

#define CONF_LISTEN_MAX_BYTES 300

/* One file being checked: the struct being filled and the errors so far. */
struct conf_check {
	const char *path;
	struct conf *conf;
	char *errors; /* "file:line: ..." lines joined by '\n' */
	int nerrors;
	unsigned int tier_lines[CONF_TIERS_MAX]; /* where each tier was set */
};

struct conf_key;

/* The keys one group may hold. */
struct conf_table {
	const struct conf_key *keys;
	size_t nkeys;
};

/* One key: how to check and store it, where, and its bounds. */
struct conf_key {
	const char *name;
	bool required;
	void (*handler)(struct conf_check *, const config_setting_t *,
	    const struct conf_key *, void *);
	size_t offset; /* into struct conf, struct conf_tier or conf_tls */
	int64_t min;
	int64_t max;
	const struct conf_table *sub; /* for groups and routing.tiers */
};

/* A key stored in the field of struct s of the same name. */
#define CONF_KEY(s, field, required, handler, min, max)                        \
	{                                                                      \
#field, required, handler, offsetof(struct s, field), min,     \
		    max, NULL                                                  \
	}

/* config.c: record an error at s's line; check a group against a table. */
void conf_error(struct conf_check *ck, const config_setting_t *s,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void conf_check_group(struct conf_check *ck, const config_setting_t *group,
    const struct conf_table *table, void *base);

/* config_value.c: one string, paths next to the file, listen addresses. */
const char *
conf_string(struct conf_check *ck, const config_setting_t *s, size_t max);
char *conf_dirname(const char *path);
char *conf_resolve(const char *from, const char *name);
const char *conf_listen_check(const char *text);
void conf_address_list(struct conf_check *ck, const config_setting_t *s,
    char **addrs, size_t *n, bool empty_ok, const char *example);

/*
 * config_value.c: the handlers the key tables name.  Each checks s, records
 * any error, and otherwise stores the value at base + key->offset.
 */
void conf_key_ms(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base);
void conf_key_int(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base);
void conf_key_size(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base);
void conf_key_string(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base);
void conf_key_bool(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base);
void conf_key_database(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base);
void conf_key_listen(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base);
void conf_key_log_level(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base);
void conf_key_timezone(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base);
void conf_key_strategy(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base);
void conf_key_tiers(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base);

/* config_tls.c: the tls group's keys, and its handler in the root table. */
extern const struct conf_table conf_tls_table;
void conf_key_tls(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base);

#endif
