// History tab: columns rearranged by dragging (SortableJS) on the table heading or in the Columns
// panel, added/removed by dragging between the lists or with the +/× buttons. Every change is saved
// for the user (htmx POST) and the table comes back re-drawn in the new layout.
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

  function onChipButton(event) {
    var button = event.target.closest(".chip-btn");
    if (!button) return;
    var chip = button.closest(".chip");
    var shown = document.getElementById("shown-columns");
    var keys = keysOf(shown);
    if (button.dataset.action === "add") keys.push(chip.dataset.col);
    else keys = keys.filter(function (k) { return k !== chip.dataset.col; });
    save(keys);
  }

  function init(root) {
    var scope = root && root.querySelector ? root : document;
    initHead(scope.id === "history-head" ? scope : scope.querySelector("#history-head"));
    var shown = scope.querySelector("#shown-columns");
    initPanel(shown, document.getElementById("available-columns"));
  }

  document.addEventListener("htmx:load", function (event) { init(event.detail.elt); });
  document.addEventListener("DOMContentLoaded", function () {
    init(document);
    document.addEventListener("click", onChipButton);
  });
})();
