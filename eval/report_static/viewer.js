// thinseg export review: one image with its blobs. The overlay is drawn from the blob id
// map (a PNG embedded as a data URI, so the page works from the file system).
// Hash: #blob=ID selects a blob, #at=X,Y the blob under view pixel (X, Y), #overlay=on|outlines|off.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("data").textContent);
  var info = document.getElementById("info");
  var canvas = document.getElementById("overlay");
  var ids = null, mount = null, mode = "on", selected = 0, W = D.view_w, H = D.view_h;

  function colour(id) {
    var b = D.blobs[id];
    return D.palette[(b ? b[0] : 0) % D.palette.length];
  }
  function show(id, how) {
    var b = D.blobs[id];
    Array.prototype.forEach.call(document.querySelectorAll("#blobs tr.sel"), function (r) { r.classList.remove("sel"); });
    if (!b) {
      info.textContent = id > 0 ? "No blob " + id + " in this image." : "Background (no blob) " + (how || "");
      return;
    }
    info.textContent = "";
    var h = document.createElement("b");
    h.textContent = "Blob " + id;
    info.appendChild(h);
    info.appendChild(document.createTextNode(
      " · " + b[4] + " · area " + b[1] + " px · centroid row " + b[2] + ", col " + b[3]));
    info.setAttribute("data-blob", String(id));
    var row = document.getElementById("b" + id);
    if (row) { row.classList.add("sel"); if (how === "click") row.scrollIntoView({block: "nearest"}); }
  }
  function draw() {
    if (!canvas || !ids) return;
    var ctx = canvas.getContext("2d");
    var img = ctx.createImageData(W, H), px = img.data;
    if (mode !== "off") {
      for (var y = 0; y < H; y++) {
        for (var x = 0; x < W; x++) {
          var i = y * W + x, id = ids[i], o = i * 4;
          if (id === 0) {
            if (mount && mount[i] && mode === "on") { px[o] = D.mount_rgb[0]; px[o + 1] = D.mount_rgb[1]; px[o + 2] = D.mount_rgb[2]; px[o + 3] = 90; }
            continue;
          }
          var edge = (x > 0 && ids[i - 1] !== id) || (x < W - 1 && ids[i + 1] !== id) ||
                     (y > 0 && ids[i - W] !== id) || (y < H - 1 && ids[i + W] !== id);
          var c = id === selected ? [255, 255, 255] : colour(id);
          if (edge) { px[o] = c[0]; px[o + 1] = c[1]; px[o + 2] = c[2]; px[o + 3] = 255; }
          else if (mode === "on" || id === selected) { px[o] = c[0]; px[o + 1] = c[1]; px[o + 2] = c[2]; px[o + 3] = id === selected ? 120 : 90; }
        }
      }
    }
    ctx.putImageData(img, 0, 0);
  }
  function decode(src, cb) {
    if (!src) { cb(null); return; }
    var im = new Image();
    im.onload = function () {
      try {
        var c = document.createElement("canvas");
        c.width = W; c.height = H;
        var x = c.getContext("2d");
        x.drawImage(im, 0, 0);
        cb(x.getImageData(0, 0, W, H).data);
      } catch (e) { info.textContent = "Blob lookup unavailable in this browser (" + e.name + "); use the table."; cb(null); }
    };
    im.src = src;
  }
  function idAt(x, y) {
    if (!ids) return 0;
    x = Math.max(0, Math.min(W - 1, Math.floor(x))); y = Math.max(0, Math.min(H - 1, Math.floor(y)));
    return ids[y * W + x];
  }
  function viewXY(ev) {
    var r = canvas.getBoundingClientRect();
    return [(ev.clientX - r.left) * W / r.width, (ev.clientY - r.top) * H / r.height];
  }
  function select(id) { selected = id; show(id, "click"); draw(); }
  function readHash() {
    var p = new URLSearchParams(location.hash.slice(1));
    if (p.has("overlay")) {
      mode = p.get("overlay");
      var r = document.querySelector('input[name=overlay][value="' + (["on", "off", "outlines"].indexOf(mode) >= 0 ? mode : "on") + '"]');
      if (r) r.checked = true;
    }
    if (p.has("blob")) {
      var v = p.get("blob"), id = parseInt(v.slice(v.lastIndexOf(":") + 1), 10);  // "3" or "NAME:3"
      if (id >= 0) select(id);
    } else if (p.has("at") && ids) {
      var xy = p.get("at").split(",");
      var at = idAt(parseFloat(xy[0]), parseFloat(xy[1]));
      selected = at; show(at, "at " + p.get("at")); draw();
    }
    draw();
  }
  Array.prototype.forEach.call(document.querySelectorAll("input[name=overlay]"), function (r) {
    r.addEventListener("change", function () { mode = r.value; draw(); });
  });
  Array.prototype.forEach.call(document.querySelectorAll("#blobs tbody tr"), function (r) {
    r.addEventListener("click", function () { select(parseInt(r.getAttribute("data-id"), 10)); history.replaceState(null, "", "#blob=" + selected); });
  });
  if (canvas) {
    canvas.addEventListener("mousemove", function (ev) { var p = viewXY(ev), id = idAt(p[0], p[1]); if (id) show(id, "hover"); });
    canvas.addEventListener("mouseleave", function () { if (selected) show(selected); });
    canvas.addEventListener("click", function (ev) {
      var p = viewXY(ev), id = idAt(p[0], p[1]);
      select(id);
      history.replaceState(null, "", id ? "#blob=" + id : location.pathname);
    });
  }
  window.addEventListener("hashchange", readHash);
  readHash();  // #blob= works before the id map is decoded
  decode(D.ids, function (rgba) {
    if (rgba) {
      ids = new Int32Array(W * H);
      for (var i = 0; i < W * H; i++) {
        var o = i * 4;
        ids[i] = D.enc === "RGB" ? rgba[o] + 256 * rgba[o + 1] + 65536 * rgba[o + 2] : rgba[o];
      }
    }
    decode(D.mount, function (m) {
      if (m) { mount = new Uint8Array(W * H); for (var i = 0; i < W * H; i++) mount[i] = m[i * 4] > 127 ? 1 : 0; }
      readHash();
      document.body.setAttribute("data-ready", ids ? "ids" : "no-ids");
    });
  });
})();
