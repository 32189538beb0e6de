/*
 * web.h: the web console's files, built into crisisd by tools/embed from
 * web/ (the generated $(BUILD)/web_assets.c).
 */
#ifndef CRISISD_WEB_H
#define CRISISD_WEB_H

#include <stddef.h>

struct web_asset {
	const char *path; /* "/index.html", "/js/app.js" */
	const char *type; /* its Content-Type */
	const unsigned char *data;
	size_t size;
};

/* Every file, then an entry whose path is NULL. */
extern const struct web_asset web_assets[];

#endif
