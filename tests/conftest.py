import os
from pathlib import Path

import pytest
import torch

# Two xdist workers on a 2-core machine: one thread each avoids oversubscription.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and a shared 2-core CI box stays responsive."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
SHARED = ROOT.parent / "shared"


@pytest.fixture
def shared_dir() -> Path:
    if not (SHARED / "reference").is_dir():
        pytest.skip(f"{SHARED} is absent (it exists only on the development machines)")
    return SHARED


@pytest.fixture
def sigint_delivered():
    """SIGINT handled (not ignored) in this process while the test runs, so that the processes it starts
    inherit a SIGINT they act on. A process started with SIGINT ignored (a background job of a
    non-interactive shell, some test runners' workers) passes that on through exec, and a child Python
    then never raises KeyboardInterrupt: a test that interrupts its child would see the run finish."""
    import signal
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def pytest_collection_modifyitems(config, items):
    """A notebook that tests/test_notebook_learning.py executes (and checks for learning) is not run a
    second time by nbmake in the same session."""
    learning = {item.callspec.params["name"] for item in items
                if item.name.startswith("test_training_notebook_learns[")}
    keep = [item for item in items
            if not (type(item).__name__ == "NotebookItem" and Path(str(item.path)).name in learning)]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep
