/*
 * fuzz_config.c: libFuzzer target for the config loader (issue 6).
 *
 * The input is written as crisisd.conf in a directory of this process's
 * own and loaded with conf_load().  A config that loads must hold what
 * config.h and CONTRACT §2 promise (tiers sorted and unique, every value
 * in range, the database path absolute); one that does not must say why,
 * one "file:line: what is wrong" per line.  Then everything is freed, so
 * LeakSanitizer sees a leak on either path.
 *
 * Inputs with "@include" are skipped: libconfig would open whatever file
 * they name (/dev/stdin would hang the run), and including is libconfig's
 * code, not ours.  The files a config names and conf_load opens itself
 * (tls.certificate, tls.key, tls.ca, the time zone) go through
 * fuzz_config_open() (the target is linked with --wrap=open): only the
 * scratch directory, where empty PEM files wait, and the time zone files
 * may be opened, so no input opens a device or waits on a FIFO.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "roster.h"
#include "util.h"

#include "fuzz.h"

#define FUZZ_DAY_MS (24LL * 60 * 60 * 1000)
#define FUZZ_TEN_MINUTES_MS (10LL * 60 * 1000)
#define FUZZ_TZDIR "/usr/share/zoneinfo/"

/* Files in the scratch directory a config may name (see the dictionary). */
static const char *const fuzz_config_pems[] = { "cert.pem", "key.pem",
	"ca.pem" };
/* A directory there, which is not a regular file. */
#define FUZZ_SUBDIR "pem.d"

static char *fuzz_dir; /* this process's scratch directory */
static char *fuzz_path; /* the config file in it */

int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);

/* May the code under test open path: in the scratch or time zone dir? */
static bool
fuzz_config_allowed(const char *path)
{
	size_t dlen = strlen(fuzz_dir);
	const char *tzdir = getenv("TZDIR");
	char *tz = NULL;
	bool ok;

	/* No way out of either directory through "..". */
	if (strcmp(path, "..") == 0 || strncmp(path, "../", 3) == 0 ||
	    strstr(path, "/../") != NULL ||
	    (strlen(path) >= 3 && strcmp(path + strlen(path) - 3, "/..") == 0))
		return false;
	if (strncmp(path, fuzz_dir, dlen) == 0 && path[dlen] == '/')
		return true;
	if (tzdir != NULL && tzdir[0] != '\0')
		xasprintf(&tz, "%s/", tzdir);
	ok = strncmp(path, tz != NULL ? tz : FUZZ_TZDIR,
	         strlen(tz != NULL ? tz : FUZZ_TZDIR)) == 0;
	free(tz);
	return ok;
}

/* open() as the code under test sees it: refused outside the fence. */
int
__wrap_open(const char *path, int flags, ...)
{
	va_list ap;
	int mode = 0;

	if (flags & O_CREAT) {
		va_start(ap, flags);
		mode = va_arg(ap, int);
		va_end(ap);
	}
	if (!fuzz_config_allowed(path)) {
		errno = EACCES;
		return -1;
	}
	return __real_open(path, flags, mode);
}

/* Remove the scratch directory when the run ends. */
static void
fuzz_config_cleanup(void)
{
	char *p;
	size_t i;

	if (fuzz_dir == NULL)
		return;
	unlink(fuzz_path);
	for (i = 0; i < sizeof(fuzz_config_pems) / sizeof(*fuzz_config_pems);
	     i++) {
		xasprintf(&p, "%s/%s", fuzz_dir, fuzz_config_pems[i]);
		unlink(p);
		free(p);
	}
	xasprintf(&p, "%s/%s", fuzz_dir, FUZZ_SUBDIR);
	rmdir(p);
	free(p);
	rmdir(fuzz_dir);
}

/*
 * Make the scratch directory, $TMPDIR (or /tmp)/crisisd-fuzz.XXXXXX, with
 * the empty PEM files and the subdirectory a config may name.
 */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	char *p;
	size_t i;
	int fd;

	(void)argc;
	(void)argv;
	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	xasprintf(&fuzz_dir, "%s/crisisd-fuzz.XXXXXX", tmp);
	if (mkdtemp(fuzz_dir) == NULL)
		fatal("mkdtemp %s", fuzz_dir);
	xasprintf(&fuzz_path, "%s/crisisd.conf", fuzz_dir);
	atexit(fuzz_config_cleanup);
	for (i = 0; i < sizeof(fuzz_config_pems) / sizeof(*fuzz_config_pems);
	     i++) {
		xasprintf(&p, "%s/%s", fuzz_dir, fuzz_config_pems[i]);
		if ((fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1)
			fatal("open %s", p);
		close(fd);
		free(p);
	}
	xasprintf(&p, "%s/%s", fuzz_dir, FUZZ_SUBDIR);
	if (mkdir(p, 0700) == -1)
		fatal("mkdir %s", p);
	free(p);
	return 0;
}

/* Write the input as the config file. */
static void
fuzz_config_write(const uint8_t *data, size_t size)
{
	int fd =
	    open(fuzz_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t n;

	if (fd == -1)
		fatal("open %s", fuzz_path);
	while (size > 0) {
		if ((n = write(fd, data, size)) == -1) {
			if (errno == EINTR)
				continue;
			fatal("write %s", fuzz_path);
		}
		data += n;
		size -= (size_t)n;
	}
	if (close(fd) == -1)
		fatal("close %s", fuzz_path);
}

/* Is v within [min, max]? */
static bool
fuzz_config_in(int64_t v, int64_t min, int64_t max)
{
	return v >= min && v <= max;
}

/* Check a string the config owns: set, 1..max bytes. */
static void
fuzz_config_string(const char *s, size_t max_bytes)
{
	FUZZ_CHECK(s != NULL);
	FUZZ_CHECK(strlen(s) >= 1 && strlen(s) <= max_bytes);
}

/* Check the routing tiers: 1..CONF_TIERS_MAX, sorted, unique, in range. */
static void
fuzz_config_tiers(const struct conf *conf)
{
	const struct conf_tier *t;
	size_t i;

	FUZZ_CHECK(conf->ntiers >= 1 && conf->ntiers <= CONF_TIERS_MAX);
	for (i = 0; i < conf->ntiers; i++) {
		t = &conf->tiers[i];
		FUZZ_CHECK(fuzz_config_in(t->tier, 1, ROSTER_TIER_MAX));
		FUZZ_CHECK(i == 0 || conf->tiers[i - 1].tier < t->tier);
		FUZZ_CHECK(
		    strcmp(conf_strategy_name(t->strategy), "unknown") != 0);
		FUZZ_CHECK(conf_strategy_from_name(conf_strategy_name(
		               t->strategy)) == (int)t->strategy);
		FUZZ_CHECK(fuzz_config_in(t->offer_timeout_ms, 1, FUZZ_DAY_MS));
		FUZZ_CHECK(conf_tier(conf, t->tier) == t);
	}
	FUZZ_CHECK(conf_tier(conf, 0) == NULL);
	FUZZ_CHECK(conf_tier(conf, ROSTER_TIER_MAX + 1) == NULL);
}

/* Check a PEM path the config kept: a regular file in the scratch dir. */
static void
fuzz_config_pem(const char *path)
{
	struct stat st;

	if (path == NULL)
		return;
	FUZZ_CHECK(path[0] == '/' && fuzz_config_allowed(path));
	FUZZ_CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode));
}

/* Check the tls group: listeners need a certificate and a key. */
static void
fuzz_config_tls(const struct conf_tls *tls)
{
	size_t i;

	FUZZ_CHECK(tls->nlisten <= CONF_LISTEN_MAX);
	for (i = 0; i < tls->nlisten; i++) {
		fuzz_config_string(tls->listen[i], 300);
		FUZZ_CHECK(strrchr(tls->listen[i], ':') != NULL);
	}
	if (tls->nlisten > 0)
		FUZZ_CHECK(tls->certificate != NULL && tls->key != NULL);
	if (tls->require_client_cert)
		FUZZ_CHECK(tls->ca != NULL);
	fuzz_config_pem(tls->certificate);
	fuzz_config_pem(tls->key);
	fuzz_config_pem(tls->ca);
	FUZZ_CHECK(tls->min_version == CONF_TLS_1_2 ||
	    tls->min_version == CONF_TLS_1_3);
}

/* Check a config that loaded: everything config.h promises. */
static void
fuzz_config_loaded(const struct conf *conf)
{
	size_t i;

	FUZZ_CHECK(conf->path != NULL && strcmp(conf->path, fuzz_path) == 0);
	FUZZ_CHECK(conf->nlisten >= 1 && conf->nlisten <= CONF_LISTEN_MAX);
	for (i = 0; i < conf->nlisten; i++) {
		fuzz_config_string(conf->listen[i], 300);
		FUZZ_CHECK(strrchr(conf->listen[i], ':') != NULL);
	}
	FUZZ_CHECK(conf->database != NULL);
	FUZZ_CHECK(conf->database[0] == '/' ||
	    strcmp(conf->database, ":memory:") == 0);
	FUZZ_CHECK(
	    fuzz_config_in(conf->log_level, LOG_LEVEL_ERROR, LOG_LEVEL_DEBUG));
	fuzz_config_string(conf->timezone, 128);
	fuzz_config_tiers(conf);
	FUZZ_CHECK(fuzz_config_in(conf->max_wait_ms, 1, FUZZ_DAY_MS));
	fuzz_config_string(conf->overflow_target, 1024);
	FUZZ_CHECK(fuzz_config_in(conf->continuity_ms, 0, FUZZ_DAY_MS));
	FUZZ_CHECK(fuzz_config_in(conf->imminent_max_wait_ms, 1, FUZZ_DAY_MS));
	FUZZ_CHECK(fuzz_config_in(conf->wrapup_ms, 0, FUZZ_DAY_MS));
	FUZZ_CHECK(fuzz_config_in(conf->max_missed_offers, 1, 1000));
	FUZZ_CHECK(fuzz_config_in(conf->max_connections, 1, 1000000));
	FUZZ_CHECK(conf->max_line_bytes >= 256 &&
	    conf->max_line_bytes <= 16 * 1024 * 1024);
	FUZZ_CHECK(
	    fuzz_config_in(conf->hello_timeout_ms, 100, FUZZ_TEN_MINUTES_MS));
	FUZZ_CHECK(fuzz_config_in(conf->gap_warning_hours, 0, 24 * 31));
	FUZZ_CHECK(fuzz_config_in(conf->service_level_ms, 1, FUZZ_DAY_MS));
	FUZZ_CHECK(fuzz_config_in(conf->short_abandon_ms, 0, FUZZ_DAY_MS));
	fuzz_config_tls(&conf->tls);
}

/*
 * Check the cause of a failed load: lines of "PATH:N: text", N a line
 * of the file (libconfig may name the one after the last).
 */
static void
fuzz_config_cause(const char *cause, long nlines)
{
	size_t plen = strlen(fuzz_path);
	const char *p = cause, *nl;
	char *end;
	long line;

	FUZZ_CHECK(cause != NULL && cause[0] != '\0');
	for (;;) {
		FUZZ_CHECK(strncmp(p, fuzz_path, plen) == 0 && p[plen] == ':');
		p += plen + 1;
		FUZZ_CHECK(*p >= '0' && *p <= '9');
		line = strtol(p, &end, 10);
		FUZZ_CHECK(line >= 1 && line <= nlines + 1);
		FUZZ_CHECK(end[0] == ':' && end[1] == ' ' && end[2] != '\0');
		if ((nl = strchr(end, '\n')) == NULL)
			break;
		p = nl + 1;
	}
}

/* Load the input as a config and check the outcome either way. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *conf = NULL;
	char *cause = NULL;
	long nlines = 1;
	size_t i;

	for (i = 0; i + 8 <= size; i++) {
		if (strncasecmp((const char *)data + i, "@include", 8) == 0)
			return 0;
	}
	for (i = 0; i < size; i++)
		nlines += data[i] == '\n';
	fuzz_config_write(data, size);
	if (conf_load(fuzz_path, &conf, &cause) == 0) {
		FUZZ_CHECK(conf != NULL && cause == NULL);
		fuzz_config_loaded(conf);
		conf_free(conf);
	} else {
		FUZZ_CHECK(conf == NULL);
		fuzz_config_cause(cause, nlines);
		free(cause);
	}
	unlink(fuzz_path);
	return 0;
}
