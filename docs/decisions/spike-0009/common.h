/* Spike 0009 only: shared bits of the three throwaway servers (not built by CMake). */
#ifndef SPIKE_COMMON_H
#define SPIKE_COMMON_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SPIKE_BODY_LEN 1024
#define SPIKE_MAX_THREADS 64

static char spike_body[SPIKE_BODY_LEN];

static void spike_fill_body(void)
{
    for (size_t i = 0; i < SPIKE_BODY_LEN; i++)
        spike_body[i] = (char)('a' + (i % 26));
    spike_body[SPIKE_BODY_LEN - 1] = '\n';
}

/* One listening socket per worker, all bound to the same port: the kernel
 * spreads new connections over the workers (SO_REUSEPORT). */
static int spike_listen(unsigned port)
{
    struct sockaddr_in sa;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 1024) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static unsigned spike_arg(int argc, char **argv, int i, unsigned dflt)
{
    if (argc <= i)
        return dflt;
    char *end = NULL;
    unsigned long v = strtoul(argv[i], &end, 10);
    if (end == argv[i] || *end != '\0' || v == 0 || v > 65535) {
        fprintf(stderr, "bad argument: %s\n", argv[i]);
        exit(2);
    }
    return (unsigned)v;
}

#endif
