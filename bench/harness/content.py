"""The content root every server serves (the repository's wwwroot plus bench/1k.txt and
bench/1m.bin), and the check that a server answers a scenario's URL with exactly the expected body."""

import os
import random
import shutil
import subprocess

from .common import JSON_BODY, PLAINTEXT, REPO, BenchError
from .scenarios import SCENARIOS
from .servers import http_get

GENERATED = ("/bench/1k.txt", "/bench/1m.bin")


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
    with open(os.path.join(bench, "1m.bin"), "wb") as f:
        f.write(random.Random(20240601).randbytes(1 << 20))
    # nginx workers run as an unprivileged user: everything must be world-readable.
    for d, dirs, files in os.walk(tmp):
        os.chmod(d, 0o755)
        for name in files:
            os.chmod(os.path.join(d, name), 0o644)
    return root


def expected_body(content_root, path):
    if path == "/plaintext":
        return PLAINTEXT
    if path == "/json":
        return JSON_BODY
    with open(os.path.join(content_root, "wwwroot", path.lstrip("/")), "rb") as f:
        return f.read()


def preflight(server, scenario, content_root):
    """Checks that the server answers the scenario's URL correctly before anything is measured."""
    sc = SCENARIOS[scenario]
    want = expected_body(content_root, sc["path"])
    if sc.get("h2"):
        out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "--max-time", "10",
                              "-o", "-", "-w", "\n%{http_version} %{http_code}",
                              f"http://127.0.0.1:{server.h2_port}{sc['path']}"],
                             capture_output=True, timeout=20)
        body, _, tail = out.stdout.rpartition(b"\n")
        if out.returncode != 0 or tail.decode() != "2 200" or body != want:
            raise BenchError(f"{server.label}: h2c GET {sc['path']} on port {server.h2_port} failed: "
                             f"curl status {out.returncode}, '{tail.decode()}' {out.stderr.decode().strip()}")
        return
    headers = {h.split(":")[0]: h.split(":", 1)[1].strip() for h in sc.get("headers", [])}
    status, body, _ = http_get(server.h1_port, sc["path"], timeout=10, headers=headers)
    if status != 200 or body != want:
        raise BenchError(f"{server.label}: GET {sc['path']} answered {status} with {len(body)} bytes; "
                         f"expected 200 with {len(want)} bytes")
