/* Live updates for the 1-on-1s page, and copy buttons. Plain JavaScript, no library.

   While a sync of the person's calendar runs, the page polls its JSON status route and
   shows the progress in words; when the sync ends it fetches the page once more and puts
   the fresh content in place (no reload, no meta refresh). Without JavaScript the page
   says the same in words and offers a reload link. Loaded as a file from this site, so
   the Content-Security-Policy needs no inline script. */
(function () {
  "use strict";
  var POLL_MS = 1500;

  function live() { return document.getElementById("live"); }

  function announce(text) {
    var box = document.getElementById("live-announce");
    if (box) { box.textContent = text; }
  }

  function swapIn() {
    var region = live();
    var hadFocus = region && region.contains(document.activeElement);
    fetch(window.location.pathname, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live");
        if (!fresh || !live()) { return; }
        live().replaceWith(fresh);
        start();
        announce(fresh.getAttribute("data-done") || "Your calendar has been read.");
        if (hadFocus) {
          var heading = fresh.querySelector("h2");
          if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
        }
      })
      .catch(function () { setTimeout(swapIn, POLL_MS * 4); });
  }

  function poll(url) {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (state) {
        if (state.running) {
          var words = document.getElementById("sync-words");
          if (words && state.words) { words.textContent = state.words; }
          setTimeout(function () { poll(url); }, POLL_MS);
        } else {
          swapIn();
        }
      })
      .catch(function () { setTimeout(function () { poll(url); }, POLL_MS * 4); });
  }

  function start() {
    var region = live();
    wireCopyButtons(document);
    if (!region || region.getAttribute("data-running") !== "true") { return; }
    var reload = document.getElementById("sync-reload");
    if (reload) { reload.hidden = true; }  // this script updates the page itself
    setTimeout(function () { poll(region.getAttribute("data-status-url")); }, POLL_MS);
  }

  function wireCopyButtons(root) {
    var buttons = root.querySelectorAll("button[data-copy]");
    Array.prototype.forEach.call(buttons, function (button) {
      if (button.getAttribute("data-wired")) { return; }
      button.setAttribute("data-wired", "1");
      button.hidden = false;
      button.addEventListener("click", function () {
        var field = document.getElementById(button.getAttribute("data-copy"));
        if (!field) { return; }
        var done = function () {
          var status = document.getElementById(button.getAttribute("data-copy") + "-copied");
          if (status) { status.textContent = "Copied."; }
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(field.value).then(done);
        } else {
          field.select();
          if (document.execCommand("copy")) { done(); }
        }
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
