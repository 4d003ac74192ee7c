"""Entry point of the zipapp and of ``python -m autoglm_smoke``."""

import sys


def run():
    from autoglm_smoke.cli import main  # noqa: PLC0415

    try:
        return main()
    except KeyboardInterrupt:
        return 2


if __name__ == "__main__":
    sys.exit(run())
