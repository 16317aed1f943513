// imagerepo's service worker: keeps the app shell (style, script, icons, the offline page) for a
// fast start and an offline notice. It never stores a page, an image or an API answer: those are
// one signed-in user's data, and a shared phone must not keep them after sign-out.
"use strict";

var CACHE = "imagerepo-shell-v1";
var SHELL = /*SHELL*/[];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(SHELL); })
    .then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n !== CACHE; })
      .map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;  // the network, untouched
  if (SHELL.indexOf(url.pathname) !== -1) {
    // The shell: from the cache, refreshed in the background for the next start.
    event.respondWith(caches.open(CACHE).then(function (cache) {
      return cache.match(request).then(function (hit) {
        var fresh = fetch(request).then(function (response) {
          if (response.ok) cache.put(request, response.clone());
          return response;
        });
        return hit || fresh;
      });
    }));
    return;
  }
  if (request.mode === "navigate") {
    // Pages come from the network only; offline, a notice instead of the browser's error.
    event.respondWith(fetch(request).catch(function () {
      return caches.match("/static/offline.html");
    }));
  }
});
