"""Start and stop a throwaway JupyterLab server for the browser tests.

The server listens on 127.0.0.1 on a free port, asks for a random token, serves a temporary
root folder, and keeps its config, runtime, data, workspaces and settings in a temporary
folder too, so nothing of the user's own Jupyter setup leaks in (and nothing leaks out).
Its kernels inherit the test's environment minus pytest's own variables (the explorer looks
at ``PYTEST_CURRENT_TEST`` to tell a test runner's kernel from a person's), plus ``extra_env``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

# variables that would make a kernel believe it runs under pytest/nbmake, or pick a backend
_DROP_PREFIXES = ("PYTEST_", "NBMAKE")
_DROP = {"MPLBACKEND", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR", "JUPYTER_PATH",
         "JUPYTER_CONFIG_PATH", "IPYTHONDIR", "COV_CORE_SOURCE", "COV_CORE_CONFIG", "COV_CORE_DATAFILE"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kernel_environment(extra_env: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROP and not k.startswith(_DROP_PREFIXES)}
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra_env or {})
    return env


@dataclass
class LabServer:
    proc: subprocess.Popen
    port: int
    token: str
    root: Path
    home: Path
    log_path: Path
    _log: object = field(repr=False, default=None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def notebook_url(self, relpath: str) -> str:
        return f"{self.url}lab/tree/{quote(relpath)}?token={self.token}"

    def api(self, path: str, method: str = "GET", timeout: float = 5.0) -> tuple[int, bytes]:
        req = urllib.request.Request(self.url + path, method=method,
                                     headers={"Authorization": f"token {self.token}"},
                                     data=b"" if method == "POST" else None)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def log_tail(self, n: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no server log)"
        return "\n".join(lines[-n:])

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.proc.returncode} before answering:\n"
                                   f"{self.log_tail()}")
            try:
                status, body = self.api("api/status", timeout=2.0)
                if status == 200:
                    status, _ = self.api("lab?token=" + self.token, timeout=10.0)
                    if status == 200:
                        return
                last = f"HTTP {status}: {body[:200]!r}"
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as e:
                last = repr(e)
            time.sleep(0.3)
        raise TimeoutError(f"JupyterLab did not answer on {self.url} within {timeout:.0f} s ({last}):\n"
                           f"{self.log_tail()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:   # a clean shutdown also stops the kernels
                self.api("api/shutdown", method="POST", timeout=5.0)
                self.proc.wait(timeout=15)
            except Exception:
                pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        # the server ran in its own process group: end any kernel it left behind (our own processes only)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self._log is not None:
            self._log.close()


def start_lab(root: Path, home: Path, extra_env: dict[str, str] | None = None,
              timeout: float = 90.0) -> LabServer:
    """Start JupyterLab serving ``root``; ``home`` holds its config/runtime/data/workspaces/settings."""
    root, home = Path(root).resolve(), Path(home).resolve()
    dirs = {n: home / n for n in ("config", "runtime", "data", "ipython", "workspaces", "settings")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    config = {
        "ServerApp": {"terminals_enabled": False,
                      "jpserver_extensions": {"jupyter_lsp": False}},
        "LabApp": {"expose_app_in_browser": True, "news_url": None,
                   "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
                   "workspaces_dir": str(dirs["workspaces"]), "user_settings_dir": str(dirs["settings"])},
    }
    (dirs["config"] / "jupyter_server_config.json").write_text(json.dumps(config, indent=1))
    # no "would you like news?" toast over the screenshots
    labconfig = dirs["config"] / "labconfig"
    labconfig.mkdir(exist_ok=True)
    (labconfig / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))

    env = kernel_environment(extra_env)
    env.update(JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
               JUPYTER_DATA_DIR=str(dirs["data"]), IPYTHONDIR=str(dirs["ipython"]))
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:   # CI containers run as root
        cmd.append("--allow-root")
    log_path = home / "jupyterlab.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    server = LabServer(proc, port, token, root, home, log_path, log)
    try:
        server.wait_ready(timeout)
    except BaseException:
        server.stop()
        raise
    return server
