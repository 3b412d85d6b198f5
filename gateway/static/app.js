// Progressive enhancement only: while a sync runs, refresh its counters from the status JSON
// (written with textContent, never as markup), and reload once it ends. Without JavaScript the
// page refreshes itself (a <noscript> meta refresh) and every action is a plain form.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) { return; }
  var url = live.getAttribute("data-status-url");
  var statusLine = document.getElementById("progress-status");
  function show(data) {
    if (!data.run) { window.location.reload(); return false; }
    var run = data.run;
    statusLine.textContent = "Sync " + run.status + ": " + run.pages_applied + " of " +
      run.pages_published + " pages applied" + (run.crawling ? ", still reading from Clever." : ".");
    Object.keys(run.counters).forEach(function (kind) {
      var outcomes = run.counters[kind] || {};
      Object.keys(outcomes).forEach(function (outcome) {
        var cell = document.getElementById("live-" + kind + "-" + outcome);
        if (cell) { cell.textContent = String(outcomes[outcome]); }
      });
    });
    return true;
  }
  function poll() {
    fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (data) { if (show(data)) { window.setTimeout(poll, 1000); } })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
