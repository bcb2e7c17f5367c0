// The deadline countdown on a report's page, ticking once a minute.
(function () {
  "use strict";
  var data = window.consoleData || JSON.parse((document.getElementById("console-data") || {}).textContent || "{}");
  var texts = data.texts || {};
  // The server's clock decides what is late; count from it, not from this device's clock.
  var skew = data.now ? new Date(data.now) - Date.now() : 0;
  function fmt(minutes) {
    minutes = Math.abs(Math.floor(minutes));
    var zh = document.documentElement.lang === "zh-CN";
    if (minutes < 60) return minutes + (zh ? " 分钟" : " min");
    if (minutes < 1440) return Math.floor(minutes / 60) + (zh ? " 小时 " : " h ") + (minutes % 60) + (zh ? " 分" : " min");
    return Math.floor(minutes / 1440) + (zh ? " 天 " : " d ") + Math.floor((minutes % 1440) / 60) + (zh ? " 小时" : " h");
  }
  function tick() {
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var minutes = (new Date(el.dataset.due) - (Date.now() + skew)) / 60000;
      if (isNaN(minutes)) return;
      var template = minutes >= 0 ? texts.left : texts.over;
      if (template) el.textContent = template.replace("{time}", fmt(minutes));
      el.parentElement.classList.toggle("over", minutes < 0);
    });
  }
  tick();
  setInterval(tick, 60000);
  // A change to any report: offer the fresh page rather than moving the form under the person's fingers.
  document.addEventListener("console:change", function () {
    var focused = document.activeElement && /INPUT|SELECT|TEXTAREA/.test(document.activeElement.tagName);
    if (!focused) location.reload();
  });
})();
