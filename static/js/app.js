// Toasts stay at least the minimum time of setting 420 (MESSAGE BOX - Minimum Time to Disappear), and
// longer while the pointer is on one or it has focus; each has a close button, so a toast never hides
// a button for good (they sit at the bottom of the window, away from the page's own buttons).
(function () {
  "use strict";
  function seconds() {
    var s = parseInt(document.body.dataset.toastSeconds || "5", 10);
    return isNaN(s) || s < 1 ? 5 : s;
  }
  function dismiss(toast) {
    toast.style.opacity = "0";
    setTimeout(function () { toast.remove(); }, 450);
  }
  function later(toast) {
    if (toast.matches(":hover") || toast.contains(document.activeElement)) {
      setTimeout(function () { later(toast); }, 1000);
    } else {
      dismiss(toast);
    }
  }
  function schedule(toast) {
    if (toast.dataset.scheduled) return;
    toast.dataset.scheduled = "1";
    if (!toast.querySelector(".toast-close")) {
      var close = document.createElement("button");
      close.type = "button";
      close.className = "toast-close";
      close.setAttribute("aria-label", "Close this message");
      close.textContent = "\u00d7";
      close.addEventListener("click", function () { dismiss(toast); });
      toast.appendChild(close);
    }
    setTimeout(function () { later(toast); }, seconds() * 1000);
  }
  function scan(root) {
    (root || document).querySelectorAll(".toast").forEach(schedule);
  }
  window.pimsyToast = function (text, kind) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var t = document.createElement("div");
    t.className = "toast " + (kind || "");
    var words = document.createElement("span");
    words.textContent = text;
    t.appendChild(words);
    box.appendChild(t);
    schedule(t);
  };
  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  document.addEventListener("htmx:afterSwap", function () { scan(document); });
  // Toasts rendered inside htmx partials (out-of-band) are moved into the toast box.
  document.addEventListener("htmx:oobAfterSwap", function () { scan(document); });
})();

// hx-confirm questions (Cancel on the progress box, and any other) open the app's own Yes/No dialog,
// as Send does, instead of the browser's confirm box. "No" has the focus: Enter does not cancel by mistake.
(function () {
  "use strict";
  function dialog() {
    var box = document.getElementById("app-confirm");
    if (box) return box;
    box = document.createElement("dialog");
    box.id = "app-confirm";
    box.setAttribute("aria-labelledby", "app-confirm-text");
    var text = document.createElement("p");
    text.id = "app-confirm-text";
    var actions = document.createElement("div");
    actions.className = "actions";
    var no = document.createElement("button");
    no.type = "button";
    no.id = "app-confirm-no";
    no.textContent = "No";
    var yes = document.createElement("button");
    yes.type = "button";
    yes.id = "app-confirm-yes";
    yes.className = "primary";
    yes.textContent = "Yes";
    actions.appendChild(no);
    actions.appendChild(yes);
    box.appendChild(text);
    box.appendChild(actions);
    no.addEventListener("click", function () { box.close(); });
    document.body.appendChild(box);
    return box;
  }
  document.addEventListener("htmx:confirm", function (event) {
    var question = event.detail && event.detail.question;
    if (!question) return;
    event.preventDefault();
    var box = dialog();
    document.getElementById("app-confirm-text").textContent = question;
    var yes = document.getElementById("app-confirm-yes");
    var fresh = yes.cloneNode(true);  // drop the previous question's listener
    yes.parentNode.replaceChild(fresh, yes);
    fresh.addEventListener("click", function () {
      box.close();
      event.detail.issueRequest(true);
    });
    box.showModal();
    document.getElementById("app-confirm-no").focus();
  });
})();

// The top menus are disclosure menus (WCAG): a button with aria-expanded opens its list; Enter,
// Space or ArrowDown open it and move focus to the first item; ArrowUp/ArrowDown move between items;
// Escape closes it and gives focus back to the button; a click elsewhere or Tab out closes it.
(function () {
  "use strict";
  function items(menu) { return Array.prototype.slice.call(menu.querySelectorAll(".menu-items a")); }
  function setOpen(button, open) {
    var list = document.getElementById(button.getAttribute("aria-controls"));
    button.setAttribute("aria-expanded", open ? "true" : "false");
    if (list) list.classList.toggle("open", open);
  }
  function closeAll(except) {
    document.querySelectorAll(".menu-title[aria-expanded='true']").forEach(function (b) {
      if (b !== except) setOpen(b, false);
    });
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest(".menu-title");
    if (button) {
      var open = button.getAttribute("aria-expanded") !== "true";
      closeAll(button);
      setOpen(button, open);
      if (open && event.detail === 0) {  // opened by keyboard (Enter / Space): focus the first item
        var first = items(button.parentNode)[0];
        if (first) first.focus();
      }
      return;
    }
    if (!(event.target.closest && event.target.closest(".menu"))) closeAll(null);
  });
  document.addEventListener("keydown", function (event) {
    var menu = event.target.closest && event.target.closest(".menu");
    if (!menu) return;
    var button = menu.querySelector(".menu-title");
    var links = items(menu);
    var index = links.indexOf(event.target);
    if (event.key === "Escape") {
      setOpen(button, false);
      button.focus();
      event.preventDefault();
    } else if (event.key === "ArrowDown") {
      if (event.target === button) setOpen(button, true);
      var next = links[Math.min(index + 1, links.length - 1)];
      if (next) next.focus();
      event.preventDefault();
    } else if (event.key === "ArrowUp" && index > 0) {
      links[index - 1].focus();
      event.preventDefault();
    }
  });
  document.addEventListener("focusout", function (event) {
    var menu = event.target.closest && event.target.closest(".menu");
    if (menu && !(event.relatedTarget && menu.contains(event.relatedTarget))) {
      setOpen(menu.querySelector(".menu-title"), false);
    }
  });
})();

// A minute before the idle log-off a notice offers to stay signed in. What the user does (a page, an
// htmx action) restarts the count; a screen polling by itself (X-Background-Poll) does not.
(function () {
  "use strict";
  var timer = null;
  function idleSeconds() { return parseInt(document.body.dataset.idleSeconds || "0", 10); }
  function notice() { return document.getElementById("idle-warning"); }
  function hide() { var n = notice(); if (n) n.remove(); }
  function warn() {
    if (notice()) return;
    var box = document.createElement("div");
    box.id = "idle-warning";
    box.className = "idle-warning";
    box.setAttribute("role", "alertdialog");
    box.setAttribute("aria-live", "assertive");
    box.innerHTML = "<p>You will be logged off in about a minute because nothing was done here.</p>";
    var stay = document.createElement("button");
    stay.type = "button";
    stay.className = "primary";
    stay.textContent = "Stay signed in";
    stay.addEventListener("click", function () {
      fetch(window.location.pathname, { credentials: "same-origin" }).then(restart);
    });
    box.appendChild(stay);
    document.body.appendChild(box);
    stay.focus();
  }
  function restart() {
    hide();
    var seconds = idleSeconds();
    if (!seconds) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(warn, Math.max(1, seconds - 60) * 1000);
  }
  document.addEventListener("DOMContentLoaded", restart);
  document.addEventListener("htmx:beforeRequest", function (event) {
    var headers = (event.detail && event.detail.requestConfig && event.detail.requestConfig.headers) || {};
    if (headers["X-Background-Poll"] !== "1") restart();
  });
})();

// Focus survives an htmx swap (WCAG 2.4.3): saving a section of the chart, or a box re-drawn while a
// control in it has focus, puts focus back on the same control of the new content (same id or name, or
// its submit button), else on the new section itself, instead of dropping it to the page body.
(function () {
  "use strict";
  var keep = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail && event.detail.target;
    var active = document.activeElement;
    keep = null;
    if (!target || !target.id || !active || active === document.body || !target.contains(active)) return;
    keep = { scope: target.id, id: active.id, name: active.getAttribute("name"), button: active.tagName === "BUTTON" };
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!keep) return;
    var want = keep;
    keep = null;
    if (document.activeElement && document.activeElement !== document.body) return;
    var scope = document.getElementById(want.scope);
    if (!scope) return;
    var el = (want.id && document.getElementById(want.id)) ||
      (want.name && scope.querySelector('[name="' + want.name + '"]')) ||
      (want.button && scope.querySelector('button[type="submit"], button:not([type])'));
    if (!el) {
      el = scope;
      if (!el.hasAttribute("tabindex")) el.setAttribute("tabindex", "-1");
    }
    el.focus();
  });
})();
