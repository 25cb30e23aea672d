"""The content root every server serves (the repository's wwwroot plus bench/1k.txt and
bench/1m.bin), and the check that a server answers a scenario's URL with exactly the expected body."""

import gzip
import os
import random
import shutil
import subprocess

from .common import JSON_BODY, PLAINTEXT, REPO, BenchError
from .scenarios import SCENARIOS
from .servers import http_get
from .tls import base_url, https_get

GENERATED = ("/bench/1k.txt", "/bench/16k.css", "/bench/16k.css.gz", "/bench/1m.bin")


def make_content_root(tmp):
    root = os.path.join(tmp, "content")
    shutil.copytree(os.path.join(REPO, "wwwroot"), os.path.join(root, "wwwroot"))
    shutil.copy(os.path.join(REPO, "appsettings.json"), os.path.join(root, "appsettings.json"))
    bench = os.path.join(root, "wwwroot", "bench")
    os.makedirs(bench)
    line = b"The quick brown fox jumps over the lazy dog. 0123456789\n"  # 56 bytes
    text = (line * 19)[:1023] + b"\n"
    assert len(text) == 1024
    with open(os.path.join(bench, "1k.txt"), "wb") as f:
        f.write(text)
    with open(os.path.join(bench, "16k.css"), "wb") as f:
        f.write(stylesheet(16384))
    # The precompressed sibling nginx's gzip_static serves (the web host serves it too, as it would .br).
    with open(os.path.join(bench, "16k.css"), "rb") as f, open(os.path.join(bench, "16k.css.gz"), "wb") as out:
        out.write(gzip.compress(f.read(), compresslevel=9, mtime=0))
    with open(os.path.join(bench, "1m.bin"), "wb") as f:
        f.write(random.Random(20240601).randbytes(1 << 20))
    # nginx workers run as an unprivileged user: everything must be world-readable.
    for d, dirs, files in os.walk(tmp):
        os.chmod(d, 0o755)
        for name in files:
            os.chmod(os.path.join(d, name), 0o644)
    return root


def stylesheet(size):
    """Varied but compressible css, exactly size bytes."""
    rng = random.Random(16384)
    rules = []
    while sum(map(len, rules)) < size:
        rules.append(f".c{rng.randrange(10000)} {{ margin: {rng.randrange(40)}px; color: #{rng.randrange(1 << 24):06x}; }}\n".encode())
    return b"".join(rules)[:size - 1] + b"\n"


def fetch_compressed(port, path, headers):
    """GET with the scenario's Accept-Encoding; returns (status, Content-Encoding, decoded body), decoded by curl."""
    cmd = ["curl", "-sS", "--compressed", "--max-time", "10", "-o", "-", "-D", "/dev/stderr"]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run(cmd + [f"http://127.0.0.1:{port}{path}"], capture_output=True, timeout=20)
    head = out.stderr.decode(errors="replace").splitlines()
    status = int(head[0].split()[1]) if out.returncode == 0 and head else 0
    encoding = next((line.split(":", 1)[1].strip() for line in head if line.lower().startswith("content-encoding:")), None)
    return status, encoding, out.stdout


def expected_body(content_root, path):
    if path == "/":
        path = "/index.html"
    if path == "/plaintext":
        return PLAINTEXT
    if path == "/json":
        return JSON_BODY
    with open(os.path.join(content_root, "wwwroot", path.lstrip("/")), "rb") as f:
        return f.read()


def preflight(server, scenario, content_root):
    """Checks that the server answers the scenario's URL correctly before anything is measured."""
    sc = SCENARIOS[scenario]
    if sc.get("h2"):
        want = expected_body(content_root, sc["path"])
        url = base_url(server, sc) + sc["path"]
        # Over TLS, HTTP/2 comes by ALPN (-k: the run's self-signed certificate); without, by prior knowledge.
        mode = ["-k", "--http2"] if sc.get("tls") else ["--http2-prior-knowledge"]
        out = subprocess.run(["curl", "-sS", *mode, "--max-time", "10",
                              "-o", "-", "-w", "\n%{http_version} %{http_code}", url],
                             capture_output=True, timeout=20)
        body, _, tail = out.stdout.rpartition(b"\n")
        if out.returncode != 0 or tail.decode() != "2 200" or body != want:
            raise BenchError(f"{server.label}: HTTP/2 GET {url} failed: "
                             f"curl status {out.returncode}, '{tail.decode()}' {out.stderr.decode().strip()}")
        return
    headers = {h.split(":")[0]: h.split(":", 1)[1].strip() for h in sc.get("headers", [])}
    for path in sc.get("paths", [sc["path"]]):
        want = expected_body(content_root, path)
        if "Accept-Encoding" in headers:
            # A compressed representation is what is measured: check that it comes, and decodes to the file.
            status, encoding, body = fetch_compressed(server.h1_port, path, sc["headers"])
            if status != 200 or encoding not in ("br", "gzip") or body != want:
                raise BenchError(f"{server.label}: GET {path} ({headers['Accept-Encoding']}) answered {status}, "
                                 f"Content-Encoding {encoding}, {len(body)} bytes decoded; expected 200, br or gzip, {len(want)} bytes")
            continue
        if sc.get("tls"):
            status, body, _, _ = https_get(server.tls_port, path, timeout=10, headers=headers)
        else:
            status, body, _ = http_get(server.h1_port, path, timeout=10, headers=headers)
        if status != 200 or body != want:
            raise BenchError(f"{server.label}: GET {base_url(server, sc)}{path} answered {status} with {len(body)} bytes; "
                             f"expected 200 with {len(want)} bytes")
