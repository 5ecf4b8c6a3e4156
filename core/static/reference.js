// Record-reference inputs (widget "reference"): suggestions from the referenced entity's list API as the user
// types; choosing one fills the hidden id input. Typing again clears the id, so the server resolves the title
// (as it does without JavaScript). Keyboard: arrows move, Enter chooses, Escape closes. Touch: tap a suggestion.
(function () {
  "use strict";

  function setup(box) {
    var url = box.getAttribute("data-reference-url");
    var titleField = box.getAttribute("data-reference-title") || "name";
    var hidden = box.querySelector("[data-reference-id]");
    var input = box.querySelector("[data-reference-input]");
    var list = box.querySelector(".reference-suggestions");
    if (!url || !hidden || !input || !list) return;
    var timer = null;
    var active = -1;
    var items = [];
    var request = 0;

    function close() {
      list.hidden = true;
      list.innerHTML = "";
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
      items = [];
    }

    function choose(index) {
      var item = items[index];
      if (!item) return;
      hidden.value = String(item.id);
      input.value = item.title;
      close();
    }

    function highlight(index) {
      var options = list.querySelectorAll("li[role=option]");
      options.forEach(function (li, i) {
        li.setAttribute("aria-selected", i === index ? "true" : "false");
      });
      active = index;
      if (options[index]) input.setAttribute("aria-activedescendant", options[index].id);
    }

    function render(rows) {
      list.innerHTML = "";
      items = rows;
      if (!rows.length) {
        var none = document.createElement("li");
        none.className = "reference-none";
        none.textContent = box.getAttribute("data-reference-empty") || "";
        list.appendChild(none);
      }
      rows.forEach(function (row, i) {
        var li = document.createElement("li");
        li.setAttribute("role", "option");
        li.id = input.id + "-option-" + i;
        li.textContent = row.title;
        li.addEventListener("mousedown", function (event) {
          event.preventDefault(); // keep the focus in the input
          choose(i);
        });
        list.appendChild(li);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      active = -1;
    }

    function search() {
      var text = input.value.trim();
      if (!text || text.charAt(0) === "#") {
        close();
        return;
      }
      var mine = ++request;
      var address = url + (url.indexOf("?") < 0 ? "?" : "&") + "q=" + encodeURIComponent(text) + "&limit=8";
      fetch(address, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.ok ? response.json() : { data: [] };
        })
        .then(function (body) {
          if (mine !== request) return; // an answer to an older keystroke
          render(
            (body.data || []).map(function (row) {
              return { id: row.id, title: String(row[titleField] || "#" + row.id) };
            })
          );
        })
        .catch(close);
    }

    input.addEventListener("input", function () {
      hidden.value = ""; // the typed text decides until a suggestion is chosen
      clearTimeout(timer);
      timer = setTimeout(search, 200);
    });
    input.addEventListener("keydown", function (event) {
      if (list.hidden) return;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        highlight(Math.min(active + 1, items.length - 1));
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        highlight(Math.max(active - 1, 0));
      } else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        choose(active);
      } else if (event.key === "Escape") {
        close();
      }
    });
    input.addEventListener("blur", function () {
      setTimeout(close, 150);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".reference-picker").forEach(setup);
  });
})();
