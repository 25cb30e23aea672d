/*
 * tlschurn: TLS connection churn against one loopback HTTPS server. Each of C concurrent clients
 * repeatedly opens a TCP connection, does a FULL TLS handshake, sends one
 * "GET PATH HTTP/1.1 ... Connection: close", reads the whole response and closes, for D seconds.
 *
 *   tlschurn -p PORT -c CONNS -d SECONDS [-t THREADS] [-u /plaintext] [-a 127.0.0.1] [-T TIMEOUT_S]
 *
 * Why not wrk with "Connection: close": wrk keeps its SSL object across reconnects (SSL_clear), so
 * every reconnect offers the previous session and the server resumes it: an abbreviated handshake,
 * not the full one this measures. Here every connection gets a fresh SSL object from a context with
 * the client session cache off, so no session ID or ticket is ever offered (ALPN offers http/1.1).
 *
 * Latency of one request = from connect() to the last byte of the response (handshake included).
 * Output: a human summary, then one line in the format of bench/wrk/bench.lua's, which the
 * harness's wrk parser reads:
 *   BENCHJSON {"requests":...,"duration_us":...,"bytes":...,"errors":{...},"latency_us":{...}}
 * errors: connect (TCP), read (TLS or TCP failure or close before the response ended), write,
 * status (a response with status >= 400, still counted as a request, as wrk does), timeout (no response
 * within TIMEOUT_S, default 5). Only loopback destinations.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum state { CONNECTING, HANDSHAKE, SENDING, READING };
enum err { E_CONNECT, E_READ, E_WRITE, E_STATUS, E_TIMEOUT, E_COUNT };

struct conn {
    int fd;
    int connect_errno;  /* connect() failed at once */
    enum state st;
    SSL *ssl;
    double started;
    int sent, got, header_end, status;
    long content_length;
    char buf[1024];
};

struct worker {
    pthread_t thread;
    int conns;
    long requests;
    long long bytes;
    long errors[E_COUNT];
    unsigned *lat;          /* µs per completed request */
    size_t nlat, caplat;
};

static struct sockaddr_in g_to;
static SSL_CTX *g_ctx;
static char g_request[512];
static int g_reqlen;
static double g_end, g_timeout = 5.0;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "tlschurn: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void arm(int ep, struct conn *c, unsigned events, int op)
{
    struct epoll_event ev = { .events = events, .data.ptr = c };
    if (epoll_ctl(ep, op, c->fd, &ev) < 0) die("epoll_ctl");
}

static void start(int ep, struct conn *c)
{
    memset(c, 0, offsetof(struct conn, buf));
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->started = now_s();
    c->st = CONNECTING;
    if (connect(c->fd, (struct sockaddr *)&g_to, sizeof g_to) < 0 && errno != EINPROGRESS) {
        c->connect_errno = errno;   /* reported on the first event */
    }
    arm(ep, c, EPOLLOUT, EPOLL_CTL_ADD);
}

static void finish(int ep, struct worker *w, struct conn *c, int err)
{
    if (err >= 0) {
        w->errors[err]++;
    } else {
        w->requests++;
        if (c->status >= 400) w->errors[E_STATUS]++;
        if (w->nlat == w->caplat) {
            w->caplat = w->caplat ? w->caplat * 2 : 65536;
            w->lat = realloc(w->lat, w->caplat * sizeof *w->lat);
            if (!w->lat) die("realloc");
        }
        w->lat[w->nlat++] = (unsigned)((now_s() - c->started) * 1e6);
    }
    if (c->ssl) SSL_free(c->ssl);   /* no SSL_shutdown: the server closes after its response */
    c->ssl = NULL;
    close(c->fd);                   /* also removes it from the epoll set */
    if (now_s() < g_end) start(ep, c);
    else c->fd = -1;
}

/* SSL_ERROR_WANT_* -> which readiness to wait for; 0 when the call failed for good. */
static unsigned want(struct conn *c, int rc)
{
    switch (SSL_get_error(c->ssl, rc)) {
    case SSL_ERROR_WANT_READ: return EPOLLIN;
    case SSL_ERROR_WANT_WRITE: return EPOLLOUT;
    default: ERR_clear_error(); return 0;
    }
}

/* Reads what is there; returns -1 while the response is incomplete, else an error index or -2 for done. */
static int read_response(struct worker *w, struct conn *c, unsigned *wait)
{
    for (;;) {
        int room = (int)sizeof c->buf - 1 - (c->header_end ? 0 : c->got);
        char *dst = c->header_end ? c->buf : c->buf + c->got;
        if (room <= 0) return E_READ;
        int r = SSL_read(c->ssl, dst, room);
        if (r <= 0) {
            *wait = want(c, r);
            return *wait ? -1 : E_READ;
        }
        w->bytes += r;
        if (!c->header_end) {
            c->got += r;
            c->buf[c->got] = 0;
            char *end = strstr(c->buf, "\r\n\r\n");
            if (!end) continue;
            if (strncmp(c->buf, "HTTP/1.", 7) != 0 || c->got < 12) return E_READ;
            c->status = atoi(c->buf + 9);
            c->header_end = (int)(end - c->buf) + 4;
            char *cl = strcasestr(c->buf, "\r\ncontent-length:");
            if (!cl || cl > end) return E_READ;
            c->content_length = strtol(cl + 17, NULL, 10);
            c->got -= c->header_end;
        } else {
            c->got += r;
        }
        if (c->got >= c->content_length) return -2;
    }
}

static void step(int ep, struct worker *w, struct conn *c)
{
    unsigned wait = 0;
    int rc;
    if (c->st == CONNECTING) {
        int err = c->connect_errno;
        socklen_t len = sizeof err;
        if (!err) getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) { finish(ep, w, c, E_CONNECT); return; }
        c->ssl = SSL_new(g_ctx);
        if (!c->ssl || !SSL_set_fd(c->ssl, c->fd)) { fprintf(stderr, "tlschurn: SSL_new failed\n"); exit(1); }
        c->st = HANDSHAKE;
    }
    if (c->st == HANDSHAKE) {
        rc = SSL_connect(c->ssl);
        if (rc != 1) {
            if (!(wait = want(c, rc))) { finish(ep, w, c, E_READ); return; }
            arm(ep, c, wait, EPOLL_CTL_MOD);
            return;
        }
        c->st = SENDING;
    }
    if (c->st == SENDING) {
        rc = SSL_write(c->ssl, g_request, g_reqlen);   /* one small record: all or nothing */
        if (rc <= 0) {
            if (!(wait = want(c, rc))) { finish(ep, w, c, E_WRITE); return; }
            arm(ep, c, wait, EPOLL_CTL_MOD);
            return;
        }
        c->st = READING;
    }
    rc = read_response(w, c, &wait);
    if (rc == -2) finish(ep, w, c, -1);
    else if (rc >= 0) finish(ep, w, c, rc);
    else arm(ep, c, wait, EPOLL_CTL_MOD);
}

static void *run(void *arg)
{
    struct worker *w = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    struct conn *conns = calloc((size_t)w->conns, sizeof *conns);
    if (!conns) die("calloc");
    for (int i = 0; i < w->conns; i++) start(ep, &conns[i]);
    struct epoll_event events[256];
    double next_sweep = now_s() + 0.5;
    for (;;) {
        double t = now_s();
        if (t >= g_end) break;
        int k = epoll_wait(ep, events, 256, 100);
        if (k < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < k; i++) step(ep, w, events[i].data.ptr);
        if ((t = now_s()) >= next_sweep) {   /* requests with no answer in time */
            next_sweep = t + 0.5;
            for (int i = 0; i < w->conns; i++)
                if (conns[i].fd >= 0 && t - conns[i].started > g_timeout) finish(ep, w, &conns[i], E_TIMEOUT);
        }
    }
    for (int i = 0; i < w->conns; i++)   /* requests in flight at the end are not counted */
        if (conns[i].fd >= 0) { if (conns[i].ssl) SSL_free(conns[i].ssl); close(conns[i].fd); }
    free(conns);
    close(ep);
    return NULL;
}

static int cmp_u(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return (x > y) - (x < y);
}

static unsigned pct(const unsigned *v, size_t n, double p)
{
    if (!n) return 0;
    size_t k = (size_t)ceil(p / 100.0 * (double)n);
    return v[k ? k - 1 : 0];
}

int main(int argc, char **argv)
{
    int port = 0, conns = 0, threads = 1;
    double duration = 0;
    const char *dst = "127.0.0.1", *path = "/plaintext";
    int opt;
    while ((opt = getopt(argc, argv, "p:c:d:t:u:a:T:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'c': conns = atoi(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'u': path = optarg; break;
        case 'a': dst = optarg; break;
        case 'T': g_timeout = atof(optarg); break;
        default:
            fprintf(stderr, "usage: %s -p PORT -c CONNS -d SECONDS [-t THREADS] [-u PATH] [-a 127.0.0.1] [-T TIMEOUT_S]\n", argv[0]);
            return 2;
        }
    }
    if (port <= 0 || port > 65535 || conns <= 0 || duration <= 0 || threads <= 0 || threads > conns || g_timeout <= 0) {
        fprintf(stderr, "tlschurn: bad arguments\n");
        return 2;
    }
    g_to.sin_family = AF_INET;
    g_to.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, dst, &g_to.sin_addr) != 1 || (ntohl(g_to.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "tlschurn: destination must be a 127.0.0.0/8 address\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    g_reqlen = snprintf(g_request, sizeof g_request,
                        "GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n", path, dst, port);

    g_ctx = SSL_CTX_new(TLS_client_method());
    if (!g_ctx) { fprintf(stderr, "tlschurn: SSL_CTX_new failed\n"); return 1; }
    SSL_CTX_set_verify(g_ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(g_ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(g_ctx, SSL_OP_NO_TICKET);
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(g_ctx, alpn, sizeof alpn - 1);

    struct worker *ws = calloc((size_t)threads, sizeof *ws);
    if (!ws) die("calloc");
    double t0 = now_s();
    g_end = t0 + duration;
    for (int i = 0; i < threads; i++) {
        ws[i].conns = conns / threads + (i < conns % threads);
        if (pthread_create(&ws[i].thread, NULL, run, &ws[i]) != 0) { fprintf(stderr, "tlschurn: pthread_create failed\n"); return 1; }
    }
    long requests = 0, errors[E_COUNT] = {0};
    long long bytes = 0;
    size_t n = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(ws[i].thread, NULL);
        requests += ws[i].requests;
        bytes += ws[i].bytes;
        n += ws[i].nlat;
        for (int e = 0; e < E_COUNT; e++) errors[e] += ws[i].errors[e];
    }
    double elapsed = now_s() - t0;
    unsigned *lat = malloc((n ? n : 1) * sizeof *lat);
    if (!lat) die("malloc");
    size_t at = 0;
    double sum = 0, sq = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(lat + at, ws[i].lat, ws[i].nlat * sizeof *lat);
        at += ws[i].nlat;
    }
    qsort(lat, n, sizeof *lat, cmp_u);
    for (size_t i = 0; i < n; i++) { sum += lat[i]; sq += (double)lat[i] * lat[i]; }
    double mean = n ? sum / (double)n : 0, sd = n ? sqrt(fmax(0, sq / (double)n - mean * mean)) : 0;

    printf("%ld requests (each a new connection with a full TLS handshake) in %.2fs, %.1f requests/s, %lld bytes\n",
           requests, elapsed, requests / elapsed, bytes);
    printf("errors: connect %ld, read %ld, write %ld, status %ld, timeout %ld\n",
           errors[E_CONNECT], errors[E_READ], errors[E_WRITE], errors[E_STATUS], errors[E_TIMEOUT]);
    char p[512];
    int len = 0;
    const double qs[] = {50, 75, 90, 99, 99.9};
    const char *names[] = {"50", "75", "90", "99", "99_9"};
    for (int i = 0; i < 5; i++) {
        unsigned v = pct(lat, n, qs[i]);
        len += snprintf(p + len, sizeof p - (size_t)len, "%s\"p%s\":%u,\"wrk_p%s\":%u", i ? "," : "", names[i], v, names[i], v);
    }
    printf("BENCHJSON {\"requests\":%ld,\"duration_us\":%lld,\"bytes\":%lld,"
           "\"errors\":{\"connect\":%ld,\"read\":%ld,\"write\":%ld,\"status\":%ld,\"timeout\":%ld},"
           "\"latency_us\":{\"in_range_share\":1.000000,\"min\":%u,\"mean\":%.1f,\"stdev\":%.1f,\"max\":%u,%s}}\n",
           requests, (long long)(elapsed * 1e6), bytes,
           errors[E_CONNECT], errors[E_READ], errors[E_WRITE], errors[E_STATUS], errors[E_TIMEOUT],
           n ? lat[0] : 0, mean, sd, n ? lat[n - 1] : 0, p);
    return 0;
}
