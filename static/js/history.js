// History tab: columns rearranged by dragging (SortableJS) on the table heading or in the Columns
// panel, added/removed by dragging between the lists or with the +/× buttons. Every change is saved
// for the user (htmx POST) and the table comes back re-drawn in the new layout. Without a mouse, each
// shown column's ‹ and › buttons move it left or right; focus stays on the moved column's button and a
// screen reader hears where it went.
(function () {
  "use strict";

  function keysOf(container) {
    return Array.prototype.map.call(container.querySelectorAll("[data-col]"), function (el) {
      return el.dataset.col;
    });
  }

  function panelOpen() {
    var panel = document.getElementById("columns-panel");
    return !!(panel && panel.open);
  }

  function save(keys) {
    var results = document.getElementById("history-results");
    if (!results || !keys.length) return;
    window.htmx.ajax("POST", results.dataset.layoutUrl, {
      source: "#history-filters",
      values: { columns: keys.join(","), panel_open: panelOpen() ? "1" : "0" },
      target: "#history-results",
      swap: "outerHTML",
    });
  }

  function initHead(head) {
    if (!head || head.dataset.sortable) return;
    head.dataset.sortable = "1";
    window.Sortable.create(head, {
      animation: 150,
      direction: "horizontal",
      draggable: "th[data-col]",
      filter: ".fixed",
      forceFallback: true,
      fallbackOnBody: true,
      ghostClass: "col-ghost",
      chosenClass: "col-chosen",
      onEnd: function (evt) {
        if (evt.oldIndex === evt.newIndex) return;
        save(keysOf(head));
      },
    });
  }

  function initPanel(shown, available) {
    if (!shown || shown.dataset.sortable) return;
    shown.dataset.sortable = "1";
    var options = {
      group: "history-columns",
      animation: 150,
      draggable: ".chip",
      ghostClass: "chip-ghost",
      onEnd: function (evt) {
        var keys = keysOf(shown);
        if (!keys.length) {
          shown.appendChild(evt.item);
          window.pimsyToast && window.pimsyToast("Keep at least one column.", "error");
          return;
        }
        if (evt.from === evt.to && evt.oldIndex === evt.newIndex) return;
        save(keys);
      },
    };
    window.Sortable.create(shown, options);
    if (available) window.Sortable.create(available, options);
  }

  var pendingFocus = null;  // {col, action} of the button used, focused again once the panel is back

  function announce(text) {
    var live = document.getElementById("columns-announce");
    if (!live) {
      live = document.createElement("p");
      live.id = "columns-announce";
      live.className = "sr-only";
      live.setAttribute("aria-live", "polite");
      document.body.appendChild(live);
    }
    live.textContent = text;
  }

  function onChipButton(event) {
    var button = event.target.closest(".chip-btn");
    if (!button) return;
    var chip = button.closest(".chip");
    var shown = document.getElementById("shown-columns");
    var keys = keysOf(shown);
    var col = chip.dataset.col;
    var at = keys.indexOf(col);
    var action = button.dataset.action;
    if (action === "add") keys.push(col);
    else if (action === "remove") keys = keys.filter(function (k) { return k !== col; });
    else {
      var to = action === "earlier" ? at - 1 : at + 1;
      if (at < 0 || to < 0 || to >= keys.length) return;
      keys.splice(at, 1);
      keys.splice(to, 0, col);
      announce(chip.textContent.replace(/[⋮‹›×+]/g, "").trim() + ": column " + (to + 1) + " of " + keys.length);
    }
    pendingFocus = { col: col, action: action };
    save(keys);
  }

  function restoreFocus() {
    if (!pendingFocus) return;
    var want = pendingFocus;
    pendingFocus = null;
    var chip = document.querySelector('.chips [data-col="' + want.col + '"]');
    if (!chip) return;
    var same = chip.querySelector('.chip-btn[data-action="' + want.action + '"]');
    var target = same && !same.disabled ? same : chip.querySelector(".chip-btn:not(:disabled)");
    if (target) target.focus();
  }

  // Cells whose text is cut by the ellipsis: focusable (keyboard, a tap on a phone) and titled with their
  // whole text, so it shows on hover; CSS shows it all while the cell has focus.
  function markClipped() {
    var table = document.getElementById("history-table");
    if (!table) return;
    Array.prototype.forEach.call(table.querySelectorAll("tbody td:not(.fixed):not(.empty)"), function (td) {
      var full = td.textContent.trim();
      var cut = td.scrollWidth > td.clientWidth + 1 && full !== "";
      if (cut && !td.classList.contains("clipped")) {
        td.classList.add("clipped");
        td.tabIndex = 0;
        var tip = td.getAttribute("title");
        td.dataset.tip = tip || "";
        td.setAttribute("title", tip && tip.indexOf(full) === -1 ? full + "\n\n" + tip : full);
      } else if (!cut && td.classList.contains("clipped") && document.activeElement !== td) {
        td.classList.remove("clipped");
        td.removeAttribute("tabindex");
        if (td.dataset.tip) td.setAttribute("title", td.dataset.tip); else td.removeAttribute("title");
      }
    });
  }

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(markClipped, 150);
  });

  function init(root) {
    var scope = root && root.querySelector ? root : document;
    markClipped();
    initHead(scope.id === "history-head" ? scope : scope.querySelector("#history-head"));
    var shown = scope.querySelector("#shown-columns");
    initPanel(shown, document.getElementById("available-columns"));
  }

  document.addEventListener("htmx:load", function (event) {
    init(event.detail.elt);
    var elt = event.detail.elt;
    if (elt && (elt.id === "columns-panel" || (elt.querySelector && elt.querySelector("#columns-panel")))) {
      setTimeout(restoreFocus, 0);  // after the rest of this response is swapped in too
    }
  });
  document.addEventListener("htmx:afterSettle", function () { setTimeout(restoreFocus, 0); });
  document.addEventListener("DOMContentLoaded", function () {
    init(document);
    document.addEventListener("click", onChipButton);
  });
})();
