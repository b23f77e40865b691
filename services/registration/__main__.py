"""`python -m services.registration` serves the service; `... import schools FILE.csv` bulk-imports."""

import sys

if len(sys.argv) > 1 and sys.argv[1] == "import":
    from services.registration.importer import main

    sys.exit(main(sys.argv[2:]))

from services.registration.app import build_app  # noqa: E402 (after the import command)
from shared.service import serve  # noqa: E402

# Python's default GIL switch interval: the group commit (tx.py) hands work to the SQLite thread
# once per batch, not per statement, and a shorter interval only adds hand-overs (~7 % more CPU
# per mix request in bench/registration.py: 1.02-1.15 ms over 5 runs against 0.99-1.08 over 5).
serve("registration", build_app, switch_interval=0.005)
