// Toasts stay at least the minimum time of setting 420 (MESSAGE BOX - Minimum Time to Disappear).
(function () {
  "use strict";
  function seconds() {
    var s = parseInt(document.body.dataset.toastSeconds || "5", 10);
    return isNaN(s) || s < 1 ? 5 : s;
  }
  function schedule(toast) {
    if (toast.dataset.scheduled) return;
    toast.dataset.scheduled = "1";
    setTimeout(function () {
      toast.style.opacity = "0";
      setTimeout(function () { toast.remove(); }, 450);
    }, seconds() * 1000);
  }
  function scan(root) {
    (root || document).querySelectorAll(".toast").forEach(schedule);
  }
  window.pimsyToast = function (text, kind) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var t = document.createElement("div");
    t.className = "toast " + (kind || "");
    t.textContent = text;
    box.appendChild(t);
    schedule(t);
  };
  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  document.addEventListener("htmx:afterSwap", function () { scan(document); });
  // Toasts rendered inside htmx partials (out-of-band) are moved into the toast box.
  document.addEventListener("htmx:oobAfterSwap", function () { scan(document); });
})();
