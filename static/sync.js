/* The run page's live progress: polls the progress JSON (data-progress-url) and updates the page in
   place (elements marked data-live / data-count) until the run ends. Loaded with <script src> only:
   the Content-Security-Policy allows no inline script. */
(function () {
  "use strict";

  var root = document.querySelector("[data-progress-url]");
  if (!root || !window.fetch) {
    return;
  }
  var url = root.getAttribute("data-progress-url");
  var every = parseInt(root.getAttribute("data-poll-ms"), 10) || 2000;
  var failures = 0;
  var HEADLINE_CLASS = { failed: "callout danger", partial: "callout" };

  function live(name) {
    return root.querySelector('[data-live="' + name + '"]');
  }

  function setText(name, text) {
    var element = live(name);
    if (element && text !== undefined && text !== null) {
      element.textContent = String(text);
    }
    return element;
  }

  function showText(name, text) {
    var element = live(name);
    if (element) {
      element.textContent = text || "";
      element.hidden = !text;
    }
  }

  function update(data) {
    root.setAttribute("data-status", data.status);
    var badge = live("badge");
    if (badge) {
      var span = badge.querySelector(".badge") || badge;
      span.className = "badge badge-" + data.tone;
      span.textContent = data.status_label;
    }
    var headline = setText("headline", data.headline);
    if (headline) {
      headline.className = HEADLINE_CLASS[data.status] || "";
    }
    showText("waiting", data.waiting ? data.waiting.message : "");
    showText("notice", data.notice);
    var bar = live("bar");
    if (bar) {
      bar.max = data.bar_max;
      bar.value = data.bar_value;
      bar.textContent = data.percent + " %";
    }
    setText("bar_label", data.bar_label);
    setText("rate", data.rate);
    setText("eta", data.eta);
    var counts = data.counts || {};
    counts.customers = data.customers;
    Object.keys(counts).forEach(function (key) {
      root.querySelectorAll('[data-count="' + key + '"]').forEach(function (element) {
        element.textContent = String(counts[key]);
      });
    });
    if (data.finished) {
      var note = live("auto_refresh");
      if (note) {
        note.hidden = true;
      }
      var ended = live("ended");
      if (ended) {
        ended.hidden = false;
      }
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        failures = 0;
        update(data);
        if (!data.finished) {
          window.setTimeout(poll, every);
        }
      })
      .catch(function () {
        failures += 1;  // a restart or a lost connection: try again more slowly, then give up
        if (failures < 10) {
          window.setTimeout(poll, every * Math.min(failures + 1, 5));
        }
      });
  }

  window.setTimeout(poll, every);
})();
