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
  function live(page) {
    var target = document.getElementById("live");
    if (!target || !window.EventSource) { return; }
    var es = new EventSource("/console/events?page=" + encodeURIComponent(page));
    es.addEventListener(page, function (e) {
      target.innerHTML = e.data;
      tickDurations();
    });
    es.addEventListener("signedout", function () {
      es.close();
      window.location.href = "/console/signin";
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    tickDurations();
    setInterval(tickDurations, 1000);
    var page = document.body.getAttribute("data-live");
    if (page) { live(page); }
  });
})();
