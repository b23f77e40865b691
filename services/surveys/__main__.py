from services.surveys.app import build_app
from shared.service import serve

if __name__ == "__main__":  # the statistics worker process (spawn) imports this module too
    serve("surveys", build_app)
