// Live updates (server-sent events): when any report changes, refetch this page and swap in the part named by
// data.refresh (the queue's table, the numbers), or tell the map to reload its layers. No inline script: CSP.
(function () {
  "use strict";
  var node = document.getElementById("console-data");
  var data = node ? JSON.parse(node.textContent) : {};
  window.consoleData = data;
  if (!data.live || !window.EventSource) return;
  var badge = document.getElementById("live");
  var pending = null;
  function refresh() {
    if (data.refresh) {
      fetch(location.href, { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector(data.refresh), old = document.querySelector(data.refresh);
        if (fresh && old) old.replaceWith(fresh);
      });
    }
    document.dispatchEvent(new CustomEvent("console:change"));
  }
  var source = new EventSource(data.live);
  source.addEventListener("hello", function () { if (badge) badge.hidden = false; });
  source.addEventListener("change", function () {
    clearTimeout(pending);
    pending = setTimeout(refresh, 300); // a burst of changes, one refetch
  });
  source.onerror = function () { if (badge) badge.hidden = true; };
})();
