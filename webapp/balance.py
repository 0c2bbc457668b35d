"""The balance `/balance` and `/api/balance`: what all sessions cost, what was paid, paid minus
due (the original logger's balance), and the payments, newest first.

Every figure is per currency (amounts in different currencies are never added) and is the exact
sum rounded once, by projector.money.costs' rule, so the JSON and the page show the same digits.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template

from webapp.db import get_db
from webapp.money_queries import balance_of

bp = Blueprint("balance", __name__)


@bp.route("/balance")
def show() -> str:
    """The balance for people, with the payments and a link to the monthly statements."""
    return render_template("balance.html", balance=balance_of(get_db()))


@bp.route("/api/balance")
def api() -> Response:
    """`due`, `paid`, `balance` ({currency: "12.40"}) and `payments`, for scripts."""
    return jsonify(balance_of(get_db()).as_json())
