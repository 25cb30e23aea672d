"""Child processes and the machine lock.

Every child runs in its own process group, gets SIGKILL if the harness dies (PR_SET_PDEATHSIG), and
is listed in $BENCH_PGID_FILE so that run.sh's trap can kill whatever is left should the harness be
killed outright. One Children object per run owns that bookkeeping.
"""

import atexit
import ctypes
import fcntl
import os
import signal
import subprocess
import tempfile
import time

from .common import REPO, BenchError, log

_libc = ctypes.CDLL(None, use_errno=True)


def child_setup():
    """preexec_fn for every child: SIGKILL when the harness dies."""
    _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def stop(proc, grace=5.0):
    """Stops a child and its whole process group (nginx workers included): TERM, then KILL."""
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the rest of the group (or a hung leader)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


class Children:
    """The long-lived children of a run (servers, idle clients): started, listed, stopped."""

    def __init__(self, pgid_file=None):
        self.pgid_file = pgid_file
        self.autogroup_nice = None   # set by set_priority()
        self._procs = []

    def spawn(self, cmd, **kw):
        proc = subprocess.Popen(cmd, start_new_session=True, preexec_fn=child_setup, **kw)
        if self.autogroup_nice is not None:
            try:
                with open(f"/proc/{proc.pid}/autogroup", "w") as f:
                    f.write(str(self.autogroup_nice))
            except OSError:
                pass
        self._procs.append(proc)
        self._write_pgids()
        return proc

    def stop(self, proc, grace=5.0):
        stop(proc, grace)
        if proc in self._procs:
            self._procs.remove(proc)
            self._write_pgids()

    def stop_all(self):
        for proc in list(self._procs):
            self.stop(proc, grace=2.0)

    def _write_pgids(self):
        if self.pgid_file:
            with open(self.pgid_file, "w") as f:
                f.writelines(f"{p.pid}\n" for p in self._procs)

    def set_priority(self, nice):
        """Niceness for the harness and everything it starts. With CONFIG_SCHED_AUTOGROUP (sessions are
        scheduled as groups), a task's niceness only counts inside its session's group, so the harness
        moves into a session of its own and sets that group's niceness too; every server, which runs in
        its own session, gets the same in spawn(). Autogroups end with their sessions: nothing persists."""
        restore = None
        try:
            os.setsid()
        except OSError:
            # Already a session leader (started straight from a shell): the group is the shell's, so its
            # niceness is put back at exit.
            try:
                with open("/proc/self/autogroup") as f:
                    restore = f.read().split("nice")[1].strip()
            except (OSError, IndexError):
                restore = None
        try:
            os.setpriority(os.PRIO_PROCESS, 0, nice)   # inherited by every child
        except OSError as e:
            log(f"WARNING: could not set niceness {nice}: {e}")
        if os.path.exists("/proc/self/autogroup"):
            try:
                with open("/proc/self/autogroup", "w") as f:
                    f.write(str(nice))
                self.autogroup_nice = nice
                if restore is not None:
                    atexit.register(lambda: open("/proc/self/autogroup", "w").write(restore))
            except OSError as e:
                log(f"WARNING: could not set the autogroup niceness {nice}: {e}")


class MachineLock:
    """Two benchmark runs at once disturb each other's numbers: a machine-wide lock, held until the
    harness exits, for which a second run (from any checkout) waits."""

    def __init__(self):
        self.path = os.path.join(tempfile.gettempdir(), "epoll-bench.lock")
        self._file = None

    def acquire(self, limit_s):
        self._file = open(self.path, "a+")
        if not self._try():
            self._file.seek(0)
            other = self._file.read().strip() or "unknown"
            if limit_s <= 0:
                raise BenchError(f"another benchmark run holds {self.path} ({other})")
            log(f"another benchmark run holds {self.path} ({other}); waiting up to {limit_s} s for it to finish")
            deadline = time.monotonic() + limit_s
            while not self._try():
                if time.monotonic() > deadline:
                    raise BenchError(f"another benchmark run still holds {self.path} after {limit_s} s ({other})")
                time.sleep(2)
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"pid {os.getpid()}, {REPO}, since {time.strftime('%H:%M:%S')}\n")
        self._file.flush()

    def _try(self):
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError:
            return False
