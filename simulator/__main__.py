"""``python -m simulator``: run the Clever simulator (see ``simulator.cli``)."""

from __future__ import annotations

from simulator.cli import main

if __name__ == "__main__":
    main()
