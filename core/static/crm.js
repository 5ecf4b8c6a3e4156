// Guanxi: small progressive enhancements. Everything works without this file.
(function () {
  "use strict";

  // Close the menu when the user clicks outside it or presses Escape.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.menu-toggle[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) { menu.removeAttribute("open"); }
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    document.querySelectorAll("details.menu-toggle[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      menu.querySelector("summary").focus();
    });
  });

  // Panels with a lazy URL load their content after the page.
  document.querySelectorAll("[data-lazy-url]").forEach(function (panel) {
    fetch(panel.getAttribute("data-lazy-url"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (html) {
        var body = panel.querySelector(".panel-body");
        body.innerHTML = html;
        body.removeAttribute("aria-busy");
      })
      .catch(function () { panel.querySelector(".panel-body").removeAttribute("aria-busy"); });
  });

  // Confirm destructive buttons.
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });

  // "Select all on this page" ticks every row checkbox of its form (the server also reads it without this).
  document.querySelectorAll("input[data-select-all]").forEach(function (all) {
    var name = all.getAttribute("data-select-all");
    var boxes = all.form ? all.form.querySelectorAll('input[type="checkbox"][name="' + name + '"]') : [];
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
    });
    boxes.forEach(function (box) {
      box.addEventListener("change", function () {
        if (!box.checked) { all.checked = false; }
      });
    });
  });

  // Progress bars poll their job until it finishes.
  document.querySelectorAll("[data-job-url]").forEach(function (box) {
    var bar = box.querySelector("progress");
    var text = box.querySelector(".job-message");
    function poll() {
      fetch(box.getAttribute("data-job-url"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (job) {
          bar.value = job.percent;
          if (text) { text.textContent = job.message || job.status; }
          if (job.status === "finished" || job.status === "failed") {
            box.setAttribute("data-status", job.status);
            if (box.getAttribute("data-reload")) { window.location.reload(); }
          } else {
            window.setTimeout(poll, 1000);
          }
        });
    }
    poll();
  });
})();
