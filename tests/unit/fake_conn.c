/*
 * fake_conn.c: the connections of fake_conn.h.  A line "sent" is kept in
 * memory; closing calls the owner's closed callback at once, as conn_close
 * does, but keeps the connection (and its lines) until fake_conn_free().
 */
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "fake_conn.h"
#include "util.h"

struct conn {
	const struct conn_cbs *cbs;
	void *owner;
	void *data;
	char **lines;
	size_t nlines, read;
	bool closed;
	bool drained_wanted;
};

/* A connection, open. */
struct conn *
fake_conn_new(const struct conn_cbs *cbs, void *owner)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	c->cbs = cbs;
	c->owner = owner;
	return c;
}

/* What the connection's callbacks work for. */
void *
fake_conn_owner(const struct conn *c)
{
	return c->owner;
}

/* Free a connection and its lines. */
void
fake_conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nlines; i++)
		free(c->lines[i]);
	free(c->lines);
	free(c);
}

/* How many lines it was sent. */
size_t
fake_conn_nlines(const struct conn *c)
{
	return c->nlines;
}

/* Line i, or NULL. */
const char *
fake_conn_line(const struct conn *c, size_t i)
{
	return i < c->nlines ? c->lines[i] : NULL;
}

/* The next line not read yet, or NULL. */
const char *
fake_conn_read(struct conn *c)
{
	return c->read < c->nlines ? c->lines[c->read++] : NULL;
}

/* Has it been closed? */
bool
fake_conn_closed(const struct conn *c)
{
	return c->closed;
}

/* Did its owner ask to hear of its output draining? (cleared) */
bool
fake_conn_take_drained(struct conn *c)
{
	bool wanted = c->drained_wanted && !c->closed;

	c->drained_wanted = false;
	return wanted;
}

/* The owner's data. */
void
conn_set_data(struct conn *c, void *data)
{
	c->data = data;
}

/* The owner's data. */
void *
conn_data(const struct conn *c)
{
	return c->data;
}

/* Nothing to stop: there is no hello deadline here. */
void
conn_hello_done(struct conn *c)
{
	(void)c;
}

/* Keep the line; -1 once closed, as a closing connection refuses it. */
int
conn_send(struct conn *c, const char *line)
{
	if (c->closed)
		return -1;
	c->lines = xreallocarray(c->lines, c->nlines + 1, sizeof(*c->lines));
	c->lines[c->nlines++] = xstrdup(line);
	return 0;
}

/* The lines are "written" as soon as they are sent. */
void
conn_push(struct conn *c)
{
	(void)c;
}

/* The owner asks to hear when the output drained (fake_conn_take_drained). */
void
conn_notify_drained(struct conn *c)
{
	c->drained_wanted = true;
}

/* Closed already? */
bool
conn_closing(const struct conn *c)
{
	return c->closed;
}

/* Close now: the owner hears of it at once, as from conn_close. */
void
conn_close(struct conn *c, const char *why)
{
	if (c->closed)
		return;
	c->closed = true;
	if (c->cbs != NULL && c->cbs->closed != NULL)
		c->cbs->closed(c, why);
}

/* The lines are all out already: finishing is closing. */
void
conn_finish(struct conn *c, const char *why)
{
	conn_close(c, why);
}
