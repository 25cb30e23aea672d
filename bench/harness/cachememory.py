"""Memory of the web host's file cache: RSS while serving many distinct files, against the cache budget.

    python3 -m harness.cachememory [--files 10000] [--size 4096] [--budgets 16,256]   (from bench/, after a Release build)

Makes a content root of FILES distinct text files of SIZE bytes, then for each budget (MiB) starts the web
host (Release, Epoll, on core 0) with StaticFiles:Cache:SizeLimit set to it, reads every file three times
over one keep-alive connection, and reports RSS before and after each pass. A budget smaller than the
files' total shows the bound (RSS stays near baseline + budget); a larger one shows the cost of holding them.
"""

import argparse
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import time

from .common import REPO, WEBHOST_DLL
from .procfs import proc_status_kb


def make_site(root, files, size):
    for i in range(files):
        directory = os.path.join(root, "wwwroot", "many", str(i // 500))
        os.makedirs(directory, exist_ok=True)
        line = f"file {i} of the cache memory test. ".encode()
        with open(os.path.join(directory, f"f{i}.txt"), "wb") as f:
            f.write((line * (size // len(line) + 1))[:size])


def serve_all(port, files, size):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for i in range(files):
        conn.request("GET", f"/many/{i // 500}/f{i}.txt")
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200 or len(body) != size:
            raise SystemExit(f"GET f{i}.txt: {resp.status}, {len(body)} bytes")
    conn.close()


def measure(root, budget_mib, files, size, port):
    cmd = ["taskset", "-c", "0", "dotnet", WEBHOST_DLL, "--contentRoot", root, "--urls", f"http://127.0.0.1:{port}",
           "--StaticFiles:Cache:SizeLimit", str(budget_mib << 20), "--Logging:LogLevel:Default=Warning"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/plaintext")
                break
            except OSError:
                time.sleep(0.2)
        serve_all(port, 50, size)  # warm the code paths on a few files
        rows = [("started", proc_status_kb(proc.pid, "VmRSS"))]
        for n in range(3):
            serve_all(port, files, size)
            rows.append((f"after pass {n + 1}", proc_status_kb(proc.pid, "VmRSS")))
        return rows
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=10000)
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--budgets", default="16,256", help="cache budgets in MiB, comma-separated")
    p.add_argument("--port", type=int, default=18190)
    args = p.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="cache-memory-")
    try:
        make_site(tmp, args.files, args.size)
        total = args.files * args.size / (1 << 20)
        print(f"{args.files} files of {args.size} bytes ({total:.1f} MiB), each read 3 times; RSS of the web host (Epoll)")
        print("| Budget | RSS started | after pass 1 | after pass 2 | after pass 3 | growth after pass 3 |")
        print("|---:|---:|---:|---:|---:|---:|")
        for budget in (int(b) for b in args.budgets.split(",")):
            rows = measure(tmp, budget, args.files, args.size, args.port)
            kb = [r[1] for r in rows]
            print(f"| {budget} MiB | " + " | ".join(f"{v / 1024:.1f} MiB" for v in kb) + f" | {(kb[-1] - kb[0]) / 1024:.1f} MiB |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
