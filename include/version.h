/*
 * version.h: the release both programs print for --version and crisisd
 * sends in "welcome" as "crisisd/VERSION".
 */
#ifndef CRISISD_VERSION_H
#define CRISISD_VERSION_H

#define CRISISD_VERSION "0.1.0"

#endif
