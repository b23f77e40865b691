"""`python -m services.reporting` serves; `python -m services.reporting rebuild` rebuilds projections."""

import sys

from services.reporting.app import build_app
from shared.service import serve


def main() -> None:
    if sys.argv[1:2] == ["rebuild"]:
        from services.reporting.rebuild import rebuild_with_progress_bar
        from shared.logs import configure_logging
        from shared.settings import Settings

        settings = Settings()
        configure_logging("reporting", settings.log_level)
        result = rebuild_with_progress_bar(settings)
        sys.exit(0 if result is not None else 1)
    serve("reporting", build_app)


main()
