/*
 * lockfile.h: one crisisd per database (CONTRACT §5).  An exclusive lock on
 * "DATABASE.lock", next to the database, held for the life of the process
 * and released by the kernel however it ends; the file names the pid that
 * holds it, so a second daemon can say who it lost to.  crisisctl takes no
 * such lock: it works beside the daemon, and only asks whether one runs.
 */
#ifndef CRISISD_LOCKFILE_H
#define CRISISD_LOCKFILE_H

struct lockfile;

/*
 * Take the lock of the database at path; NULL and *cause (naming the pid
 * that holds it, when another process does) if it cannot be had.
 */
struct lockfile *lockfile_take(const char *database, char **cause);
/*
 * Does a crisisd serve the database at path: 1 yes, 0 no, -1 (errno) if
 * that cannot be told.  It probes with a shared lock for an instant; a
 * daemon starting in that instant tries again (lockfile_take).
 */
int lockfile_held(const char *database);
/* Release it (at exit; a crash releases it too). */
void lockfile_release(struct lockfile *lf);

#endif
