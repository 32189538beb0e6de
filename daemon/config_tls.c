/*
 * config_tls.c: the tls group of crisisd.conf, its keys and what they
 * require of each other.  Its listen addresses are TLS only, so the
 * top-level listen keeps meaning plain TCP (for loopback).  The files are
 * checked here, when the config is loaded, so that crisisd -t and a reload
 * report a missing or unreadable one at its file:line; tls.c reads them
 * when it builds the TLS context.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libconfig.h>

#include "config.h"
#include "config_int.h"
#include "util.h"

#define CONF_TLS_PATH_MAX_BYTES 4096

/* The TLS versions tls.min_version may name. */
static const struct {
	const char *name;
	int version;
} conf_tls_versions[] = {
	{ "1.2", CONF_TLS_1_2 },
	{ "1.3", CONF_TLS_1_3 },
};

/* Handler: tls.listen, like listen, but an empty list means no TLS. */
static void
conf_key_tls_listen(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	struct conf_tls *tls = base;

	(void)key;
	conf_address_list(ck, s, tls->listen, &tls->nlisten, true,
	    "0.0.0.0:7411");
}

/* Handler: a PEM file read at start, resolved like database, readable now. */
static void
conf_key_tls_file(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	const char *v = conf_string(ck, s, (size_t)key->max);
	const char *from = config_setting_source_file(s);
	char **field = (char **)((char *)base + key->offset);
	struct stat st;
	char *path;
	int fd;

	if (v == NULL)
		return;
	path = conf_resolve(from != NULL ? from : ck->path, v);
	/* O_NONBLOCK: a FIFO named here must not hang crisisd -t or a reload.
	 */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		conf_error(ck, s, "%s: %s", path, strerror(errno));
	else if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		conf_error(ck, s, "%s: not a regular file", path);
	else {
		free(*field);
		*field = path;
		path = NULL;
	}
	if (fd != -1)
		close(fd);
	free(path);
}

/* Handler: tls.min_version, "1.2" or "1.3". */
static void
conf_key_tls_version(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	const char *v = conf_string(ck, s, (size_t)key->max);
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < nitems(conf_tls_versions); i++) {
		if (strcmp(conf_tls_versions[i].name, v) == 0) {
			((struct conf_tls *)base)->min_version =
			    conf_tls_versions[i].version;
			return;
		}
	}
	conf_error(ck, s,
	    "\"%s\": must be \"1.2\" or \"1.3\" (nothing older "
	    "than TLS 1.2)",
	    v);
}

static const struct conf_key conf_tls_keys[] = {
	CONF_KEY(conf_tls, listen, false, conf_key_tls_listen, 0, 0),
	CONF_KEY(conf_tls, certificate, false, conf_key_tls_file, 0,
	    CONF_TLS_PATH_MAX_BYTES),
	CONF_KEY(conf_tls, key, false, conf_key_tls_file, 0,
	    CONF_TLS_PATH_MAX_BYTES),
	CONF_KEY(conf_tls, ca, false, conf_key_tls_file, 0,
	    CONF_TLS_PATH_MAX_BYTES),
	CONF_KEY(conf_tls, require_client_cert, false, conf_key_bool, 0, 0),
	CONF_KEY(conf_tls, min_version, false, conf_key_tls_version, 0, 8),
};
const struct conf_table conf_tls_table = { conf_tls_keys,
	nitems(conf_tls_keys) };

/* Handler: the tls group, then what its keys require of each other. */
void
conf_key_tls(struct conf_check *ck, const config_setting_t *s,
    const struct conf_key *key, void *base)
{
	struct conf_tls *tls = &((struct conf *)base)->tls;
	static const char *const needed[] = { "certificate", "key" };
	size_t i;

	if (!config_setting_is_group(s)) {
		conf_error(ck, s, "must be a group, as in tls : { ... };");
		return;
	}
	conf_check_group(ck, s, key->sub, tls);
	for (i = 0; i < nitems(needed) && tls->nlisten > 0; i++) {
		if (config_setting_get_member(s, needed[i]) == NULL)
			conf_error(ck, s,
			    "missing required key %s (listen "
			    "names an address)",
			    needed[i]);
	}
	if (tls->require_client_cert &&
	    config_setting_get_member(s, "ca") == NULL)
		conf_error(ck,
		    config_setting_get_member(s, "require_client_cert"),
		    "true needs ca, the CA file that "
		    "signs client certificates");
}
