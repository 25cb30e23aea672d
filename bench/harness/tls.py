"""HTTPS for the benchmark: the run's certificate (a PEM ECDSA P-256 key and self-signed certificate,
generated with openssl into the run's temporary directory and never kept), the URLs of a scenario
over TLS or not, and a GET over TLS that does not verify the certificate (it is the one we made)."""

import http.client
import os
import ssl
import subprocess

from .common import BenchError

SUBJECT = "/CN=localhost"
SAN = "subjectAltName=DNS:localhost,IP:127.0.0.1"


def make_certificate(tmp):
    """Writes tmp/tls/cert.pem and tmp/tls/key.pem; returns their paths. Readable by nginx's workers
    only through the master, which reads them as root; the web host reads them itself."""
    d = os.path.join(tmp, "tls")
    os.makedirs(d, exist_ok=True)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    cmd = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", key, "-out", cert, "-days", "2", "-subj", SUBJECT, "-addext", SAN]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise BenchError(f"openssl could not make the benchmark's certificate: {out.stderr.strip()[-500:]}")
    os.chmod(key, 0o600)
    return cert, key


def base_url(server, sc):
    """The scheme, address and port a scenario's load goes to on a server."""
    if sc.get("tls"):
        return f"https://127.0.0.1:{server.tls_port}"
    return f"http://127.0.0.1:{server.h2_port if sc.get('h2') else server.h1_port}"


def https_get(port, path, timeout=10.0, headers=None):
    """GET over TLS (HTTP/1.1), the certificate unverified. Returns (status, body, headers, TLS version)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=context)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, body, dict(resp.getheaders()), conn.sock.version()
    finally:
        conn.close()
