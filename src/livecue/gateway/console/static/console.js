// The livecue console's progressive enhancement: pages that follow changes live, and a
// copy button. Every page works without it. Updates never build HTML from data here: the
// page is fetched again, rendered (and escaped) by the server, and its live parts swapped.
(function () {
  "use strict";

  function follow(url) {
    var status = document.querySelector("[data-live-status]");
    var timer = null;
    var busy = false;
    var again = false;
    var source = new EventSource(url);

    function say(text) {
      if (status) status.textContent = text;
    }

    function schedule() {
      if (timer === null) timer = window.setTimeout(refresh, 200);
    }

    function swap(doc) {
      document.querySelectorAll("[data-live-region][id]").forEach(function (region) {
        var fresh = doc.getElementById(region.id);
        if (!fresh) return;
        var active = document.activeElement;
        var focused = active && region.contains(active) && active.id ? active.id : null;
        region.replaceWith(document.adoptNode(fresh));
        if (focused) {
          var target = document.getElementById(focused);
          if (target) target.focus();
        }
      });
    }

    function refresh() {
      timer = null;
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      fetch(window.location.href, { headers: { Accept: "text/html" }, cache: "no-store" })
        .then(function (response) {
          if (response.redirected && new URL(response.url).pathname.endsWith("/sign-in")) {
            window.location.assign(response.url);
            return null;
          }
          return response.ok ? response.text() : null;
        })
        .then(function (html) {
          if (html === null) return;
          swap(new DOMParser().parseFromString(html, "text/html"));
          say("Live: updated at " + new Date().toLocaleTimeString() + ".");
        })
        .catch(function () {
          say("Could not update; reload the page to see changes.");
        })
        .finally(function () {
          busy = false;
          if (again) {
            again = false;
            schedule();
          }
        });
    }

    source.addEventListener("open", function () {
      say("Live: this page updates as cues change.");
    });
    source.addEventListener("change", schedule);
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        // the server said 204: the session has ended, so the page sends us to sign in
        window.location.reload();
      } else {
        say("Reconnecting…");
      }
    });
    window.addEventListener("pagehide", function () {
      source.close();
    });
  }

  function copyButtons() {
    if (!navigator.clipboard) return;
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      var field = document.getElementById(button.getAttribute("data-copy"));
      if (!field) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(field.value).then(
          function () {
            button.textContent = "Copied";
          },
          function () {
            field.select();
          }
        );
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var live = document.body.getAttribute("data-live");
    if (live && window.EventSource) follow(live);
    copyButtons();
  });
})();
