"""Start, watch and stop the platform's processes: daphne and the django-q2 cluster.

One museum PC runs one daphne and one cluster; a scaled setup runs several
daphnes behind a proxy. Both cases, the `runplatform` command and the
end-to-end tests use this class, so the tests exercise the same processes a
museum runs.

Every process gets its own process group: Ctrl-C in a terminal reaches only
the launcher, which then stops the children in order (SIGTERM to the leader so
daphne and qcluster shut down cleanly, SIGKILL to the whole group after a grace
period so no orphaned worker keeps a job).
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Optional

from django.conf import settings

WEB_PREFIX = "web"
CLUSTER = "cluster"


class PlatformError(RuntimeError):
    """A process of the platform did not start or died while starting."""


@dataclass
class ManagedProcess:
    """One child process, its command line and where its output goes."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    popen: Optional[subprocess.Popen] = None
    log_thread: Optional[threading.Thread] = None
    restarts: int = 0
    stopping: bool = field(default=False, repr=False)

    @property
    def pid(self) -> Optional[int]:
        return self.popen.pid if self.popen else None

    def is_running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


class Platform:
    """The web processes (daphne, one per port) and the job cluster (qcluster).

    `env` is added to the current environment for every child, e.g. a
    DATABASE_URL, REDIS_URL or OLPE_DATA_DIR (None removes a variable). Logs
    are written line by line with a `[name]` prefix to `stream`, or to
    `<log_dir>/<name>.log`.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        ports: Iterable[int] = (8000,),
        workers: Optional[int] = None,
        env: Optional[dict[str, Optional[str]]] = None,
        log_dir: Optional[Path] = None,
        stream: Optional[IO[str]] = None,
        python: str = sys.executable,
        cwd: Optional[Path] = None,
        grace_seconds: float = 10.0,
    ):
        self.host = host
        self.ports = list(ports)
        self.grace_seconds = grace_seconds
        self.log_dir = Path(log_dir) if log_dir else None
        self.stream = stream if stream is not None else sys.stdout
        self._stream_lock = threading.Lock()
        self.cwd = Path(cwd or settings.BASE_DIR)
        merged = {**os.environ, **(env or {})}
        child_env = {name: value for name, value in merged.items() if value is not None}
        child_env.setdefault("DJANGO_SETTINGS_MODULE", "olpe_site.settings")
        child_env["PYTHONUNBUFFERED"] = "1"
        if workers is not None:
            child_env["OLPE_WORKERS"] = str(workers)
        manage = str(self.cwd / "manage.py")
        self.processes: dict[str, ManagedProcess] = {
            self.web_name(port): ManagedProcess(
                self.web_name(port),
                [python, "-m", "daphne", "-b", host, "-p", str(port),
                 "olpe_site.asgi:application"],
                child_env,
                self.cwd,
            )
            for port in self.ports
        }
        self.processes[CLUSTER] = ManagedProcess(
            CLUSTER, [python, manage, "qcluster"], child_env, self.cwd
        )

    # --- names and addresses ---------------------------------------------------

    @staticmethod
    def web_name(port: int) -> str:
        return f"{WEB_PREFIX}:{port}"

    @property
    def web_names(self) -> list[str]:
        return [self.web_name(port) for port in self.ports]

    def url(self, path: str = "/", port: Optional[int] = None) -> str:
        return f"http://{self.host}:{port or self.ports[0]}{path}"

    def ws_url(self, path: str, port: Optional[int] = None) -> str:
        return f"ws://{self.host}:{port or self.ports[0]}{path}"

    # --- starting ----------------------------------------------------------------

    def start(self, *, web: bool = True, cluster: bool = True, timeout: float = 60.0) -> Platform:
        """Start the chosen processes and wait until every web process answers HTTP."""
        try:
            if cluster:
                self.start_process(CLUSTER)
            if web:
                for name in self.web_names:
                    self.start_process(name)
                self.wait_until_ready(timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def start_process(self, name: str) -> ManagedProcess:
        process = self.processes[name]
        if process.is_running():
            return process
        stdout = self._log_target(name)
        process.stopping = False
        process.popen = subprocess.Popen(
            process.argv,
            cwd=process.cwd,
            env=process.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,  # own process group: see the module docstring
        )
        process.log_thread = threading.Thread(
            target=self._copy_log, args=(name, process.popen.stdout, stdout),
            name=f"log {name}", daemon=True,
        )
        process.log_thread.start()
        return process

    def wait_until_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for port in self.ports:
            name = self.web_name(port)
            while not self._answers_http(port):
                process = self.processes[name]
                if not process.is_running():
                    raise PlatformError(f"{name} exited with {process.popen.returncode}")
                if time.monotonic() > deadline:
                    raise PlatformError(f"{name} did not answer HTTP within {timeout:.0f} s")
                time.sleep(0.1)

    def _answers_http(self, port: int) -> bool:
        connection = http.client.HTTPConnection(self.host, port, timeout=2)
        try:
            connection.request("HEAD", "/", headers={"Host": self.host})
            connection.getresponse()
            return True  # any status counts: the process serves requests
        except OSError:
            return False
        finally:
            connection.close()

    # --- stopping and faults -----------------------------------------------------

    def stop(self, grace_seconds: Optional[float] = None) -> None:
        """Stop every process: web processes first, so no new job arrives, then the cluster."""
        for name in [*self.web_names, CLUSTER]:
            self.stop_process(name, grace_seconds)

    def stop_process(self, name: str, grace_seconds: Optional[float] = None) -> Optional[int]:
        """SIGTERM to the process, SIGKILL to its group after the grace period; the exit code."""
        process = self.processes[name]
        if process.popen is None:
            return None
        process.stopping = True
        grace = self.grace_seconds if grace_seconds is None else grace_seconds
        if process.is_running():
            _signal_leader(process.popen, signal.SIGTERM)
            try:
                process.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # The leader may be gone while its children (cluster workers) still run.
        _signal_group(process.popen, signal.SIGKILL)
        returncode = process.popen.wait()
        if process.log_thread is not None:
            process.log_thread.join(timeout=5)
        return returncode

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the whole process group at once, as a crash would."""
        process = self.processes[name]
        process.stopping = True
        _signal_group(process.popen, sig)
        process.popen.wait(timeout=30)

    def restart(self, name: str, timeout: float = 60.0) -> ManagedProcess:
        self.stop_process(name)
        process = self.start_process(name)
        process.restarts += 1
        if name.startswith(WEB_PREFIX):
            self.wait_until_ready(timeout=timeout)
        return process

    def died(self) -> list[str]:
        """Names of processes that exited although nobody stopped them."""
        return [
            name
            for name, process in self.processes.items()
            if process.popen is not None and not process.stopping and not process.is_running()
        ]

    def supervise(self, poll_seconds: float = 1.0, restart_delay: float = 2.0) -> None:
        """Restart processes that die, until interrupted (KeyboardInterrupt)."""
        while True:
            for name in self.died():
                self._log_line(name, f"exited with {self.processes[name].popen.returncode}; "
                                     f"restarting in {restart_delay:.0f} s")
                time.sleep(restart_delay)
                self.restart(name)
            time.sleep(poll_seconds)

    def __enter__(self) -> Platform:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- logs --------------------------------------------------------------------

    def _log_target(self, name: str) -> Optional[IO[str]]:
        if self.log_dir is None:
            return None
        self.log_dir.mkdir(parents=True, exist_ok=True)
        safe_name = name.replace(":", "-")
        return open(self.log_dir / f"{safe_name}.log", "a", encoding="utf-8", buffering=1)

    def _copy_log(self, name: str, source: IO[str], target: Optional[IO[str]]) -> None:
        try:
            for line in source:
                if target is not None:
                    target.write(line)
                else:
                    self._log_line(name, line.rstrip("\n"))
        finally:
            source.close()
            if target is not None:
                target.close()

    def _log_line(self, name: str, line: str) -> None:
        with self._stream_lock:
            self.stream.write(f"[{name}] {line}\n")
            self.stream.flush()


def _signal_leader(popen: subprocess.Popen, sig: int) -> None:
    try:
        popen.send_signal(sig)
    except ProcessLookupError:
        pass


def _signal_group(popen: Optional[subprocess.Popen], sig: int) -> None:
    if popen is None:
        return
    try:
        os.killpg(popen.pid, sig)  # start_new_session: the group id is the leader's pid
    except (ProcessLookupError, PermissionError):
        pass
