/* fd.h - file-descriptor chores shared by the gateway and the bench: both
 * hold tens of thousands of sockets and must use every descriptor the hard
 * limit allows, and both write whole buffers to blocking descriptors. */
#ifndef LG_LIVEGATE_FD_H
#define LG_LIVEGATE_FD_H

#include <stddef.h>

/* Raises the soft RLIMIT_NOFILE to the hard limit (which cannot be raised
 * here) and returns the new soft limit, capped at 1,000,000: the size lws
 * should give its fd table. */
int lg_fd_raise_limit(void);

/* Writes all len bytes to a blocking fd, retrying short writes and EINTR.
 * 0, or -1 with errno set. The caller ignores SIGPIPE if fd is a socket. */
int lg_fd_write_all(int fd, const void *buf, size_t len);

#endif
