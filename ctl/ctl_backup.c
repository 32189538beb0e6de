/*
 * ctl_backup.c: crisisctl backup FILE [--force]: a consistent, checked
 * copy of the database, taken while crisisd runs (store_backup).
 *
 * A backup reads every record, so it is audited like a read: the row
 * (action "backup", target the file's absolute path) is committed before
 * the copy is made, and a backup that cannot be recorded is refused.  The
 * checks a person can act on (the file exists, its directory is missing)
 * come first, so a refused backup leaves no audit row behind.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "log.h"
#include "store.h"
#include "util.h"

#include "ctl.h"

/* path made absolute against the working directory; NULL and logged if not. */
static char *
ctl_backup_absolute(const char *path)
{
	char cwd[PATH_MAX];
	char *abs;

	if (path[0] == '/')
		return xstrdup(path);
	if (getcwd(cwd, sizeof cwd) == NULL) {
		log_error("working directory: %s", strerror(errno));
		return NULL;
	}
	xasprintf(&abs, "%s/%s", cwd, path);
	return abs;
}

/* Is path an existing directory, or the directory of a bare name? */
static bool
ctl_backup_dir_ok(const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	struct stat sb;
	bool ok;

	if (slash == dir)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	ok = stat(slash != NULL ? dir : ".", &sb) == 0 && S_ISDIR(sb.st_mode);
	free(dir);
	return ok;
}

/*
 * Refuse at once what store_backup() would refuse for a plain reason:
 * FILE exists (without --force), is not a regular file, is the database,
 * or its directory is missing.
 */
static int
ctl_backup_precheck(const char *path, const char *db, bool force)
{
	struct stat sb, dbsb;

	if (lstat(path, &sb) == 0) {
		if (!force) {
			log_error("%s exists; use --force to replace it", path);
			return CTL_FAIL;
		}
		if (!S_ISREG(sb.st_mode)) {
			log_error("%s is not a regular file", path);
			return CTL_FAIL;
		}
		if (stat(db, &dbsb) == 0 && sb.st_dev == dbsb.st_dev &&
		    sb.st_ino == dbsb.st_ino) {
			log_error("%s is the database itself", path);
			return CTL_FAIL;
		}
	} else if (errno != ENOENT) {
		log_error("%s: %s", path, strerror(errno));
		return CTL_FAIL;
	}
	if (!ctl_backup_dir_ok(path)) {
		log_error("%s: no such directory", path);
		return CTL_FAIL;
	}
	return CTL_OK;
}

/* crisisctl backup FILE [--force]. */
int
ctl_backup(struct ctl *ctl)
{
	bool force = ctl_opt(ctl, "force") != NULL;
	const char *db = ctl->conf->database;
	char *path;
	int64_t bytes = 0;
	json_t *detail;
	int rc;

	if (*ctl->pos[0] == '\0')
		return ctl_usage_error(ctl, "FILE must not be empty");
	if ((path = ctl_backup_absolute(ctl->pos[0])) == NULL)
		return CTL_FAIL;
	if ((rc = ctl_backup_precheck(path, db, force)) != CTL_OK) {
		free(path);
		return rc;
	}
	detail = json_pack("{s:s, s:b}", "database", db, "force", force);
	if ((rc = ctl_audit_read(ctl, "backup", path, detail)) != CTL_OK) {
		free(path);
		return rc;
	}
	if (store_backup(ctl->store, path, force, &bytes) != STORE_OK) {
		log_error("backup: %s", store_error(ctl->store));
		free(path);
		return CTL_FAIL;
	}
	printf("backed up %s to %s: %lld bytes, integrity_check ok\n", db, path,
	    (long long)bytes);
	free(path);
	return CTL_OK;
}
