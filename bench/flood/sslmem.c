// sslmem: where a pending TLS handshake's OpenSSL memory goes. With the transport's SSL_CTX settings (TLS 1.2+,
// SSL_MODE_RELEASE_BUFFERS, read-ahead, no session cache, an ECDSA P-256 certificate), N server SSLs over
// socketpairs: the heap in use (glibc mallinfo2: allocated, whether touched or not) after SSL_new, and after a
// first SSL_do_handshake that finds nothing to read (WANT_READ), each divided by N.
//
//   gcc -O2 -o bench/.build/sslmem bench/flood/sslmem.c -lssl -lcrypto
//   bench/.build/sslmem CERT.pem KEY.pem [N]
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
static size_t used(void){ struct mallinfo2 m = mallinfo2(); return m.uordblks + m.hblkhd; }
int main(int argc, char **argv){
  if (argc < 3) { fprintf(stderr, "usage: sslmem CERT.pem KEY.pem [N]\n"); return 2; }
  int n = argc > 3 ? atoi(argv[3]) : 1000;
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION|SSL_OP_NO_RENEGOTIATION|SSL_OP_CIPHER_SERVER_PREFERENCE|SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384");
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_use_certificate_chain_file(ctx, argv[1]) != 1 || SSL_CTX_use_PrivateKey_file(ctx, argv[2], SSL_FILETYPE_PEM) != 1) { ERR_print_errors_fp(stderr); return 1; }
  SSL **s = calloc(n, sizeof *s); int (*fds)[2] = calloc(n, sizeof *fds);
  for (int i = 0; i < n; i++) socketpair(AF_UNIX, SOCK_STREAM|SOCK_NONBLOCK, 0, fds[i]);
  // warm up once
  { SSL *w = SSL_new(ctx); SSL_set_fd(w, fds[0][0]); SSL_set_accept_state(w); SSL_do_handshake(w); SSL_free(w); }
  size_t u0 = used();
  for (int i = 0; i < n; i++) { s[i] = SSL_new(ctx); SSL_set_fd(s[i], fds[i][0]); SSL_set_accept_state(s[i]); }
  size_t u1 = used();
  int wr = 0;
  for (int i = 0; i < n; i++) { int r = SSL_do_handshake(s[i]); if (SSL_get_error(s[i], r) == SSL_ERROR_WANT_READ) wr++; }
  size_t u2 = used();
  printf("n=%d  SSL_new+BIO: %zu B each; first SSL_do_handshake (WANT_READ %d/%d): +%zu B each; total %zu B each\n",
         n, (u1-u0)/n, wr, n, (u2-u1)/n, (u2-u0)/n);
  return 0;
}
