/* bind_no_port.c - makes the kernel pick a viewer connection's source port
 * at connect() time, not at bind() time.
 *
 * Why: past 10,000 connections the bench binds each socket to a loopback
 * source address (127.0.0.2, ...), and libwebsockets 4.1 calls bind() with
 * port 0 between socket() and connect(), with no hook to set a socket option
 * in between. A port-0 bind makes the kernel search its bind table for a
 * free port, which grows with every port in use: at 12,000 connections per
 * worker it took a third of the bench's CPU, and the ramp starved the
 * gateways. IP_BIND_ADDRESS_NO_PORT defers the choice to connect(), which
 * looks ports up by the whole 4-tuple. So the executable defines bind()
 * (the dynamic linker resolves libwebsockets' call to it) and sets that
 * option on IPv4 port-0 binds before calling libc's bind(). Linked into the
 * livegate-bench executable only. */
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>

typedef int (*lg_bind_fn)(int, const struct sockaddr *, socklen_t);

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    static lg_bind_fn libc_bind;
    if (!libc_bind)
        libc_bind = (lg_bind_fn)dlsym(RTLD_NEXT, "bind");
    if (addr && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in) &&
        ((const struct sockaddr_in *)addr)->sin_port == 0) {
        int one = 1;
        (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    }
    return libc_bind(fd, addr, len);
}
