from services.matching.app import build_app
from shared.service import serve

serve("matching", build_app)
