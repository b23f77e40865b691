from services.surveys.app import build_app
from shared.service import serve

serve("surveys", build_app)
