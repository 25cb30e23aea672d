"""The servers under test: the web host on the Epoll or the Sockets transport, and nginx (configured
from the template nginx.conf next to this file). Each listens on an HTTP/1.1 port, an h2c port and an
HTTPS port (HTTP/1.1 and HTTP/2 by ALPN, the run's certificate from tls.py)."""

import http.client
import os
import resource
import shlex
import socket
import subprocess
import time

from .common import PLAINTEXT, REPO, WEBHOST_DLL, BenchError, cmdline, parse_cpus
from .procfs import children_of

SERVERS = {
    "epoll": dict(label="Epoll", kind="dotnet", transport="Epoll"),
    "sockets": dict(label="Sockets", kind="dotnet", transport="Sockets"),
    "nginx": dict(label="nginx", kind="nginx"),
}

NGINX_TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nginx.conf")


def port_is_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers are fine
        s.bind(("127.0.0.1", port))
        s.listen(1)
        return True
    except OSError:
        return False
    finally:
        s.close()


def port_owner(port):
    try:
        out = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, timeout=5).stdout
        return out.strip() or "unknown process"
    except (OSError, subprocess.SubprocessError):
        return "unknown process"


def check_ports(ports):
    busy = [p for p in ports if not port_is_free(p)]
    if busy:
        lines = [f"port {p} on 127.0.0.1 is busy: {port_owner(p)}" for p in busy]
        raise BenchError("\n".join(lines) + "\nFree the port(s) or choose other ones with --base-port.")


def http_get(port, path, timeout=5.0, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, body, dict(resp.getheaders())
    finally:
        conn.close()


def nginx_config(content_root, prefix, ports, workers, max_conns, cert):
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    # nginx starts closing idle keep-alive connections when fewer than 1/16 of worker_connections are
    # free, so leave that much headroom. It may exceed the open-file limit (nginx only warns): the
    # limit is the real bound, and the idle test keeps below it.
    conns = max(4096, (max_conns + 16) * 17 // 15 + 64)
    with open(NGINX_TEMPLATE) as f:
        template = f.read()
    h1_port, h2_port, tls_port = ports
    return template % dict(workers=workers, prefix=prefix, nofile=nofile, conns=conns,
                           h1_port=h1_port, h2_port=h2_port, tls_port=tls_port, cert=cert[0], key=cert[1],
                           root=os.path.join(content_root, "wwwroot"))


class Server:
    def __init__(self, key, ports, args, tmp, children):
        """ports: (HTTP/1.1, h2c, HTTPS); args.cert: (certificate PEM, key PEM) for the HTTPS port."""
        self.key = key
        self.label = SERVERS[key]["label"]
        self.kind = SERVERS[key]["kind"]
        self.h1_port, self.h2_port, self.tls_port = ports
        self.args = args
        self.tmp = tmp
        self.children = children
        self.proc = None
        self.logf = None
        self.log_path = None
        self.command = None
        self.config = None
        self.ncpus = 1
        self.failed = None   # why the server is unusable, if it is

    def ready(self):
        """Waits until the launched server answers; stops it and raises BenchError if it does not."""
        try:
            self.wait_ready()
        except BenchError as e:
            self.failed = str(e)
            self.stop()
            raise

    def launch(self, cpus, tag, max_conns):
        self.failed = None
        self.log_path = os.path.join(self.tmp, "logs", f"{self.key}-{tag}.log")
        check_ports([self.h1_port, self.h2_port, self.tls_port])
        if self.kind == "dotnet":
            cmd = ["taskset", "-c", cpus, "dotnet", os.path.relpath(WEBHOST_DLL, REPO),
                   "--contentRoot", self.args.content_root,
                   "--Transport", SERVERS[self.key]["transport"],
                   "--EnableTestEndpoints", "true",  # /test/block for the blocking scenario
                   "--Kestrel:Endpoints:h1:Url", f"http://127.0.0.1:{self.h1_port}",
                   "--Kestrel:Endpoints:h1:Protocols", "Http1",
                   "--Kestrel:Endpoints:h2:Url", f"http://127.0.0.1:{self.h2_port}",
                   "--Kestrel:Endpoints:h2:Protocols", "Http2",
                   # The web host's standard HTTPS endpoint, as an operator configures it.
                   "--Kestrel:Endpoints:tls:Url", f"https://127.0.0.1:{self.tls_port}",
                   "--Kestrel:Endpoints:tls:Protocols", "Http1AndHttp2",
                   "--Kestrel:Endpoints:tls:Certificate:Path", self.args.cert[0],
                   "--Kestrel:Endpoints:tls:Certificate:KeyPath", self.args.cert[1],
                   "--Logging:LogLevel:Default=Warning",
                   "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Warning",
                   "--Logging:LogLevel:EpollTransport=Warning"]
            cmd += shlex.split(self.args.epoll_args if self.key == "epoll" else self.args.sockets_args)
        else:
            prefix = os.path.join(self.tmp, f"nginx-{tag}")
            os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
            os.chmod(prefix, 0o755)
            conf = os.path.join(prefix, "nginx.conf")
            self.config = nginx_config(self.args.content_root, prefix, (self.h1_port, self.h2_port, self.tls_port),
                                       len(parse_cpus(cpus)), max_conns, self.args.cert)
            with open(conf, "w") as f:
                f.write(self.config)
            cmd = ["taskset", "-c", cpus, "nginx", "-p", prefix + "/", "-c", conf,
                   "-e", os.path.join(prefix, "logs", "error.log"), "-g", "daemon off;"]
        self.command = cmdline(cmd)
        self.logf = open(self.log_path, "w")
        self.proc = self.children.spawn(cmd, stdout=self.logf, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, cwd=REPO)

    def wait_ready(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.label} exited with status {self.proc.returncode} during startup.\n{self.log_tail()}")
            try:
                status, body, _ = http_get(self.h1_port, "/plaintext", timeout=2)
                if status == 200 and body == PLAINTEXT:
                    if self.kind == "nginx" and len(self.pids()) < 2:
                        time.sleep(0.1)
                        continue
                    return
                last = f"HTTP {status}"
            except OSError as e:
                last = str(e)
            time.sleep(0.1)
        raise BenchError(f"{self.label} did not answer GET /plaintext on port {self.h1_port} within {timeout:.0f} s ({last}).\n{self.log_tail()}")

    def pids(self):
        if self.proc is None or self.proc.poll() is not None:
            return []
        if self.kind == "nginx":
            return [self.proc.pid] + children_of(self.proc.pid)
        return [self.proc.pid]

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        self.children.stop(self.proc)
        self.proc = None
        if self.logf:
            self.logf.close()
            self.logf = None

    def log_tail(self, head=6, tail=10):
        """The start of the server's log (where an exception's message is) and its end."""
        try:
            with open(self.log_path, errors="replace") as f:
                lines = f.readlines()
            if len(lines) > head + tail:
                lines = lines[:head] + ["...\n"] + lines[-tail:]
            return "--- " + self.log_path + " ---\n" + "".join(lines)
        except OSError:
            return ""
