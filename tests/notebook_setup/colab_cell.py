# @title Setup (runs on Colab only) { display-mode: "form" }
# On Colab: fetch the repository (for data_samples/) into /content/hsta_edu, install hsta_edu from it
# next to what Colab already has (its torch, numpy and ipywidgets 7 stay as they are), add OpenCV's
# contrib modules only if cv2.optflow is missing, and print the versions in use. Safe to rerun:
# nothing is fetched or installed twice. Anywhere else (Binder, your laptop) this cell does nothing.
import os
import sys

HSTA_EDU_REF = "main"  # the tag, branch or commit to fetch: a release pins its own tag, e.g. "v0.1.0"

if "google.colab" in sys.modules:
    import importlib
    import re
    import shutil
    import subprocess
    import tempfile
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.version import InvalidVersion, Version

    REPO = os.environ.get("HSTA_EDU_REPO_URL", "https://github.com/hsta-edu/hsta_edu")
    HOME = os.environ.get("HSTA_EDU_HOME", "/content/hsta_edu")
    OPENCV = [f"opencv-{c}python{h}" for c in ("", "contrib-") for h in ("", "-headless")]

    def run(*cmd):
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"`{' '.join(cmd)}` failed:\n{(done.stdout + done.stderr)[-3000:]}")
        importlib.invalidate_caches()

    def norm(name):
        return re.sub(r"[-_.]+", "-", name).lower()

    def version(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    def pip_install(*reqs):
        """pip may add packages, but what this session imported and what hsta_edu needs that is already
        in range keep their versions (pip stops with the conflict instead)."""
        keep = imported | {norm(r.name) for r in reqs_ok}
        pins = {}
        for dist in metadata.distributions():
            try:
                if norm(dist.metadata["Name"]) in keep:
                    pins.setdefault(norm(dist.metadata["Name"]), str(Version(dist.version)))
            except (InvalidVersion, TypeError):
                continue
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("\n".join(f"{n}=={v}" for n, v in pins.items()))
        run(sys.executable, "-m", "pip", "install", "-q", "-c", f.name, *reqs)
        os.remove(f.name)

    # 1. the repository at HSTA_EDU_REF, once (a tag, branch or commit: fetched, not cloned)
    if not os.path.isfile(os.path.join(HOME, "pyproject.toml")):
        shutil.rmtree(HOME, ignore_errors=True)  # what an interrupted fetch left
        run("git", "init", "-q", HOME)
        run("git", "-C", HOME, "fetch", "-q", "--depth", "1", REPO, HSTA_EDU_REF)
        run("git", "-C", HOME, "checkout", "-q", "FETCH_HEAD")
        print(f"fetched {REPO} at {HSTA_EDU_REF} into {HOME}")
    loaded, changed = set(sys.modules), []
    owners = metadata.packages_distributions()  # module -> distributions, before anything changes
    imported = {norm(d) for m in loaded for d in owners.get(m, [])}

    # 2. hsta_edu without its dependencies, then only those that are missing or out of range
    if version("hsta_edu") is None:
        run(sys.executable, "-m", "pip", "install", "-q", "--no-deps", HOME)
        changed.append("hsta_edu")
    reqs = [Requirement(r) for r in metadata.requires("hsta_edu") or []]
    reqs = [r for r in reqs if r.marker is None or r.marker.evaluate({"extra": ""})]
    reqs_ok = [r for r in reqs if version(r.name) and r.specifier.contains(version(r.name), prereleases=True)]
    missing = [str(r) for r in reqs if r not in reqs_ok and not r.name.startswith("opencv")]
    if missing:
        pip_install(*missing)
        changed += missing
        print("installed", ", ".join(missing))

    # 3. OpenCV: kept when its cv2 has the contrib modules (cv2.optflow) in hsta_edu's range; otherwise
    # the OpenCV distributions here are replaced by the contrib twin, same version, so one owns cv2
    cv_spec = next(r.specifier for r in reqs if r.name.startswith("opencv"))
    code = "import cv2; print(cv2.__version__, hasattr(cv2, 'optflow'))"  # in a subprocess, not here
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.split()
    if not (probe and probe[-1] == "True" and cv_spec.contains(probe[0])):
        present = [n for n in OPENCV if version(n)]
        gui = {"opencv-python", "opencv-contrib-python"} & set(present)  # keep the GUI flavour if there
        twin = "opencv-contrib-python" if gui else "opencv-contrib-python-headless"
        same = [version(n) for n in present if cv_spec.contains(version(n))]
        wheels = tempfile.mkdtemp()
        run(sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", wheels,
            f"{twin}=={same[0]}" if same else f"{twin}{cv_spec}")  # before anything is removed
        if present:
            run(sys.executable, "-m", "pip", "uninstall", "-q", "-y", *present)
        pip_install(*[os.path.join(wheels, w) for w in os.listdir(wheels)])
        shutil.rmtree(wheels)
        changed += [*present, twin]
        print(f"OpenCV: {', '.join(present) or 'none'} -> {twin} {version(twin)}")

    # 4. what this kernel imported before a package changed needs a restart; then check the imports
    names = {norm(Requirement(c).name) for c in changed}
    stale = sorted(m for m in loaded if names & {norm(d) for d in owners.get(m, [])})
    if stale:
        raise RuntimeError(f"{', '.join(stale)} changed after this session imported it: Runtime > Restart "
                           "session, then run this cell again (nothing is installed twice)")
    os.chdir(os.path.join(HOME, "notebooks"))
    try:
        import cv2
        import ipywidgets
        import torch

        import hsta_edu
    except Exception as err:
        raise RuntimeError(f"hsta_edu's setup is broken ({type(err).__name__}: {err}): Runtime > Disconnect "
                           "and delete runtime, then run this cell again") from err
    if not hasattr(cv2, "optflow"):
        raise RuntimeError(f"OpenCV {cv2.__version__} lacks the contrib modules (cv2.optflow) hsta_edu uses")
    print(f"hsta_edu setup OK: hsta_edu {hsta_edu.__version__} ({HSTA_EDU_REF}) | torch {torch.__version__}"
          f" | ipywidgets {ipywidgets.__version__} | OpenCV {cv2.__version__} (contrib)")
