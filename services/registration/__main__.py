"""`python -m services.registration` serves the service; `... import schools FILE.csv` bulk-imports."""

import sys

if len(sys.argv) > 1 and sys.argv[1] == "import":
    from services.registration.importer import main

    sys.exit(main(sys.argv[2:]))

from services.registration.app import build_app  # noqa: E402 (after the import command)
from shared.service import serve  # noqa: E402

serve("registration", build_app)
