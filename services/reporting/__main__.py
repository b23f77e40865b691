from services.reporting.app import build_app
from shared.service import serve

serve("reporting", build_app)
