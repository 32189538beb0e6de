/*
 * embed: write the web console's files into a C source file, so crisisd
 * serves them from its own memory: no file is read at run time, no path
 * from a request ever reaches the file system, and the console a daemon
 * serves is always the one it was built with.
 *
 *	embed OUT.c ROOT FILE...
 *
 * Each FILE (under ROOT) becomes an entry of web_assets[] (include/web.h)
 * named by its path below ROOT with a leading '/', with the content type
 * its extension says.  A build tool, run by make; not installed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The content types the console's files may have, by extension. */
static const struct {
	const char *ext;
	const char *type;
} embed_types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".ico", "image/x-icon" },
	{ ".json", "application/json" },
	{ ".txt", "text/plain; charset=utf-8" },
};

/* The content type of path, or NULL if it is not one the console uses. */
static const char *
embed_type(const char *path)
{
	const char *dot = strrchr(path, '.');

	for (size_t i = 0;
	     dot != NULL && i < sizeof embed_types / sizeof embed_types[0];
	     i++) {
		if (strcmp(dot, embed_types[i].ext) == 0)
			return embed_types[i].type;
	}
	return NULL;
}

/* Write one file as a byte array named asset_N; its size, or -1. */
static long
embed_file(FILE *out, const char *path, int n)
{
	FILE *in = fopen(path, "rb");
	long size = 0;
	int c;

	if (in == NULL) {
		fprintf(stderr, "embed: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fprintf(out, "static const unsigned char asset_%d[] = {", n);
	while ((c = getc(in)) != EOF) {
		fprintf(out, "%s0x%02x,", size % 12 == 0 ? "\n\t" : " ", c);
		size++;
	}
	if (ferror(in)) {
		fprintf(stderr, "embed: %s: read error\n", path);
		fclose(in);
		return -1;
	}
	fclose(in);
	/* An empty array is not C: a lone 0 that the size leaves out. */
	fprintf(out, "%s};\n\n", size == 0 ? "\n\t0" : "");
	return size;
}

int
main(int argc, char **argv)
{
	size_t rootlen;
	long *sizes;
	FILE *out;

	if (argc < 3) {
		fprintf(stderr, "usage: embed OUT.c ROOT [FILE...]\n");
		return 2;
	}
	rootlen = strlen(argv[2]);
	if ((out = fopen(argv[1], "w")) == NULL) {
		fprintf(stderr, "embed: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	sizes = calloc((size_t)argc, sizeof(*sizes));
	fprintf(out,
	    "/* Made by tools/embed from %s: do not edit. */\n"
	    "#include \"web.h\"\n\n",
	    argv[2]);
	for (int i = 3; i < argc; i++) {
		if (strncmp(argv[i], argv[2], rootlen) != 0 ||
		    argv[i][rootlen] != '/' || embed_type(argv[i]) == NULL) {
			fprintf(stderr,
			    "embed: %s: not a console file under %s\n", argv[i],
			    argv[2]);
			return 1;
		}
		if ((sizes[i] = embed_file(out, argv[i], i)) < 0)
			return 1;
	}
	fprintf(out, "const struct web_asset web_assets[] = {\n");
	for (int i = 3; i < argc; i++)
		fprintf(out, "\t{ \"%s\", \"%s\", asset_%d, %ld },\n",
		    argv[i] + rootlen, embed_type(argv[i]), i, sizes[i]);
	fprintf(out, "\t{ NULL, NULL, NULL, 0 },\n};\n");
	free(sizes);
	if (fclose(out) != 0) {
		fprintf(stderr, "embed: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	return 0;
}
