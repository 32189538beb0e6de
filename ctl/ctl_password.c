/*
 * ctl_password.c: crisisctl password set ID, the web console password of a
 * clinician or supervisor (CONTRACT §6, §8).
 *
 * The password is read from standard input, never from the command line,
 * where ps and the shell's history would show it.  At a terminal it is
 * asked for twice with echo off; otherwise one line is read, for scripts.
 * It is read with read(2), not stdio, so no FILE buffer keeps a copy, and
 * every buffer that held it is wiped.  Only its Argon2id hash is stored,
 * and the audit row says that the password changed, nothing of what to.
 *
 * The principal is looked up before the password is asked for, so nobody
 * types a password for a typo; the password is hashed (tens of
 * milliseconds) before the write lock is taken, so crisisd's writes never
 * wait on it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "log.h"
#include "password.h"
#include "store.h"
#include "util.h"

#include "ctl.h"

/*
 * A line of input: a password of PASSWORD_MAX_BYTES, its "\r" (the "\n"
 * is not kept) and one byte more, so a longer line is seen to be too long
 * rather than cut short.
 */
#define CTL_PASSWORD_LINE_BYTES (PASSWORD_MAX_BYTES + 2)

/* The signal that interrupted a prompt with echo off, or 0. */
static volatile sig_atomic_t ctl_password_signal;

/* The signals that end a prompt: the terminal's echo is restored first. */
static const int ctl_password_signals[] = { SIGINT, SIGQUIT, SIGTERM, SIGHUP,
	SIGTSTP };

/* The terminal as it was, and the handlers the prompt replaced. */
struct ctl_password_tty {
	struct termios saved;
	struct sigaction handlers[nitems(ctl_password_signals)];
};

/* Note the signal; read(2) returns EINTR (no SA_RESTART). */
static void
ctl_password_on_signal(int sig)
{
	ctl_password_signal = sig;
}

/*
 * Read one line from fd into buf (CTL_PASSWORD_LINE_BYTES), one byte at a
 * time so nothing after the line is consumed, without its "\n" or "\r\n";
 * end of file ends it too.  *len is its length: more than
 * PASSWORD_MAX_BYTES if it was too long (the rest is left unread).  -1 on
 * a read error or a signal (errno says which).
 */
static int
ctl_password_line(int fd, char *buf, size_t *len)
{
	bool newline = false;
	size_t n = 0;
	ssize_t r;
	char c;

	while (n < CTL_PASSWORD_LINE_BYTES) {
		if (ctl_password_signal != 0) {
			errno = EINTR;
			return -1;
		}
		if ((r = read(fd, &c, 1)) == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		if (c == '\n') {
			newline = true;
			break;
		}
		buf[n++] = c;
	}
	if (newline && n > 0 && buf[n - 1] == '\r')
		n--;
	sodium_memzero(&c, sizeof(c)); /* the last byte read */
	*len = n;
	return 0;
}

/* Put back the signal handlers ctl_password_tty_quiet() replaced. */
static void
ctl_password_handlers_restore(struct ctl_password_tty *tty)
{
	for (size_t i = 0; i < nitems(ctl_password_signals); i++)
		sigaction(ctl_password_signals[i], &tty->handlers[i], NULL);
}

/* Turn echo off on fd and catch the signals that would leave it off. */
static int
ctl_password_tty_quiet(int fd, struct ctl_password_tty *tty)
{
	struct sigaction sa = { .sa_handler = ctl_password_on_signal };
	struct termios quiet;

	if (tcgetattr(fd, &tty->saved) == -1)
		return -1;
	sigemptyset(&sa.sa_mask);
	ctl_password_signal = 0;
	for (size_t i = 0; i < nitems(ctl_password_signals); i++) {
		sigaction(ctl_password_signals[i], NULL, &tty->handlers[i]);
		/* One ignored (nohup, a script's trap) stays ignored. */
		if (tty->handlers[i].sa_handler != SIG_IGN)
			sigaction(ctl_password_signals[i], &sa, NULL);
	}
	quiet = tty->saved;
	/* The newline the user types still shows: the prompts stay apart. */
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	if (tcsetattr(fd, TCSAFLUSH, &quiet) == -1) {
		ctl_password_handlers_restore(tty);
		return -1;
	}
	return 0;
}

/*
 * Put the terminal back, dropping what was typed and not read (the rest
 * of a line too long, which the shell would otherwise run, echoed), and
 * the handlers; then let a caught signal do what it was sent to do.
 */
static void
ctl_password_tty_restore(int fd, struct ctl_password_tty *tty)
{
	int sig = ctl_password_signal;

	tcsetattr(fd, TCSAFLUSH, &tty->saved);
	ctl_password_handlers_restore(tty);
	ctl_password_signal = 0;
	if (sig != 0)
		raise(sig);
}

/* Prompt on stderr and read a line from the terminal fd. */
static int
ctl_password_ask(int fd, const char *prompt, char *buf, size_t *len)
{
	fputs(prompt, stderr);
	fflush(stderr);
	return ctl_password_line(fd, buf, len);
}

/*
 * With echo off: ask for principal id's password, and again unless it
 * already breaks the rules (the operator learns that at once).  -1 on a
 * read error or a signal, with the error printed.
 */
static int
ctl_password_prompts(const char *id, int fd, char *pw, size_t *len, char *again,
    size_t *again_len)
{
	int err;

	fprintf(stderr,
	    "Web console password for %s (at least %d characters)\n", id,
	    PASSWORD_MIN_CHARS);
	if (ctl_password_ask(fd, "Password: ", pw, len) == 0 &&
	    (password_check(pw, *len) != PASSWORD_OK ||
	        ctl_password_ask(fd, "Again: ", again, again_len) == 0))
		return 0;
	err = errno;
	fputc('\n', stderr); /* the prompt's line was never ended */
	log_error("reading the password: %s",
	    err == EINTR ? "interrupted" : strerror(err));
	return -1;
}

/*
 * At the terminal fd: the password, asked for twice with echo off; the
 * two must match.  CTL_OK, or the exit code with the error printed.
 */
static int
ctl_password_from_tty(const struct ctl *ctl, int fd, char *pw, size_t *len)
{
	char again[CTL_PASSWORD_LINE_BYTES];
	enum password_problem problem = PASSWORD_OK;
	struct ctl_password_tty tty;
	size_t again_len = 0;
	int rc = CTL_OK;

	if (ctl_password_tty_quiet(fd, &tty) == -1) {
		log_error("cannot turn the terminal's echo off: %s",
		    strerror(errno));
		return CTL_FAIL;
	}
	if (ctl_password_prompts(ctl->pos[0], fd, pw, len, again, &again_len) ==
	    -1)
		rc = CTL_FAIL;
	ctl_password_tty_restore(fd, &tty);
	if (rc == CTL_OK && (problem = password_check(pw, *len)) != PASSWORD_OK)
		rc = ctl_usage_error(ctl, "the password %s",
		    password_problem_text(problem));
	else if (rc == CTL_OK &&
	    (again_len != *len || sodium_memcmp(again, pw, *len) != 0))
		rc = ctl_usage_error(ctl, "the passwords do not match");
	sodium_memzero(again, sizeof(again));
	return rc;
}

/*
 * Not a terminal: the password is the first line (a script's echo or a
 * file).  CTL_OK, or the exit code with the error printed.
 */
static int
ctl_password_from_stream(const struct ctl *ctl, int fd, char *pw, size_t *len)
{
	enum password_problem problem;

	if (ctl_password_line(fd, pw, len) == -1) {
		log_error("reading the password from standard input: %s",
		    strerror(errno));
		return CTL_FAIL;
	}
	if (*len == 0)
		return ctl_usage_error(ctl,
		    "no password on standard input: give it as one line");
	if ((problem = password_check(pw, *len)) != PASSWORD_OK)
		return ctl_usage_error(ctl, "the password %s",
		    password_problem_text(problem));
	return CTL_OK;
}

/*
 * Read and check the password, then hash it into hash; the password is
 * wiped whatever happens.  CTL_OK, or the exit code with the error
 * printed.
 */
static int
ctl_password_read_hash(const struct ctl *ctl, char hash[PASSWORD_HASH_BYTES])
{
	char pw[CTL_PASSWORD_LINE_BYTES];
	size_t len = 0;
	int rc;

	if (isatty(STDIN_FILENO))
		rc = ctl_password_from_tty(ctl, STDIN_FILENO, pw, &len);
	else
		rc = ctl_password_from_stream(ctl, STDIN_FILENO, pw, &len);
	if (rc == CTL_OK && password_hash(pw, len, hash) != 0) {
		log_error("cannot hash the password: out of memory");
		rc = CTL_FAIL;
	}
	sodium_memzero(pw, sizeof(pw));
	return rc;
}

/*
 * The principal must exist and be able to log in: a clinician or a
 * supervisor.  A disabled one may have its password set (it is ready
 * when the principal is enabled again); the console refuses it meanwhile,
 * which the operator is told.
 */
static int
ctl_password_principal(struct ctl *ctl, const char *id)
{
	uint8_t token[TOKEN_HASH_BYTES];
	bool disabled = false;
	char role[16];
	int rc;

	rc = store_principal_get(ctl->store, id, role, token, &disabled);
	if (rc == STORE_NOTFOUND) {
		log_error("no principal %s", id);
		return CTL_FAIL;
	}
	if (rc != STORE_OK)
		return ctl_store_fail(ctl, NULL);
	if (strcmp(role, "intake") == 0) {
		log_error("%s is an intake principal: only clinicians and "
		          "supervisors log in to the web console",
		    id);
		return CTL_FAIL;
	}
	if (disabled)
		log_notice("%s is disabled: the web console refuses it until "
		           "crisisctl principal enable %s",
		    id, id);
	return CTL_OK;
}

/* Roll back what the command wrote and report the store's error. */
static int
ctl_password_fail(struct ctl *ctl)
{
	int rc = ctl_store_fail(ctl, NULL);

	store_rollback(ctl->store);
	return rc;
}

/*
 * Store the hash with its audit row, in one transaction: the row says
 * whether a password was replaced, never the password or either hash.
 */
static int
ctl_password_store(struct ctl *ctl, const char *id, const char *hash)
{
	char old[PASSWORD_HASH_BYTES];
	int had;

	/* The batch first: nobody changes the password between the two. */
	if (store_review_begin(ctl->store) != STORE_OK)
		return ctl_password_fail(ctl);
	had = store_principal_password(ctl->store, id, old, sizeof(old));
	sodium_memzero(old, sizeof(old));
	if ((had != STORE_OK && had != STORE_UNSET) ||
	    store_password_set(ctl->store, id, hash) != STORE_OK ||
	    ctl_audit_change(ctl, "change.password", id,
	        json_pack("{s:s, s:s}", "id", id, "password",
	            had == STORE_OK ? "old" : "none"),
	        json_pack("{s:s, s:s}", "id", id, "password", "new")) != CTL_OK)
		return ctl_password_fail(ctl);
	return ctl_commit(ctl);
}

/* password set ID: read a password from stdin and store its hash. */
int
ctl_password_set(struct ctl *ctl)
{
	const char *id = ctl->pos[0];
	char hash[PASSWORD_HASH_BYTES];
	int rc;

	if ((rc = ctl_roster_check_id(ctl, "principal", id)) != CTL_OK ||
	    (rc = ctl_password_principal(ctl, id)) != CTL_OK ||
	    (rc = ctl_password_read_hash(ctl, hash)) != CTL_OK)
		return rc;
	if ((rc = ctl_password_store(ctl, id, hash)) == CTL_OK)
		printf("password set for %s\n", id);
	return rc;
}
