/* The kanban board: drag a card to another column (desktop), pick the reason in a dialog when the column is a
   lost stage, and load more cards as a column scrolls. Without JavaScript every card has its own move form and
   every column a "Load more" link, which keep working. */
(function () {
  "use strict";
  var board = document.getElementById("board");
  if (!board) { return; }
  var csrf = board.getAttribute("data-csrf");
  var filters = JSON.parse(board.getAttribute("data-filters") || "{}");
  var status = document.getElementById("board-status");
  var dialog = document.getElementById("board-lost-dialog");
  var number = new Intl.NumberFormat(document.documentElement.lang || undefined, { maximumFractionDigits: 2 });
  var dragged = null;

  function say(message, isError) {
    status.textContent = message;
    status.classList.remove("visually-hidden");
    status.classList.toggle("flash-error", !!isError);
    status.classList.toggle("flash-success", !isError);
    status.classList.add("flash");
  }

  function list(stageId) {
    return board.querySelector(".board-cards[data-stage-id='" + stageId + "']");
  }

  function updateTotals(totals) {
    Object.keys(totals).forEach(function (stageId) {
      var column = board.querySelector(".board-column[data-stage-id='" + stageId + "']");
      if (!column) { return; }
      ["count", "amount", "weighted"].forEach(function (name) {
        var cell = column.querySelector("[data-total='" + name + "']");
        if (cell) { cell.textContent = number.format(Number(totals[stageId][name])); }
      });
    });
  }

  function place(card, stageId) {
    var target = list(stageId);
    var more = target.querySelector(".board-more-item");
    target.insertBefore(card, more);
  }

  function syncCard(card, data) {
    card.setAttribute("data-version", data.version);
    var version = card.querySelector("input[name=version]");
    if (version) { version.value = data.version; }
    var select = card.querySelector("select[name=stage_id]");
    if (select) { select.value = String(data.stage_id); }
  }

  function send(card, stageId, reason, note) {
    var from = card.parentNode;
    var before = card.nextSibling;
    place(card, stageId);  // optimistic: it snaps back below when the server refuses
    card.setAttribute("aria-busy", "true");
    fetch(card.getAttribute("data-move-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({
        stage_id: Number(stageId), version: Number(card.getAttribute("data-version")),
        lost_reason: reason || null, lost_note: note || null, filters: filters
      })
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (result) {
      card.removeAttribute("aria-busy");
      if (result.ok) {
        syncCard(card, result.body.card);
        updateTotals(result.body.totals);
        say(result.body.message, false);
        return;
      }
      from.insertBefore(card, before);
      if (result.body.card) { syncCard(card, result.body.card); }
      var message = (result.body.error && result.body.error.message) || board.getAttribute("data-error");
      say(message, true);
    }).catch(function () {
      card.removeAttribute("aria-busy");
      from.insertBefore(card, before);
      say(board.getAttribute("data-error"), true);
    });
  }

  function askReason(card, stageId) {
    if (!dialog || typeof dialog.showModal !== "function") {
      // No dialog element: the form's own page asks for the reason.
      var form = card.querySelector("form.board-move");
      if (form) { form.querySelector("select[name=stage_id]").value = stageId; form.submit(); }
      return;
    }
    var form = dialog.querySelector("form");
    form.reset();
    dialog.returnValue = "";
    dialog.showModal();
    dialog.addEventListener("close", function handler() {
      dialog.removeEventListener("close", handler);
      if (dialog.returnValue !== "confirm") { return; }
      send(card, stageId, form.elements.lost_reason.value, form.elements.lost_note.value);
    });
  }

  function move(card, stageId, kind) {
    if (String(card.parentNode.getAttribute("data-stage-id")) === String(stageId)) { return; }
    if (kind === "lost") { askReason(card, stageId); } else { send(card, stageId); }
  }

  board.classList.add("board-dnd");
  board.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".board-card");
    if (!card) { return; }
    dragged = card;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.getAttribute("data-id"));
    card.classList.add("dragging");
  });
  board.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("dragging"); }
    board.querySelectorAll(".drop-target").forEach(function (c) { c.classList.remove("drop-target"); });
  });
  board.querySelectorAll(".board-column").forEach(function (column) {
    column.addEventListener("dragover", function (event) {
      if (!dragged) { return; }
      event.preventDefault();
      column.classList.add("drop-target");
    });
    column.addEventListener("dragleave", function () { column.classList.remove("drop-target"); });
    column.addEventListener("drop", function (event) {
      event.preventDefault();
      column.classList.remove("drop-target");
      if (dragged) { move(dragged, column.getAttribute("data-stage-id"), column.getAttribute("data-kind")); }
      dragged = null;
    });
  });

  // A reason is required in the dialog before "Mark lost" closes it.
  if (dialog) {
    dialog.querySelector("form").addEventListener("submit", function (event) {
      var reason = dialog.querySelector("select[name=lost_reason]");
      var error = dialog.querySelector("[data-error-for=lost_reason]");
      if (event.submitter && event.submitter.value === "confirm" && !reason.value) {
        event.preventDefault();
        error.textContent = reason.validationMessage || "";
        error.hidden = false;
        reason.focus();
      } else if (event.submitter) {
        dialog.returnValue = event.submitter.value;
      }
    });
  }

  // More cards when a column's "Load more" link scrolls into view; the link itself is the fallback.
  function loadMore(link) {
    if (link.getAttribute("aria-busy")) { return; }
    link.setAttribute("aria-busy", "true");
    fetch(link.getAttribute("data-fragment-url"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { if (!response.ok) { throw new Error(String(response.status)); } return response.text(); })
      .then(function (html) {
        var item = link.closest(".board-more-item");
        var holder = document.createElement("template");
        holder.innerHTML = html;
        item.parentNode.replaceChild(holder.content, item);
        watch();
      })
      .catch(function () { link.removeAttribute("aria-busy"); });
  }
  var observer = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (entry.isIntersecting) { observer.unobserve(entry.target); loadMore(entry.target); }
    });
  }, { rootMargin: "200px" }) : null;
  function watch() {
    if (!observer) { return; }
    board.querySelectorAll(".board-more:not([data-watched])").forEach(function (link) {
      link.setAttribute("data-watched", "1");
      observer.observe(link);
    });
  }
  watch();
})();
