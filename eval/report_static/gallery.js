// thinseg export review: gallery filters and sorting. The state lives in the URL hash
// (#q=..&light=..&status=..&min_blobs=..&max_blobs=..&min_mount=..&sort=..).
(function () {
  "use strict";
  var gallery = document.getElementById("gallery");
  if (!gallery) return;
  var cards = Array.prototype.slice.call(gallery.querySelectorAll(".card"));
  var keys = ["q", "light", "status", "min_blobs", "max_blobs", "min_mount", "sort"];
  var ctl = {};
  keys.forEach(function (k) { ctl[k] = document.getElementById(k); });
  function num(card, attr) { return parseFloat(card.getAttribute(attr)); }
  function readHash() {
    var s = location.hash.length > 1 ? location.hash.slice(1) : location.search.slice(1);
    var p = new URLSearchParams(s);
    if (p.has("filter") && !p.has("light")) p.set("light", p.get("filter"));  // #filter=uv
    keys.forEach(function (k) { if (ctl[k]) ctl[k].value = p.has(k) ? p.get(k) : (k === "sort" ? "name" : ""); });
  }
  function writeHash() {
    var p = new URLSearchParams();
    keys.forEach(function (k) { var v = ctl[k] && ctl[k].value; if (v && !(k === "sort" && v === "name")) p.set(k, v); });
    var h = p.toString();
    history.replaceState(null, "", h ? "#" + h : location.pathname + location.search);
  }
  function visible(c) {
    var q = ctl.q.value.trim().toLowerCase();
    if (q && c.getAttribute("data-name").indexOf(q) < 0) return false;
    if (ctl.light.value && c.getAttribute("data-light") !== ctl.light.value) return false;
    var st = ctl.status.value, status = c.getAttribute("data-status"), flags = c.getAttribute("data-flags").split(" ");
    if (st === "ok" && (status !== "ok" || c.getAttribute("data-flags"))) return false;
    if (st === "flagged" && (status !== "ok" || !c.getAttribute("data-flags"))) return false;
    if (st === "failed" && status !== "failed") return false;
    if (["zero", "big", "many", "mount"].indexOf(st) >= 0 && flags.indexOf(st) < 0) return false;
    var n = num(c, "data-blobs");
    if (ctl.min_blobs.value !== "" && !(n >= parseFloat(ctl.min_blobs.value))) return false;
    if (ctl.max_blobs.value !== "" && !(n >= 0 && n <= parseFloat(ctl.max_blobs.value))) return false;
    if (ctl.min_mount.value !== "" && !(num(c, "data-mount") * 100 >= parseFloat(ctl.min_mount.value))) return false;
    return true;
  }
  var sorters = {
    name: function (a, b) { return a.getAttribute("data-name") < b.getAttribute("data-name") ? -1 : 1; },
    blobs: function (a, b) { return num(a, "data-blobs") - num(b, "data-blobs"); },
    "-blobs": function (a, b) { return num(b, "data-blobs") - num(a, "data-blobs"); },
    "-share": function (a, b) { return num(b, "data-share") - num(a, "data-share"); },
    "-mount": function (a, b) { return num(b, "data-mount") - num(a, "data-mount"); },
    sil: function (a, b) { return num(a, "data-sil") - num(b, "data-sil"); },
    "-sec": function (a, b) { return num(b, "data-sec") - num(a, "data-sec"); },
    flagged: function (a, b) {
      function rank(c) { return c.getAttribute("data-status") === "failed" ? 0 : c.getAttribute("data-flags") ? 1 : 2; }
      return rank(a) - rank(b) || sorters.name(a, b);
    }
  };
  function apply(write) {
    var cmp = sorters[ctl.sort.value] || sorters.name;
    var order = cards.slice().sort(function (a, b) { return cmp(a, b) || sorters.name(a, b); });
    var shown = 0;
    order.forEach(function (c) {
      var v = visible(c);
      c.hidden = !v;
      shown += v ? 1 : 0;
      gallery.appendChild(c);
    });
    document.getElementById("shown").textContent = shown + " of " + cards.length + " images shown";
    document.getElementById("empty").hidden = shown > 0;
    if (write) writeHash();
  }
  keys.forEach(function (k) {
    if (!ctl[k]) return;
    ctl[k].addEventListener(k === "q" || k.indexOf("_") > 0 ? "input" : "change", function () { apply(true); });
  });
  document.getElementById("reset").addEventListener("click", function () {
    keys.forEach(function (k) { ctl[k].value = k === "sort" ? "name" : ""; });
    apply(true);
  });
  window.addEventListener("hashchange", function () { readHash(); apply(false); });
  readHash();
  apply(false);
})();
