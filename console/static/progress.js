// Notice page: poll the progress endpoint and update the bar until the run ends.
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box) { return; }
  var url = box.getAttribute("data-url");
  var bars = box.querySelectorAll(".bar");
  var text = document.getElementById("progress-text");
  var state = document.getElementById("notice-status");
  var last = null;
  var running = { queued: true, sending: true };

  function eta(seconds) {
    if (seconds === null || seconds === undefined) { return ""; }
    if (seconds < 60) { return "，预计还需 " + seconds + " 秒"; }
    return "，预计还需 " + Math.ceil(seconds / 60) + " 分钟";
  }

  function show(p) {
    bars[0].style.width = p.segments.sent + "%";
    bars[1].style.width = p.segments.failed + "%";
    bars[2].style.width = p.segments.cancelled + "%";
    var now = Date.now() / 1000;
    var done = p.sent + p.failed;
    var rate = p.rate;
    if (last && now > last.t) { rate = Math.max(0, (done - last.done) / (now - last.t)); }
    last = { t: now, done: done };
    text.textContent = p.percent + "%　已发送 " + p.sent + " · 失败 " + p.failed +
      (p.pending ? " · 待发送 " + p.pending : "") +
      (p.cancelled ? " · 已取消（未发送） " + p.cancelled : "") +
      " · 共 " + p.total + "　速率 " + rate.toFixed(1) + " 条/秒" +
      (p.status === "sending" ? eta(p.eta_seconds) : "");
    if (state) { state.textContent = p.status_label; state.className = "tag " + p.status; }
    var reason = document.getElementById("stop-reason");
    if (reason) { reason.textContent = p.stop_reason || ""; }
    return running[p.status] === true;
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (p) {
        // Another status has other buttons: reload the page as soon as it changes.
        if (box.getAttribute("data-status") !== p.status) { setTimeout(function () { location.reload(); }, 800); }
        else if (show(p)) { setTimeout(poll, 1000); }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  poll();
})();
