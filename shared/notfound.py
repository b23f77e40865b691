"""The page a person gets for an address that does not exist, on every service: Dutch first
(`?lang=en` for English), instead of a machine's `{"detail": "Not Found"}`. API clients keep
their problem details (RFC 9457): this page is only for browsers asking for HTML outside /api."""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse

TEXT = {
    "nl": (
        "Deze pagina bestaat niet",
        "Misschien is het adres verkeerd overgenomen, of bestaat de pagina niet meer.",
        "Naar de startpagina",
    ),
    "en": ("This page does not exist", "The address may have been copied wrongly, or the page no longer exists.", "Go to the start page"),
}


def wanted(request: Request) -> bool:
    """A person's browser asking for a page (not an API client)."""
    return not request.url.path.startswith("/api") and "text/html" in request.headers.get("accept", "")


def page(request: Request) -> HTMLResponse:
    lang = "en" if request.query_params.get("lang") == "en" or request.cookies.get("gd_lang") == "en" else "nl"
    title, body, home = TEXT[lang]
    other, other_name = ("nl", "Nederlands") if lang == "en" else ("en", "English")
    html = f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · VHTO</title>
<style>body{{font:1.0625rem/1.5 system-ui,sans-serif;color:#1a1a1a;max-width:40rem;margin:0 auto;padding:1rem}}
h1{{color:#5a189a}}a{{color:#5a189a}}:focus-visible{{outline:3px solid #1a1a1a;outline-offset:2px}}</style></head>
<body><main><p style="text-align:right"><a href="?lang={other}" lang="{other}" hreflang="{other}">{other_name}</a></p>
<h1>{title}</h1><p>{body}</p><p><code>{escape(request.url.path)}</code></p><p><a href="/?lang={lang}">{home}</a></p></main></body></html>"""
    return HTMLResponse(html, 404)
