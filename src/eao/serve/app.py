"""The web app of `eao serve`: one page, a JSON API beside it, the videos and their thumbnails.

    GET /                    the page; ?q=...&k=...&index=... shows that search's results
    GET /api/search          the same search as JSON: {query, k, index, results: [...]}
    GET /api/indexes         the indexes served, with their model and text encoder
    GET /video/INDEX/N       video N of the index (HTTP range requests, for seeking)
    GET /thumb/INDEX/ROW.jpg the middle frame of window ROW

Starlette, not FastAPI: the app is five routes, and Starlette brings what they need (routing,
Jinja2 templates, range requests on files) without FastAPI's pydantic layer; uvicorn runs it.
The page is rendered on the server, so the results and the error messages are in the HTML the
API's JSON comes from; the page's script only plays a clicked result from its window's start.
"""

from __future__ import annotations

import threading
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from eao.io.ffmpeg import ProbeError, still_jpeg
from eao.serve.catalog import MAX_K, MAX_QUERY_CHARS, QueryError, Served, run_query, video_file
from eao.serve.catalog import window as window_of

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
THUMB_HEIGHT = 120


class Routes:
    """The handlers, over indexes opened by eao.serve.catalog.open_served."""

    def __init__(self, served: dict[str, Served]):
        self.served = served
        self.thumbs: dict[tuple[str, str], bytes] = {}  # decoded ones only: a failure is retried
        self.ffmpeg = threading.Semaphore(2)  # a page of 100 results starts no 100 ffmpegs

    def page(self, request: Request) -> Response:
        q, k, name = (request.query_params.get(p) for p in ("q", "k", "index"))
        context = {"served": self.served, "q": q or "", "k": k or "10", "name": name or ""}
        context |= {"max_chars": MAX_QUERY_CHARS, "max_k": MAX_K, "result": None, "error": None}
        status = 200
        if q is not None:  # a search was asked for (an empty one too: it gets its message)
            try:
                context["result"] = run_query(self.served, q, k, name)
            except QueryError as e:
                context["error"], status = e.message, e.status
        return TEMPLATES.TemplateResponse(request, "page.html", context, status_code=status)

    def api_search(self, request: Request) -> Response:
        q, k, name = (request.query_params.get(p) for p in ("q", "k", "index"))
        try:
            return JSONResponse(run_query(self.served, q, k, name))
        except QueryError as e:
            return JSONResponse({"error": e.message}, status_code=e.status)

    def api_indexes(self, request: Request) -> Response:
        return JSONResponse([s.describe() for s in self.served.values()])

    def video(self, request: Request) -> Response:
        p = request.path_params
        path = video_file(self.served, p["index"], p["number"])
        if path is None:
            return JSONResponse({"error": "no such video"}, status_code=404)
        return FileResponse(path)  # answers Range requests (206), so the player can seek

    def thumb_bytes(self, name: str, row: str) -> bytes | None:
        """The window's JPEG; b"" when its video does not decode there (or ffmpeg is missing):
        the page shows no picture. None for no such window."""
        if (name, row) in self.thumbs:
            return self.thumbs[name, row]
        found = window_of(self.served, name, row)
        if found is None:
            return None
        try:
            with self.ffmpeg:
                jpeg = still_jpeg(str(found[0]), found[1], THUMB_HEIGHT)
        except (ProbeError, OSError):
            return b""
        if len(self.thumbs) < 4096:
            self.thumbs[name, row] = jpeg
        return jpeg

    def thumb(self, request: Request) -> Response:
        data = self.thumb_bytes(request.path_params["index"], request.path_params["row"])
        if data is None:
            return JSONResponse({"error": "no such window"}, status_code=404)
        if not data:
            return Response(status_code=204)
        return Response(data, media_type="image/jpeg", headers={"cache-control": "max-age=3600"})


def create_app(served: dict[str, Served]) -> Starlette:
    """The app over indexes opened by eao.serve.catalog.open_served."""
    r = Routes(served)
    routes = [
        Route("/", r.page),
        Route("/api/search", r.api_search),
        Route("/api/indexes", r.api_indexes),
        Route("/video/{index}/{number}", r.video),
        Route("/thumb/{index}/{row}.jpg", r.thumb),
    ]
    return Starlette(routes=routes)
