/*
 * idleconn: opens N keep-alive HTTP/1.1 connections to one loopback server, sends one GET on each and
 * reads the whole response (so the server has accepted and served every connection), then holds them
 * all idle until its standard input is closed (or it gets SIGTERM/SIGINT).
 *
 *   idleconn -p PORT -n N [-d 127.0.0.1] [-s SOURCES] [-f FIRST] [-u /plaintext] [-c CONCURRENCY] [-t]
 *
 * -t: over TLS (a full handshake per connection, certificate not verified, no session offered); the
 * request and response then go through OpenSSL, and the idle connection holds its SSL object.
 *
 * Sources: connection i binds to source address 127.0.0.(FIRST + i % SOURCES) with
 * IP_BIND_ADDRESS_NO_PORT, so that more than one ephemeral port range worth of connections fit.
 * At most CONCURRENCY connections are being opened/served at a time (the rest wait), so that the
 * server's listen backlog never overflows.
 *
 * Output (stdout, one line each): "READY <n>" once all n connections have been served and are idle;
 * "CLOSED <k>" at exit: how many the server closed during the hold. Errors go to stderr, exit status 1.
 * Only loopback addresses are accepted.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum state { UNUSED, CONNECTING, HANDSHAKE, SENDING, READING, IDLE, CLOSED };

struct conn {
    int fd;
    enum state st;
    SSL *ssl;           /* with -t */
    int sent;
    int got;            /* bytes of the response read so far */
    int header_end;     /* offset just past the blank line, 0 until seen */
    long content_length;
    char buf[512];
};

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { (void)sig; g_stop = 1; }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
    fprintf(stderr, "idleconn: %s: %s\n", what, strerror(err));
    exit(1);
}

/* send/recv, or SSL_write/SSL_read with -t: > 0 bytes; -1 with errno EAGAIN (and *wait the readiness
 * to wait for) when it would block; 0 at the peer's close; -1 with another errno on failure. */
static ssize_t io(struct conn *c, void *buf, size_t len, int writing, unsigned *wait)
{
    *wait = writing ? EPOLLOUT : EPOLLIN;
    if (!c->ssl) {
        ssize_t r = writing ? send(c->fd, buf, len, MSG_NOSIGNAL) : recv(c->fd, buf, len, 0);
        return r;
    }
    int r = writing ? SSL_write(c->ssl, buf, (int)len) : SSL_read(c->ssl, buf, (int)len);
    if (r > 0) return r;
    switch (SSL_get_error(c->ssl, r)) {
    case SSL_ERROR_WANT_READ: *wait = EPOLLIN; errno = EAGAIN; return -1;
    case SSL_ERROR_WANT_WRITE: *wait = EPOLLOUT; errno = EAGAIN; return -1;
    case SSL_ERROR_ZERO_RETURN: return 0;
    default: ERR_clear_error(); if (!errno || errno == EAGAIN) errno = ECONNRESET; return r == 0 ? 0 : -1;
    }
}

int main(int argc, char **argv)
{
    int port = 0, n = 0, sources = 1, first = 1, concurrency = 256, tls = 0;
    const char *dst = "127.0.0.1", *path = "/plaintext";
    int opt;
    while ((opt = getopt(argc, argv, "p:n:d:s:f:u:c:t")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'n': n = atoi(optarg); break;
        case 'd': dst = optarg; break;
        case 's': sources = atoi(optarg); break;
        case 'f': first = atoi(optarg); break;
        case 'u': path = optarg; break;
        case 'c': concurrency = atoi(optarg); break;
        case 't': tls = 1; break;
        default:
            fprintf(stderr, "usage: %s -p PORT -n N [-d 127.0.0.1] [-s SOURCES] [-f FIRST] [-u PATH] [-c CONCURRENCY] [-t]\n", argv[0]);
            return 2;
        }
    }
    if (port <= 0 || port > 65535 || n <= 0 || sources <= 0 || first <= 0 || first + sources - 1 > 254 || concurrency <= 0) {
        fprintf(stderr, "idleconn: bad arguments\n");
        return 2;
    }

    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
    if (inet_pton(AF_INET, dst, &to.sin_addr) != 1 || (ntohl(to.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "idleconn: destination must be a 127.0.0.0/8 address\n");
        return 2;
    }

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && (rlim_t)n + 16 > rl.rlim_cur) {
        fprintf(stderr, "idleconn: %d connections need more file descriptors than RLIMIT_NOFILE allows (%llu)\n",
                n, (unsigned long long)rl.rlim_cur);
        return 1;
    }

    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);

    char request[256];
    int reqlen = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n", path, dst, port);

    SSL_CTX *ctx = NULL;
    if (tls) {
        ctx = SSL_CTX_new(TLS_client_method());
        if (!ctx) { fprintf(stderr, "idleconn: SSL_CTX_new failed\n"); return 1; }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);   /* the client's idle memory is not measured, but keep it small */
        static const unsigned char alpn[] = "\x08http/1.1";
        SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);
    }

    struct conn *conns = calloc((size_t)n, sizeof *conns);
    if (!conns) die("calloc", errno);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1", errno);

    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (unsigned long long)n };  /* n = stdin */
    epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);

    int next = 0, active = 0, idle = 0, closed = 0, ready = 0, stdin_open = 1;
    double started = now_s();
    struct epoll_event events[1024];

    while (!g_stop) {
        /* Open more connections, keeping at most `concurrency` in progress. */
        while (!ready && next < n && active < concurrency) {
            struct conn *c = &conns[next];
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) die("socket", errno);
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (sources > 1 || first != 1) {
                struct sockaddr_in from = { .sin_family = AF_INET };
                from.sin_addr.s_addr = htonl((127u << 24) | (unsigned)(first + next % sources));
                setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
                if (bind(fd, (struct sockaddr *)&from, sizeof from) < 0) die("bind", errno);
            }
            c->fd = fd;
            c->st = CONNECTING;
            if (connect(fd, (struct sockaddr *)&to, sizeof to) < 0 && errno != EINPROGRESS) {
                fprintf(stderr, "idleconn: connect #%d: %s\n", next, strerror(errno));
                return 1;
            }
            ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
            ev.data.u64 = (unsigned long long)next;
            if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl", errno);
            next++;
            active++;
        }
        if (!ready && idle == n) {
            ready = 1;
            printf("READY %d %.3f\n", n, now_s() - started);
            fflush(stdout);
        }
        if (!stdin_open) break;

        int k = epoll_wait(ep, events, 1024, 1000);
        if (k < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait", errno);
        }
        if (!ready && now_s() - started > 120) {
            fprintf(stderr, "idleconn: gave up after 120 s: %d of %d connections served\n", idle, n);
            return 1;
        }
        for (int i = 0; i < k; i++) {
            unsigned long long id = events[i].data.u64;
            if (id == (unsigned long long)n) {
                char tmp[64];
                ssize_t r = read(0, tmp, sizeof tmp);
                if (r <= 0) { stdin_open = 0; epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL); }
                continue;
            }
            struct conn *c = &conns[id];
            if (c->st == CONNECTING) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err) { fprintf(stderr, "idleconn: connect #%llu: %s\n", id, strerror(err)); return 1; }
                if (!(events[i].events & EPOLLOUT)) continue;
                c->st = SENDING;
                if (tls) {
                    c->ssl = SSL_new(ctx);
                    if (!c->ssl || !SSL_set_fd(c->ssl, c->fd)) { fprintf(stderr, "idleconn: SSL_new failed\n"); return 1; }
                    c->st = HANDSHAKE;
                }
            }
            unsigned wait = EPOLLIN;
            if (c->st == HANDSHAKE) {
                int r = SSL_connect(c->ssl);
                if (r != 1) {
                    int e = SSL_get_error(c->ssl, r);
                    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                        fprintf(stderr, "idleconn: TLS handshake #%llu failed (SSL error %d)\n", id, e);
                        return 1;
                    }
                    ev.events = (e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT) | EPOLLRDHUP;
                    ev.data.u64 = id;
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                    continue;
                }
                c->st = SENDING;
            }
            if (c->st == SENDING) {
                ssize_t w = io(c, request + c->sent, (size_t)(reqlen - c->sent), 1, &wait);
                if (w <= 0 && errno != EAGAIN) { fprintf(stderr, "idleconn: send #%llu: %s\n", id, strerror(errno)); return 1; }
                if (w > 0) c->sent += (int)w;
                ev.events = (c->sent == reqlen ? EPOLLIN : wait) | EPOLLRDHUP;
                ev.data.u64 = id;
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                if (c->sent == reqlen) c->st = READING;
                continue;
            }
            if (c->st == READING) {
                for (;;) {
                    /* Only the headers are kept; body bytes are counted and dropped. */
                    int room = (int)sizeof c->buf - 1 - (c->header_end ? 0 : c->got);
                    char *dstbuf = c->header_end ? c->buf : c->buf + c->got;
                    if (room <= 0) { fprintf(stderr, "idleconn: response headers too long\n"); return 1; }
                    ssize_t r = io(c, dstbuf, (size_t)room, 0, &wait);
                    if (r < 0 && errno == EAGAIN) {
                        if (wait == EPOLLOUT) {   /* TLS may need to write to read (rare) */
                            ev.events = EPOLLOUT | EPOLLRDHUP;
                            ev.data.u64 = id;
                            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                        }
                        break;
                    }
                    if (r <= 0) { fprintf(stderr, "idleconn: connection #%llu closed before its response ended\n", id); return 1; }
                    if (!c->header_end) {
                        c->got += (int)r;
                        c->buf[c->got] = 0;
                        char *end = strstr(c->buf, "\r\n\r\n");
                        if (end) {
                            if (strncmp(c->buf, "HTTP/1.1 200", 12) != 0) {
                                fprintf(stderr, "idleconn: unexpected response: %.40s\n", c->buf);
                                return 1;
                            }
                            c->header_end = (int)(end - c->buf) + 4;
                            char *cl = strcasestr(c->buf, "\r\ncontent-length:");
                            if (!cl || cl > end) { fprintf(stderr, "idleconn: response without Content-Length\n"); return 1; }
                            c->content_length = strtol(cl + 17, NULL, 10);
                            c->got -= c->header_end;   /* body bytes so far */
                        }
                    } else {
                        c->got += (int)r;
                    }
                    if (c->header_end && c->got >= c->content_length) {
                        ev.events = EPOLLIN | EPOLLRDHUP;
                        ev.data.u64 = id;
                        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                        c->st = IDLE;
                        idle++;
                        active--;
                        break;
                    }
                }
                continue;
            }
            if (c->st == IDLE) {
                /* Over TLS, late records (session tickets) are consumed here and are not a close. */
                char tmp[256];
                ssize_t r = io(c, tmp, sizeof tmp, 0, &wait);
                if (r == 0 || (r < 0 && errno != EAGAIN)) {
                    c->st = CLOSED;
                    closed++;
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    close(c->fd);
                }
            }
        }
    }

    printf("CLOSED %d\n", closed);
    fflush(stdout);
    return 0;
}
