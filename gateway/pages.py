"""The few HTML pages of the connect flow. Every value is escaped; the progress page's script
reads JSON and writes it with textContent, so nothing from the server becomes markup. The page is
rendered with the attempt's state already in it, so it says what happened without JavaScript."""

from __future__ import annotations

from html import escape
from typing import Any

from starlette.responses import HTMLResponse

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#222}"
    "h1{font-size:1.4rem}.muted{color:#666}ul{padding-left:1.2rem}"
)
START_AGAIN = '<a href="/oauth/clever/start">Start again</a>'
FAILED_TITLE = "Could not connect to Clever"
FINISHED = ("succeeded", "failed", "discarded", "cancelled", "held")


def _page(title: str, body_html: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f'<body><h1 id="title">{escape(title)}</h1>{body_html}</body></html>'
    )


def error_page(reason: str, status: int = 400, headers: dict[str, str] | None = None) -> HTMLResponse:
    body = f"<p>{escape(reason)}</p><p>{START_AGAIN}</p>"
    sent = {"Cache-Control": "no-store", **(headers or {})}
    return HTMLResponse(_page(FAILED_TITLE, body), status_code=status, headers=sent)


def describe(status: dict[str, Any]) -> tuple[str, str, list[str], bool]:
    """(title, what is happening, one line per entity type, whether to offer starting again)."""
    if status["state"] == "failed":
        return FAILED_TITLE, status["error"] or "The connection failed.", [], True
    if status["state"] == "waiting":
        return "Connecting your district", "Waiting for Clever...", [], False
    district = status["district"] or {}
    name = district.get("name") or district.get("id") or "your district"
    run = status["run"]
    if run is None:
        return "Connecting your district", f"Connected {name}; starting the first sync...", [], False
    lines = [
        f"{kind}: " + ", ".join(f"{outcome} {count}" for outcome, count in sorted(outcomes.items()))
        for kind, outcomes in sorted((run["counters"] or {}).items())
    ]
    if run["status"] == "failed":
        return "The first sync failed", f"{name}: {run.get('error') or 'the sync failed'}", lines, True
    title = "District connected" if run["status"] in FINISHED else "Connecting your district"
    return title, f"Connected {name}. Sync {run['status']}.", lines, False


_PROGRESS_SCRIPT = """
<script>
(function () {
  var url = window.location.pathname.replace(/\\/$/, "") + "/status";
  var title = document.getElementById("title"), state = document.getElementById("state");
  var counts = document.getElementById("counts"), again = document.getElementById("again");
  var finished = ["succeeded", "failed", "discarded", "cancelled", "held"];
  function show(data) {
    var run = data.run, lines = [];
    if (data.state === "failed") {
      title.textContent = "Could not connect to Clever";
      state.textContent = data.error || "The connection failed.";
      again.hidden = false;
      return true;
    }
    if (data.state === "waiting") { state.textContent = "Waiting for Clever..."; return false; }
    var name = (data.district && (data.district.name || data.district.id)) || "your district";
    if (!run) { state.textContent = "Connected " + name + "; starting the first sync..."; return false; }
    Object.keys(run.counters || {}).sort().forEach(function (kind) {
      var c = run.counters[kind] || {};
      lines.push(kind + ": " + Object.keys(c).sort().map(function (k) { return k + " " + c[k]; }).join(", "));
    });
    counts.textContent = "";
    lines.forEach(function (line) {
      var li = document.createElement("li"); li.textContent = line; counts.appendChild(li);
    });
    state.textContent = "Connected " + name + ". Sync " + run.status + ".";
    if (run.status === "failed") {
      title.textContent = "The first sync failed";
      state.textContent = name + ": " + (run.error || "the sync failed");
      again.hidden = false;
    } else if (finished.indexOf(run.status) >= 0) {
      title.textContent = "District connected";
    }
    return finished.indexOf(run.status) >= 0;
  }
  function poll() {
    fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) { if (!show(data)) { setTimeout(poll, 2000); } })
      .catch(function () { setTimeout(poll, 5000); });
  }
  if (!again.hidden) { return; }
  poll();
})();
</script>
"""


def progress_page(status: dict[str, Any]) -> HTMLResponse:
    title, state, lines, offer_again = describe(status)
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    body = (
        f'<p id="state">{escape(state)}</p>'
        f'<ul id="counts" class="muted">{items}</ul>'
        f'<p id="again"{"" if offer_again else " hidden"}>{START_AGAIN}</p>'
        "<noscript><p>Reload this page to see the progress.</p></noscript>"
        '<p><a href="/integrations/clever" id="integrations">Open the Clever integration page</a></p>'
        f"{_PROGRESS_SCRIPT}"
    )
    return HTMLResponse(_page(title, body), headers={"Cache-Control": "no-store"})
