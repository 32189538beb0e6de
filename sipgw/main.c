/*
 * main.c: crisis-sipgw, the SIP gateway between Kamailio's evapi module
 * and crisisd (CONTRACT §9).  Runs in the foreground; SIGTERM or SIGINT
 * stops it.  Calls Kamailio still holds when it stops are told to the next
 * crisis-sipgw that connects (kamailio.cfg's resync), and their contacts
 * are sent again under the same refs.
 */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

#include "gateway.h"
#include "gwconf.h"
#include "log.h"
#include "version.h"

#define SIPGW_DEFAULT_CONF "/etc/crisis-sipgw/crisis-sipgw.conf"

/* Print the usage to f. */
static void
main_usage(FILE *f)
{
	fprintf(f,
	    "usage: crisis-sipgw [-t] [-c FILE]\n"
	    "  -c, --config FILE  the configuration (default: "
	    "$CRISIS_SIPGW_CONF, then " SIPGW_DEFAULT_CONF ")\n"
	    "  -t, --test         check the configuration and exit\n"
	    "  -h, --help         this help\n"
	    "  -V, --version      the version\n");
}

/* The config path: -c, else $CRISIS_SIPGW_CONF, else the default. */
static const char *
main_conf_path(const char *given)
{
	const char *env = getenv("CRISIS_SIPGW_CONF");

	if (given != NULL)
		return given;
	return env != NULL && env[0] != '\0' ? env : SIPGW_DEFAULT_CONF;
}

/*
 * Load the config, or print every error and exit 2.  -t also reads the
 * token file, which the running gateway reads at each connection.
 */
static struct gwconf *
main_load(const char *path, bool test)
{
	char *cause = NULL, *token;
	struct gwconf *conf;

	if ((conf = gwconf_load(path, &cause)) == NULL) {
		fprintf(stderr, "%s\n", cause);
		free(cause);
		exit(2);
	}
	if (test) {
		if ((token = gwconf_read_token(conf->token_file, &cause)) ==
		    NULL) {
			fprintf(stderr, "%s: crisisd.token_file: %s\n", path,
			    cause);
			free(cause);
			gwconf_free(conf);
			exit(2);
		}
		free(token);
	}
	return conf;
}

/* SIGTERM, SIGINT: stop. */
static void
main_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_notice("signal %d: stopping", (int)sig);
	event_base_loopbreak(arg);
}

/* Run the gateway until a signal stops it. */
static int
main_run(struct gwconf *conf)
{
	struct event_base *base = event_base_new();
	struct event *term, *intr;
	struct gateway *g;
	char *cause = NULL, more[32] = "";

	if (base == NULL)
		fatalx("event_base_new failed");
	if ((g = gateway_new(base, conf, &cause)) == NULL) {
		fprintf(stderr, "crisis-sipgw: %s\n", cause);
		free(cause);
		return 2;
	}
	term = evsignal_new(base, SIGTERM, main_signal_cb, base);
	intr = evsignal_new(base, SIGINT, main_signal_cb, base);
	if (term == NULL || intr == NULL || evsignal_add(term, NULL) == -1 ||
	    evsignal_add(intr, NULL) == -1)
		fatalx("cannot catch signals");
	signal(SIGPIPE, SIG_IGN);
	if (conf->ncrisisd > 1)
		snprintf(more, sizeof more, " and %d more", conf->ncrisisd - 1);
	log_notice("crisis-sipgw %s: Kamailio evapi %s:%s, crisisd %s:%s%s as "
	           "%s",
	    CRISISD_VERSION, conf->evapi_host, conf->evapi_port,
	    conf->crisisd[0].host, conf->crisisd[0].port, more,
	    conf->principal);
	gateway_start(g);
	if (event_base_dispatch(base) == -1)
		fatalx("event loop failed");
	gateway_free(g);
	event_free(term);
	event_free(intr);
	event_base_free(base);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *given = NULL, *path;
	struct gwconf *conf;
	bool test = false;
	int ch, rc;

	log_init("crisis-sipgw", LOG_LEVEL_INFO);
	while ((ch = getopt_long(argc, argv, "c:thV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			given = optarg;
			break;
		case 't':
			test = true;
			break;
		case 'h':
			main_usage(stdout);
			return 0;
		case 'V':
			printf("crisis-sipgw %s\n", CRISISD_VERSION);
			return 0;
		default:
			main_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		main_usage(stderr);
		return 2;
	}
	path = main_conf_path(given);
	conf = main_load(path, test);
	if (test) {
		printf("configuration OK (%s)\n", path);
		gwconf_free(conf);
		return 0;
	}
	log_set_level((enum log_level)log_level_from_name(conf->log_level));
	rc = main_run(conf);
	gwconf_free(conf);
	return rc;
}
