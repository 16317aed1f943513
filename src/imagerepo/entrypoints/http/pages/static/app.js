// imagerepo pages: upload with progress and drag-and-drop, and live analysis status.
// Progressive enhancement only: every page works without this file. No inline script (the CSP forbids it).
"use strict";

(function () {
  document.documentElement.classList.add("js");

  // The same plain words as web.plain_message on the server.
  function plainMessage(status, body, maxBytes) {
    var err = (body && body.error) || {};
    var details = err.details || {};
    switch (err.code) {
      case "unsupported_media_type": return "This file is not an image. Choose a " + formatNames(details.accepted) + " photo.";
      case "quota_exceeded": return "You have reached your limit of " + details.limit + " images — delete one to upload more.";
      case "duplicate_image": return "You have already uploaded this exact image.";
      case "too_large": return "This file is too large: the limit is " + formatSize(details.limit_bytes || maxBytes) + ".";
      case "invalid_image": return "This image cannot be opened: " + (err.message || "it is damaged.");
      case "unauthenticated": return "Your session has ended. Sign in again, then upload.";
      case "service_unavailable": return "Storage is unavailable right now; nothing was saved. Try again shortly.";
    }
    if (status === 413) return "This file is too large: the limit is " + formatSize(maxBytes) + ".";
    if (status === 0) return "The connection was lost; nothing was saved. Try again.";
    return err.message || "The upload failed (HTTP " + status + ").";
  }

  var FORMAT_NAMES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WebP",
                      "image/heic": "HEIC", "image/avif": "AVIF"};
  function formatNames(types) {  // as domain.images.format_names says them
    var names = (types && types.length ? types : ["image/jpeg", "image/png", "image/gif", "image/webp"])
      .map(function (t) { return FORMAT_NAMES[t] || String(t).split("/")[1].toUpperCase(); });
    return names.length === 1 ? names[0] : names.slice(0, -1).join(", ") + " or " + names[names.length - 1];
  }

  function formatSize(n) {
    var units = ["bytes", "KB", "MB", "GB"], i = 0, size = Number(n) || 0;
    while (size >= 1024 && i < units.length - 1) { size /= 1024; i++; }
    return i === 0 ? size + " bytes" : size.toFixed(1) + " " + units[i];
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;  // textContent: file names are never parsed as HTML
    return node;
  }

  function refreshQuota() {
    var quota = document.getElementById("quota");
    if (!quota) return;
    fetch("/api/v1/me", { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (me) { if (me) quota.textContent = me.quota.used + " of " + me.quota.limit + " used"; });
  }

  // Replaces (or adds, at the top) the server-rendered card of one image.
  function showCard(id, prepend) {
    return fetch("/images/" + encodeURIComponent(id) + "/card", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var tpl = document.createElement("template");
        tpl.innerHTML = html.trim();
        var fresh = tpl.content.firstElementChild;
        var old = document.getElementById("card-" + id);
        var grid = document.getElementById("grid");
        if (old) old.replaceWith(fresh);
        else if (prepend && grid) { grid.prepend(fresh); var empty = document.getElementById("empty"); if (empty) empty.remove(); }
        else return;
        watch(fresh);
      });
  }

  // Replaces the analysis part of the detail page in place; the original image and the forms stay as they are.
  function showPanel(detail) {
    var id = detail.getAttribute("data-id");
    return fetch("/images/" + encodeURIComponent(id) + "/panel", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        var old = document.getElementById("analysis-body");
        if (html === null || !old) return;
        var tpl = document.createElement("template");
        tpl.innerHTML = html.trim();
        var fresh = tpl.content.firstElementChild;
        var status = fresh.getAttribute("data-status");
        old.replaceWith(fresh);
        detail.setAttribute("data-status", status);
        var img = detail.querySelector(".original img");
        if (img) img.alt = fresh.getAttribute("data-alt");  // the description is the alt text
        var live = document.getElementById("analysis-live");
        if (live) live.textContent = status === "failed" ? "The analysis failed." : "Analysis finished.";
        watch(detail);  // still pending (a re-run began meanwhile): keep watching
      });
  }

  // ---- live analysis status: poll the API while an image is pending
  function watch(node) {
    if (!node || node.getAttribute("data-status") !== "pending") return;
    var id = node.getAttribute("data-id"), delay = 800;
    function poll() {
      fetch("/api/v1/images/" + encodeURIComponent(id), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (image) {
          if (!image) return;
          if (image.analysis.status === "pending") { delay = Math.min(delay * 1.5, 5000); setTimeout(poll, delay); return; }
          if (node.id === "detail") showPanel(node);
          else showCard(id, false);
        })
        .catch(function () { setTimeout(poll, 5000); });
    }
    setTimeout(poll, delay);
  }

  // ---- uploads: one XHR per file to the API, one after another, each with its own progress bar
  function setUpUpload() {
    var form = document.getElementById("upload-form");
    if (!form) return;
    var input = document.getElementById("file");
    var zone = document.getElementById("dropzone");
    var list = document.getElementById("uploads");
    var maxBytes = Number(form.getAttribute("data-max-bytes")) || 0;
    var queue = [], busy = false;

    function enqueue(files) {
      for (var i = 0; i < files.length; i++) {
        var row = el("li", "pending");
        row.appendChild(el("span", "name", files[i].name));
        var bar = el("progress");
        bar.max = 100; bar.value = 0;
        bar.setAttribute("aria-label", "Upload progress of " + files[i].name);
        row.appendChild(bar);
        row.appendChild(el("span", "msg", "Waiting…"));
        list.appendChild(row);
        queue.push({ file: files[i], row: row, bar: bar });
      }
      next();
    }

    function finish(item, ok, message) {
      item.row.className = ok ? "ok" : "error";
      item.row.querySelector(".msg").textContent = message;
      if (!ok) item.row.setAttribute("role", "alert");
      item.bar.remove();
      busy = false;
      next();
    }

    function next() {
      if (busy || queue.length === 0) return;
      busy = true;
      var item = queue.shift();
      var msg = item.row.querySelector(".msg");
      if (maxBytes && item.file.size > maxBytes) {
        finish(item, false, "This file is too large: the limit is " + formatSize(maxBytes) + ".");
        return;
      }
      msg.textContent = "Uploading…";
      var data = new FormData();
      data.append("file", item.file, item.file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/v1/images");
      xhr.withCredentials = true;
      xhr.responseType = "json";
      xhr.upload.onprogress = function (e) { if (e.lengthComputable) item.bar.value = Math.round(100 * e.loaded / e.total); };
      xhr.onload = function () {
        if (xhr.status === 201) {
          item.bar.value = 100;
          finish(item, true, "Uploaded.");
          showCard(xhr.response.id, true);
          refreshQuota();
        } else {
          finish(item, false, plainMessage(xhr.status, xhr.response, maxBytes));
        }
      };
      xhr.onerror = function () { finish(item, false, plainMessage(0, null, maxBytes)); };
      xhr.send(data);
    }

    // "Choose photos" and "Take a photo" (the phone's camera): both go the same way.
    var inputs = [input, document.getElementById("camera")].filter(Boolean);
    function takeChosen() {
      inputs.forEach(function (i) { if (i.files.length) { enqueue(i.files); i.value = ""; } });
    }
    form.addEventListener("submit", function (e) { e.preventDefault(); takeChosen(); });
    inputs.forEach(function (i) { i.addEventListener("change", takeChosen); });
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (type) {
      zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (e) {
      if (e.dataTransfer && e.dataTransfer.files.length) enqueue(e.dataTransfer.files);
    });
  }

  // The installable app: the service worker keeps the app shell only (see /sw.js).
  if ("serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () { /* the site works without it */ });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpUpload();
    document.querySelectorAll(".card[data-status=pending]").forEach(watch);
    watch(document.getElementById("detail"));
  });
})();
