// sipbridge console: live updates over server-sent events and running
// durations. Plain JavaScript, no build step.
(function () {
  "use strict";
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function tickDurations() {
    var now = Math.floor(Date.now() / 1000);
    document.querySelectorAll(".duration[data-since]").forEach(function (el) {
      var s = Math.max(0, now - parseInt(el.getAttribute("data-since"), 10));
      el.textContent = Math.floor(s / 60) + ":" + pad(s % 60);
    });
  }
  // live opens the page's stream (query: "page=…" and the page's own
  // parameters); each event replaces the element whose data-part is its name.
  function live(query) {
    var parts = document.querySelectorAll("[data-part]");
    if (!parts.length || !window.EventSource) { return; }
    var es = new EventSource("/console/events?" + query);
    parts.forEach(function (el) {
      es.addEventListener(el.getAttribute("data-part"), function (e) {
        el.innerHTML = e.data;
        tickDurations();
      });
    });
    es.addEventListener("signedout", function () {
      es.close();
      window.location.href = "/console/signin";
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    tickDurations();
    setInterval(tickDurations, 1000);
    var query = document.body.getAttribute("data-live");
    if (query) { live(query); }
  });
})();
