"""``python -m bench <scenario> [options]``: run one benchmark scenario.

Scenarios are modules with a ``main(argv)`` function, registered in :data:`SCENARIOS` by name; a new one (a
later module's ``opportunities``) is one line here plus its module.
"""

from __future__ import annotations

import importlib
import sys

# name -> (module, one-line description)
SCENARIOS: dict[str, tuple[str, str]] = {
    "contacts": ("bench.contacts", "N contacts: pages, search, API and import over HTTP, with the SQL floor"),
    "search": ("bench.search_bench", "the search token index alone: list and global search in-process"),
    "opportunities": ("bench.opportunities", "N deals: board, load more, forecast and analysis over HTTP, SQL floor"),
}


def usage() -> str:
    lines = ["usage: python -m bench <scenario> [options]   (python -m bench <scenario> --help)", "", "scenarios:"]
    lines += [f"  {name:<14}{description}" for name, (_module, description) in SCENARIOS.items()]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in SCENARIOS:
        print(usage(), file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    module = importlib.import_module(SCENARIOS[argv[0]][0])
    module.main(argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
