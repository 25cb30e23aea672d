#!/usr/bin/env python3
"""Where the server's CPU goes, per request: a breakdown of perf samples by component.

    python3 bench/profile.py DIR [DIR ...]      # DIRs written by bench/profile.sh

Every sample's call stack is read (perf script) and charged to one component:
  * kernel, by system call: the samples under do_syscall_64, named by the syscall's entry point
    (sendmsg, read, recvfrom, epoll_wait, futex, ...). On loopback, sending also runs the receiving
    side's TCP stack (softirq), so "sendmsg" includes delivering the bytes to the client. Samples in
    the syscall entry and exit path itself are split by the libc wrapper that made the call: socket
    and epoll calls, file system calls (open, stat, readlink, pread, flock, ...), other.
  * kernel, other: interrupts, page faults, scheduler work outside a syscall.
  * the user-side half of a system call: samples in libc's syscall wrappers (read, sendmsg, recv, ...).
  * CLR runtime (libcoreclr: GC, allocation, type-check and dispatch stubs) and JIT compiler.
  * OpenSSL (TLS scenarios): samples in libssl/libcrypto, and in libc helpers called from them.
  * managed code, by owner: walking from the leaf towards the root, the first frame that belongs to a
    known component (the Epoll transport, Kestrel's Sockets transport with System.Net.Sockets, Kestrel's
    HTTP code, System.IO.Pipelines, the thread pool, ASP.NET Core hosting and middleware, the app)
    decides; helpers shared by everyone (CoreLib's casts, memcpy, libc wrappers, marshalling stubs) are
    charged to whoever called them.
Time per request = the server's CPU time while perf ran (/proc/PID/stat) x the component's share of the
samples / requests completed meanwhile (wrk's rate x the window). perf in a VM loses samples, so the
samples give only the shares.
Prints a markdown table with one column per DIR.
"""
import collections
import os
import re
import subprocess
import sys

KNOWN = [  # (regex on the "[Assembly] Namespace.Type::" of a managed frame, component)
    (r"^\[(Transport\.Epoll|EpollTransport)\]", "Epoll transport"),
    (r"^\[Microsoft\.AspNetCore\.Server\.Kestrel\.Transport\.Sockets\]", "Sockets transport"),
    (r"^\[System\.Net\.Sockets\]", "System.Net.Sockets"),
    (r"^\[Microsoft\.AspNetCore\.Server\.Kestrel\.Core\] Microsoft\.AspNetCore\.(PinnedBlockMemoryPool|MemoryPoolBlock)", "Kestrel memory pool"),
    (r"^\[Microsoft\.AspNetCore\.Server\.Kestrel\.Core\]", "Kestrel HTTP"),
    (r"^\[System\.IO\.Pipelines\]", "System.IO.Pipelines"),
    (r"^\[System\.Private\.CoreLib\] System\.Threading\.(ThreadPool|PortableThreadPool|ThreadPoolWorkQueue|LowLevel|ExecutionContext|Tasks|WaitSubsystem|Thread)", "thread pool, tasks"),
    (r"^\[(Microsoft\.AspNetCore|Microsoft\.Extensions)\.StaticFiles|^\[Microsoft\.Extensions\.FileProviders", "static files, file provider"),
    (r"^\[(EpollTransport\.)?WebHost\]", "web host (app, file policy)"),
    (r"^\[(Microsoft\.AspNetCore|Microsoft\.Extensions|System\.Text\.Json)", "ASP.NET Core hosting, routing, middleware"),
]
# The components a transport's design decides: system calls and their entry and exit, scheduling and
# wake-ups, the transport's own code (and what Sockets runs beneath it). Generous on purpose: file system
# calls' entry and exit are in here too. Everything else (HTTP parsing, the app, middleware, GC, JIT,
# file I/O) is the same work whichever transport carries the bytes.
IO_PATH = re.compile(r"^(kernel: (read|recvfrom|recvmsg|sendmsg|sendto|write|writev|epoll_wait|epoll_ctl|"
                     r"entry and exit, (sockets, epoll|other) calls|interrupts, faults, scheduler|sched_yield|futex|"
                     r"accept4|shutdown|close|"
                     r"setsockopt|getsockname)|syscall wrappers.*|Epoll transport|Sockets transport|System\.Net\.Sockets|"
                     r"System\.Native.*|thread pool, tasks|System\.IO\.Pipelines|Kestrel memory pool)$")
SOCKET_WRAPPERS = re.compile(r"^(__libc_|__GI___libc_|__GI___)?(read|recv|recvfrom|recvmsg|send|sendto|sendmsg|write|"
                             r"writev|readv|epoll_wait|epoll_ctl|accept4?|shutdown|setsockopt|getsockname|__send|"
                             r"write_nocancel|__write_nocancel)$")
FILE_WRAPPERS = re.compile(r"^(__libc_|__GI___libc_|__GI___|__)?(open|open64|openat|openat64|[lfx]?x?stat(64)?|"
                           r"[lfx]xstat64|fstatat64|readlink|pread|pread64|posix_fadvise|flock|close|geteuid|statx)$")
FRAME_OWNER = re.compile(r"\[([^\]]+)\] ([^\s(]+?)::")


def syscall_name(frames):
    """The system call a kernel stack is in, from its entry point below do_syscall_64."""
    for i, (sym, _) in enumerate(frames):
        if sym == "do_syscall_64":
            for name, _ in reversed(frames[:i]):
                m = re.match(r"^(?:__x64_sys_|__do_sys_|__se_sys_|ksys_|__sys_|____?sys_|do_)(\w+)$", name)
                if m:
                    return m.group(1)
            return "entry and exit"  # the sample is in do_syscall_64's own entry or exit path
    return None


def classify(frames):
    sym, dso = frames[0]
    if dso == "[kernel.kallsyms]":
        call = syscall_name(frames)
        if call == "entry and exit":
            # Which call it was is on the user side of the stack: libc's wrapper.
            user = next((f for f, d in frames if d != "[kernel.kallsyms]"), "")
            kind = "file system" if FILE_WRAPPERS.match(user) else "sockets, epoll" if SOCKET_WRAPPERS.match(user) else "other"
            return f"kernel: entry and exit, {kind} calls"
        return f"kernel: {call}" if call else "kernel: interrupts, faults, scheduler"
    if "libcoreclr" in dso:
        return "CLR runtime (GC, allocation, stubs)"
    if "libclrjit" in dso:
        return "JIT compiler"
    if "libc.so" in dso and re.match(r"^(__libc_)?(read|recv|recvfrom|recvmsg|send|sendto|sendmsg|write|writev|readv|epoll_wait|epoll_ctl|accept4?|close|__send)$", sym):
        return "syscall wrappers (libc, user side of entry and exit)"
    # OpenSSL's own code and the libc helpers it calls (memcpy, malloc, strcmp): the TLS records.
    if next((True for _, d in frames[:4] if "libssl.so" in d or "libcrypto.so" in d), False) and \
            ("libssl.so" in dso or "libcrypto.so" in dso or "libc.so" in dso):
        return "OpenSSL (libssl, libcrypto, and libc under them)"
    for sym, dso in frames:
        if not dso.startswith("/tmp/perf-") and not dso.endswith(".map"):
            continue
        m = FRAME_OWNER.search(sym)
        if not m:
            continue
        owner = f"[{m.group(1)}] {m.group(2)}"
        for pattern, component in KNOWN:
            if re.search(pattern, owner):
                return component
    if "libSystem.Native" in frames[0][1]:
        return "System.Native (sockets shim)"
    return "other user code (libc, CoreLib helpers, unresolved)"


def samples(perf_data):
    out = subprocess.run(["perf", "script", "-i", perf_data, "-F", "comm,tid,ip,sym,dso"],
                         capture_output=True, text=True, check=True).stdout
    for block in out.split("\n\n"):
        lines = [l for l in block.splitlines() if l.strip()]
        if len(lines) < 2:
            continue
        frames = []
        for line in lines[1:]:
            m = re.match(r"^\s*[0-9a-f]+ (.*) \((.*)\)$", line)
            if m:
                frames.append((m.group(1), m.group(2)))
        if frames:
            yield lines[0].split()[0], frames


def analyse(directory):
    with open(os.path.join(directory, "wrk.txt")) as f:
        text = f.read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    with open(os.path.join(directory, "profile.env")) as f:
        env = dict(line.strip().split("=", 1) for line in f if "=" in line)
    counts = collections.Counter()
    total = 0
    for _, frames in samples(os.path.join(directory, "perf.data")):
        counts[classify(frames)] += 1
        total += 1
    window = float(env.get("WINDOW_SECONDS", env["SECONDS"]))
    requests = rps * window
    if "CPU_SECONDS" in env:
        # perf in a VM drops samples: take the total from /proc and the shares from the samples.
        cpu_us = float(env["CPU_SECONDS"]) * 1e6
    else:
        cpu_us = total * 1e6 / float(env["FREQUENCY"])
    return dict(label=env["LABEL"], rps=rps, total=total, counts=counts, busy=cpu_us / 1e6 / window,
                us_per_request=lambda n: cpu_us * n / total / requests)


def main(dirs):
    results = [analyse(d) for d in dirs]
    components = sorted({c for r in results for c in r["counts"]},
                        key=lambda c: -max(r["counts"][c] / r["total"] for r in results))
    print("| Component | " + " | ".join(r["label"] for r in results) + " |")
    print("|---|" + "---:|" * len(results))
    for r in results:  # before the small items are folded together
        r["io"] = sum(v for c, v in r["counts"].items() if IO_PATH.match(c))
        r["rest"] = r["total"] - r["io"]
    small = [c for c in components if max(r["counts"][c] / r["total"] for r in results) < 0.005]
    for r in results:
        r["counts"]["smaller items (each under 0.5 %)"] = sum(r["counts"][c] for c in small)
    components = [c for c in components if c not in small] + ["smaller items (each under 0.5 %)"]
    for c in components:
        cells = []
        for r in results:
            n = r["counts"][c]
            cells.append(f"{r['us_per_request'](n):.2f} µs ({100 * n / r['total']:.0f} %)" if n else "–")
        if all(cell == "–" for cell in cells):
            continue
        print(f"| {c} | " + " | ".join(cells) + " |")
    for title, key in (("*I/O path: syscalls, scheduling, transport (generous)*", "io"),
                       ("*everything else: HTTP, app, middleware, GC, JIT, file I/O*", "rest")):
        cells = [f"{r['us_per_request'](r[key]):.2f} µs ({100 * r[key] / r['total']:.0f} %)" for r in results]
        print(f"| {title} | " + " | ".join(cells) + " |")
    print("| **total CPU per request** | " + " | ".join(
        f"**{r['us_per_request'](r['total']):.2f} µs**" for r in results) + " |")
    print("| requests/s while profiled | " + " | ".join(f"{r['rps']:,.0f}" for r in results) + " |")
    print("| server cores busy | " + " | ".join(f"{100 * r['busy']:.0f} %" for r in results) + " |")
    print("| samples | " + " | ".join(f"{r['total']:,}" for r in results) + " |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
