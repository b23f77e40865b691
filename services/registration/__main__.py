from services.registration.app import build_app
from shared.service import serve

serve("registration", build_app)
