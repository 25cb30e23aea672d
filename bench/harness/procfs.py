"""/proc readings: CPU ticks and memory of processes, machine-wide CPU, and the two per-run probes
(the CPU window of a run and the RSS sampler)."""

import os
import resource
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    return data[data.rindex(")") + 2:].split()


def proc_ticks(pid):
    """utime + stime (all threads, including exited ones) in clock ticks."""
    fields = _stat_fields(pid)
    return int(fields[11]) + int(fields[12])


def proc_status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def children_of(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = _stat_fields(entry)
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(entry))
    return kids


def sum_over(pids, fn):
    total = 0
    for pid in pids:
        try:
            total += fn(pid)
        except (OSError, ValueError):
            pass
    return total


def rss_kb(pids):
    return sum_over(pids, lambda p: proc_status_kb(p, "VmRSS"))


def hwm_kb(pids):
    return sum_over(pids, lambda p: proc_status_kb(p, "VmHWM"))


def system_cpu():
    """(user+nice+system, steal) of the whole machine in ticks, from /proc/stat."""
    with open("/proc/stat") as f:
        parts = f.readline().split()
    v = [int(x) for x in parts[1:]]
    return v[0] + v[1] + v[2], (v[7] if len(v) > 7 else 0)


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[:3]


def self_and_children_cpu():
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime, c.ru_utime + c.ru_stime


class CpuWindow:
    """CPU used by the server, the load generator (reaped children), the harness and everything else."""

    def __init__(self, server):
        self.server = server
        self.server_ticks = sum_over(server.pids(), proc_ticks)
        self.sys_busy, self.steal = system_cpu()
        self.self_cpu, self.child_cpu = self_and_children_cpu()
        self.t = time.monotonic()

    def finish(self):
        server_ticks = sum_over(self.server.pids(), proc_ticks)
        sys_busy, steal = system_cpu()
        self_cpu, child_cpu = self_and_children_cpu()
        server_s = (server_ticks - self.server_ticks) / CLK_TCK
        client_s = child_cpu - self.child_cpu
        harness_s = self_cpu - self.self_cpu
        busy_s = (sys_busy - self.sys_busy) / CLK_TCK
        return dict(
            wall_s=round(time.monotonic() - self.t, 3),
            server_cpu_s=round(server_s, 3),
            client_cpu_s=round(client_s, 3),
            harness_cpu_s=round(harness_s, 3),
            # Approximate (tick-based): user+nice+system of the machine minus ours. Other engineers'
            # builds on a shared VM show up here.
            other_cpu_s=round(max(0.0, busy_s - server_s - client_s - harness_s), 3),
            steal_s=round((steal - self.steal) / CLK_TCK, 3),
        )


class RssSampler(threading.Thread):
    """Samples the summed VmRSS of the server's processes every 200 ms; keeps the maximum."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.max_kb = 0
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            self.max_kb = max(self.max_kb, rss_kb(self.server.pids()))
            self._halt.wait(0.2)

    def finish(self):
        self._halt.set()
        self.join()
        return self.max_kb
