"""The few HTML pages of the connect flow. Every value is escaped; the progress page's script
reads JSON and writes it with textContent, so nothing from the server becomes markup."""

from __future__ import annotations

from html import escape

from starlette.responses import HTMLResponse

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#222}"
    "h1{font-size:1.4rem}.muted{color:#666}"
)


def _page(title: str, body_html: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body_html}</body></html>"
    )


def error_page(reason: str, status: int = 400, headers: dict[str, str] | None = None) -> HTMLResponse:
    body = f'<p>{escape(reason)}</p><p><a href="/oauth/clever/start">Start again</a></p>'
    return HTMLResponse(_page("Could not connect to Clever", body), status_code=status, headers=headers)


_PROGRESS_SCRIPT = """
<script>
(function () {
  var url = window.location.pathname.replace(/\\/$/, "") + "/status";
  var state = document.getElementById("state"), detail = document.getElementById("detail");
  var finished = ["succeeded", "failed", "discarded", "cancelled", "held"];
  function show(data) {
    if (data.state === "failed") {
      state.textContent = "The connection failed.";
      detail.textContent = data.error || "";
      return true;
    }
    if (data.state === "waiting") { state.textContent = "Waiting for Clever..."; return false; }
    var name = (data.district && (data.district.name || data.district.id)) || "your district";
    var run = data.run;
    if (!run) { state.textContent = "Connected " + name + "; starting the first sync..."; return false; }
    var counts = [];
    Object.keys(run.counters || {}).forEach(function (kind) {
      var c = run.counters[kind] || {}, n = 0;
      Object.keys(c).forEach(function (k) { n += Number(c[k]) || 0; });
      counts.push(kind + ": " + n);
    });
    state.textContent = "Connected " + name + ". Sync " + run.status + ".";
    detail.textContent = counts.join(", ");
    return finished.indexOf(run.status) >= 0;
  }
  function poll() {
    fetch(url, {headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (data) { if (!show(data)) { setTimeout(poll, 2000); } })
      .catch(function () { setTimeout(poll, 5000); });
  }
  poll();
})();
</script>
"""


def progress_page() -> HTMLResponse:
    body = (
        '<p id="state">Waiting for Clever...</p>'
        '<p id="detail" class="muted"></p>'
        "<noscript><p>This page needs JavaScript to show progress; the connection goes on without it."
        "</p></noscript>"
        f"{_PROGRESS_SCRIPT}"
    )
    return HTMLResponse(_page("Connecting your district", body))
