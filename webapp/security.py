"""Response headers every page gets, and errors answered in the client's own terms.

The Content-Security-Policy allows scripts and styles from this server only: no inline script,
so a stored string that slipped past autoescaping still could not run. Data for the charts
travels in JSON endpoints or in `<script type="application/json">` blocks, which are not run.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def wants_json() -> bool:
    """Accept: application/json preferred over HTML."""
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == (
        "application/json"
    )


def machine_client() -> bool:
    """Scripts (the API, the CSV, an Accept: application/json) get JSON or text, not HTML."""
    return request.path.startswith("/api/") or request.path.endswith(".csv") or wants_json()


def set_headers(response: Response) -> Response:
    """Runs after every request, errors included."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def http_error(exc: HTTPException) -> Response:
    """400 with the parameter's message, 401, 404...: JSON for the API, text for the CSV."""
    code = exc.code or 500
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
    if request.path.endswith(".csv"):
        body = f"{code} {exc.name}: {exc.description}\n"
        return Response(body, code, headers, mimetype="text/plain")
    if machine_client():
        response = jsonify(error=exc.description, status=code)
        response.status_code = code
        response.headers.extend(headers)
        return response
    page = render_template("error.html", code=code, name=exc.name, message=exc.description)
    return Response(page, code, headers, mimetype="text/html")


def init_app(app: Flask) -> None:
    """Wires the headers and the error pages into the app."""
    app.after_request(set_headers)
    app.register_error_handler(HTTPException, http_error)
