#ifndef CARES_SHIM_H
#define CARES_SHIM_H
#include <ares.h>
#include <arpa/inet.h>
#include <netdb.h>

/* The ARES_GETSOCK_* macros, as functions Swift can call. */
static inline int ta_ares_sock_readable(int bits, int num) { return ARES_GETSOCK_READABLE(bits, num) != 0; }
static inline int ta_ares_sock_writable(int bits, int num) { return ARES_GETSOCK_WRITABLE(bits, num) != 0; }
static inline int ta_ares_getsock_maxnum(void) { return ARES_GETSOCK_MAXNUM; }
#endif
