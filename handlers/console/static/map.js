// The map: grids with their backlog, stations, and the reports of the viewport from /console/api/map — single
// points (clustered in the browser) when there are few, the server's cells when there are many.
(function () {
  "use strict";
  var data = window.consoleData || JSON.parse(document.getElementById("console-data").textContent);
  var T = data.texts;
  var COLOURS = { forwarded: "#f08c00", transferred: "#b5179e", reopened: "#7048e8", accepted: "#1c7ed6",
                  resolved: "#2b8a3e", confirmed: "#868e96", rejected: "#495057", "new": "#f59f00", merged: "#adb5bd" };
  var map = L.map("map", { zoomControl: true, attributionControl: !!data.tiles, maxZoom: 19, minZoom: 3 });
  if (data.tiles) {
    L.tileLayer(data.tiles, { maxZoom: 19, attribution: data.attribution || "", subdomains: "1234" }).addTo(map);
  } else {
    document.getElementById("map").classList.add("plain-map");
  }
  var gridLayer = L.geoJSON(null, {
    style: function (f) {
      var p = f.properties, heavy = Math.min(1, p.open / 10);
      return { color: p.late ? "#d33" : "#1c7ed6", weight: p.late ? 2.5 : 1.5, fillOpacity: 0.08 + 0.3 * heavy,
               fillColor: p.late ? "#ff6b6b" : "#4dabf7" };
    },
    onEachFeature: function (f, layer) {
      var p = f.properties;
      var label = T.grid.replace("{name}", p.name).replace("{open}", p.open).replace("{late}", p.late);
      layer.bindTooltip(label, { sticky: true });
    }
  }).addTo(map);
  var stations = L.layerGroup().addTo(map);
  (data.stations || []).forEach(function (s) {
    L.circleMarker([s.lat, s.lon], { radius: 5, color: "#0b7285", fillColor: "#15aabf", fillOpacity: 0.9, weight: 1 })
      .bindTooltip(s.name).addTo(stations);
  });
  var points = L.markerClusterGroup({ maxClusterRadius: 40, chunkedLoading: true });
  var cells = L.layerGroup();
  map.addLayer(points);
  map.addLayer(cells);

  function reportMarker(p) {
    var colour = COLOURS[p.status] || "#555";
    var html = '<span class="pin' + (p.late ? " late" : "") + '" style="background:' + colour + '"></span>';
    var m = L.marker([p.lat, p.lon], {
      icon: L.divIcon({ html: html, className: "report-pin", iconSize: [18, 18] }), title: p.ref, alt: p.ref
    });
    m.bindTooltip(p.ref + " · " + (T.status[p.status] || p.status) + (p.late ? " · " + T.late : ""));
    m.on("click", function () { location.href = data.api.report + p.id; });
    m.on("add", function () { var el = m.getElement(); if (el) el.dataset.ref = p.ref; });
    return m;
  }
  function cellMarker(c) {
    var size = Math.min(60, 22 + Math.log(c.n + 1) * 6);
    var html = '<div class="cell' + (c.late ? " has-late" : "") + '" style="width:' + size + "px;height:" + size +
      "px;line-height:" + size + 'px">' + c.n + "</div>";
    return L.marker([c.lat, c.lon], { icon: L.divIcon({ html: html, className: "cell-icon", iconSize: [size, size] }) })
      .on("click", function () { map.setView([c.lat, c.lon], map.getZoom() + 2); });
  }
  function query(extra) {
    var params = new URLSearchParams(data.filters || {});
    Object.keys(extra || {}).forEach(function (k) { params.set(k, extra[k]); });
    return params.toString();
  }
  var seq = 0;
  function loadReports() {
    var b = map.getBounds(), mine = ++seq;
    var bbox = [Math.max(-90, b.getSouth()), Math.max(-180, b.getWest()), Math.min(90, b.getNorth()), Math.min(180, b.getEast())]
      .map(function (v) { return v.toFixed(6); }).join(",");
    fetch(data.api.map + "?" + query({ bbox: bbox, zoom: map.getZoom() }), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (res) {
        if (mine !== seq) return; // an older answer after a newer request
        points.clearLayers();
        cells.clearLayers();
        if (res.points) points.addLayers(res.points.map(reportMarker));
        if (res.clusters) res.clusters.forEach(function (c) { cells.addLayer(cellMarker(c)); });
        var count = document.getElementById("count");
        if (count) count.textContent = T.count.replace("{n}", res.count);
        document.body.dataset.mapLoaded = String(mine);
      });
  }
  function loadGrids(fit) {
    return fetch(data.api.grids, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (fc) {
      gridLayer.clearLayers();
      gridLayer.addData(fc);
      if (fit) {
        var bounds = gridLayer.getBounds();
        stations.eachLayer(function (l) { if (!bounds.isValid()) bounds = L.latLngBounds(l.getLatLng(), l.getLatLng()); });
        if (bounds.isValid()) map.fitBounds(bounds, { padding: [20, 20] }); else map.setView([34.26, 117.18], 12);
      }
    });
  }
  loadGrids(true).then(function () {
    if (data.focus) map.setView(data.focus, 17);
    map.on("moveend", loadReports);
    loadReports();
  });
  document.addEventListener("console:change", function () { loadGrids(false); loadReports(); });
})();
