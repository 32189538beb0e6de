/*
 * lockfile.h: one crisisd per database (CONTRACT §5).  An exclusive lock on
 * "DATABASE.lock", next to the database, held for the life of the process
 * and released by the kernel however it ends; the file names the pid that
 * holds it, so a second daemon can say who it lost to.  crisisctl takes no
 * such lock: it works beside the daemon.
 */
#ifndef CRISISD_LOCKFILE_H
#define CRISISD_LOCKFILE_H

struct lockfile;

/*
 * Take the lock of the database at path; NULL and *cause (naming the pid
 * that holds it, when another process does) if it cannot be had.
 */
struct lockfile *lockfile_take(const char *database, char **cause);
/* Release it (at exit; a crash releases it too). */
void lockfile_release(struct lockfile *lf);

#endif
