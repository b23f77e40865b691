"""`python -m services.registration` serves the service; `... import schools FILE.csv` bulk-imports."""

import sys

if len(sys.argv) > 1 and sys.argv[1] == "import":
    from services.registration.importer import main

    sys.exit(main(sys.argv[2:]))

# The SQLite connection lives on aiosqlite's thread: every round trip hands the GIL over twice. With
# the default 5 ms switch interval a busy event loop keeps the connection's thread waiting that
# long per hand-over, while it holds the service's only database connection.
sys.setswitchinterval(0.0005)

from services.registration.app import build_app  # noqa: E402
from shared.service import serve  # noqa: E402

serve("registration", build_app)
