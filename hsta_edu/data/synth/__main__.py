"""``python -m hsta_edu.data.synth --out DIR [--preset samples|benchmark] ...``: see `command.main`."""

from .command import main

if __name__ == "__main__":
    raise SystemExit(main())
