"""axe-core (vendored in the axe-playwright-python wheel) over a Playwright page: the serious and
critical violations, each as one line, so a test can `assert await serious_violations(page) == []`."""

from __future__ import annotations


async def serious_violations(page) -> list[str]:
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {', '.join(str(n['target']) for n in v['nodes'][:3])}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
