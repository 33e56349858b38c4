// Failure Summary charts (issue 15): deliveries per day by outcome for each channel (stacked bars), and
// failures by category over the period (horizontal bars, hard red, soft orange). The numbers come from
// the page's json_script block (#summary-chart-data); each canvas carries an aria-label with the same
// numbers and each channel's chart a table of them. Re-drawn when htmx swaps the summary in.
(function () {
  "use strict";

  var INK = "#1d2733";
  var GRID = "#d6dde5";

  function readData(scope) {
    var node = (scope.querySelector && scope.querySelector("#summary-chart-data")) || document.getElementById("summary-chart-data");
    if (!node) return null;
    try {
      return JSON.parse(node.textContent);
    } catch (e) {
      return null;
    }
  }

  function replaceChart(canvas, config) {
    var old = window.Chart.getChart(canvas);
    if (old) old.destroy();
    return new window.Chart(canvas, config);
  }

  function common() {
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { labels: { color: INK, boxWidth: 12 } }, tooltip: { mode: "index", intersect: false } },
    };
  }

  function outcomesChart(canvas, data) {
    var channel = null;
    data.channels.forEach(function (c) { if (c.key === canvas.dataset.channel) channel = c; });
    if (!channel) return;
    var datasets = data.outcomes
      .filter(function (o) { return channel.totals[o.key] > 0; })
      .map(function (o) {
        return { label: o.label, data: channel.counts[o.key], backgroundColor: o.colour, borderColor: o.colour, stack: "all" };
      });
    var options = common();
    options.scales = {
      x: { stacked: true, ticks: { color: INK, maxRotation: 0, autoSkip: true, autoSkipPadding: 8 }, grid: { display: false } },
      y: { stacked: true, beginAtZero: true, ticks: { color: INK, precision: 0 }, grid: { color: GRID } },
    };
    replaceChart(canvas, { type: "bar", data: { labels: data.labels.map(shortLabel(data.unit)), datasets: datasets }, options: options });
  }

  function shortLabel(unit) {
    return function (label) { return unit === "day" ? label.slice(5) : label; };  // 2026-03-14 -> 03-14
  }

  // A label in lines of at most `max` characters, broken after its hyphens and spaces (narrow screens).
  function wrapLabel(text, max) {
    var lines = [];
    var line = "";
    text.split(/(?<=[- ])/).forEach(function (part) {
      if (line && (line + part).length > max) {
        lines.push(line.trim());
        line = "";
      }
      line += part;
    });
    if (line) lines.push(line.trim());
    return lines.length > 1 ? lines : text;
  }

  function categoriesChart(canvas, data) {
    var box = canvas.parentElement;
    var narrow = box.clientWidth < 560;
    box.style.height = Math.max(140, (narrow ? 58 : 26) * data.categories.length + 50) + "px";
    var options = common();
    options.indexAxis = "y";
    options.plugins.legend = { display: false };
    options.scales = {
      x: { beginAtZero: true, ticks: { color: INK, precision: 0 }, grid: { color: GRID } },
      y: { ticks: { color: INK, autoSkip: false }, grid: { display: false } },
    };
    replaceChart(canvas, {
      type: "bar",
      data: {
        labels: data.categories.map(function (c) {
          var label = c.category + (c.hard ? " (hard)" : " (soft)");
          return narrow ? wrapLabel(label, 12) : label;
        }),
        datasets: [{
          label: "Failures",
          data: data.categories.map(function (c) { return c.total; }),
          backgroundColor: data.categories.map(function (c) { return c.colour; }),
        }],
      },
      options: options,
    });
  }

  function draw(scope) {
    if (!window.Chart) return;
    var root = scope && scope.querySelector ? scope : document;
    var data = readData(root);
    if (!data) return;
    window.Chart.defaults.color = INK;
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Array.prototype.forEach.call(document.querySelectorAll("canvas[data-chart='outcomes']"), function (canvas) {
      outcomesChart(canvas, data);
    });
    var categories = document.getElementById("chart-categories");
    if (categories) categoriesChart(categories, data);
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:load", function (event) {
    var elt = event.detail.elt;
    if (elt && (elt.id === "summary" || (elt.querySelector && elt.querySelector("#summary-chart-data")))) draw(elt);
  });
})();
