/*
 * store_password.c: principals' web console passwords, as the Argon2id
 * strings password_hash() makes (principals.password_hash, NULL for none).
 * crisisctl password set writes them; the console reads them to verify a
 * login.  The store never sees a password, only its hash.
 */
#include <string.h>

#include "store.h"
#include "store_int.h"

/*
 * Why the update changed nothing: STORE_NOTFOUND for an unknown principal,
 * STORE_CONFLICT for an intake principal, with the error set.
 */
static int
store_password_refused(struct store *st, const char *id)
{
	uint8_t token[TOKEN_HASH_BYTES];
	char role[16];
	int rc;

	if ((rc = store_principal_get(st, id, role, token, NULL)) != STORE_OK)
		return rc;
	if (strcmp(role, "intake") == 0) {
		store_set_error(st,
		    "%s is an intake principal: only clinicians and "
		    "supervisors log in to the web console",
		    id);
		return STORE_CONFLICT;
	}
	/* The update matched nobody, yet the principal is there. */
	store_set_error(st, "principal %s: password not set", id);
	return STORE_ERROR;
}

/* Set a clinician's or supervisor's password hash, in the batch. */
int
store_password_set(struct store *st, const char *id, const char *hash)
{
	struct db_stmt *s;
	int rc;

	if ((s = store_write_stmt(st, STORE_STMT_PASSWORD_SET)) == NULL)
		return STORE_ERROR;
	if ((store_bind_text(s, 1, id) | store_bind_text(s, 2, hash)) != DB_OK)
		return store_fail(st, "set password");
	if ((rc = store_step_write(st, s, "set password")) != STORE_OK)
		return rc;
	if (store_changes(st) == 0)
		return store_password_refused(st, id);
	return STORE_OK;
}

/* Copy principal id's password hash into buf; STORE_UNSET if it has none. */
int
store_principal_password(struct store *st, const char *id, char *buf,
    size_t size)
{
	struct db_stmt *s;
	const char *hash;
	size_t len;
	int rc;

	if ((s = store_stmt(st, STORE_STMT_PASSWORD_GET)) == NULL)
		return STORE_ERROR;
	if (store_bind_text(s, 1, id) != DB_OK)
		return store_fail(st, "get password");
	if ((rc = store_step_read(st, s, "get password")) != STORE_OK) {
		if (rc == STORE_NOTFOUND)
			store_set_error(st, "no principal %s", id);
		return rc;
	}
	if (db_column_type(s, 0) == DB_NULL) {
		db_reset(s);
		return STORE_UNSET;
	}
	hash = (const char *)db_column_text(s, 0);
	len = (size_t)db_column_bytes(s, 0);
	/* A NUL inside would cut the hash short: malformed too. */
	if (hash == NULL || len >= size || strlen(hash) != len) {
		store_set_error(st, "principal %s: malformed password hash",
		    id);
		db_reset(s);
		return STORE_ERROR;
	}
	memcpy(buf, hash, len + 1);
	db_reset(s);
	return STORE_OK;
}
