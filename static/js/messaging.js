// Utilities > Messaging, New tab: keeps the Send button honest (label per Contact Methods, only
// enabled for a fresh list), collects unticked recipients, and runs the Yes/No confirmation.
(function () {
  "use strict";

  function $(id) { return document.getElementById(id); }

  // The Send button's words per channel come from the channel registry (json_script in new.html).
  function labels() {
    try { return JSON.parse(($("send-labels") || {}).textContent || "{}"); } catch (e) { return {}; }
  }

  function chosenChannels(form) {
    return Array.prototype.map.call(form.querySelectorAll("input[name=channels]:checked"), function (el) {
      return el.value;
    });
  }

  function sendLabel(channels) {
    if (channels.length === 1) return labels()[channels[0]] || "Send Message";
    return channels.length ? "Send Messages" : "Send Message";
  }

  function typeFacts(form) {
    var facts = {};
    try { facts = JSON.parse(($("message-type-facts") || {}).textContent || "{}"); } catch (e) { facts = {}; }
    var select = form.querySelector("select[name=message_type]");
    return (select && facts[select.value]) || null;
  }

  function recipients() { return $("recipients"); }

  function selectedMessages() {
    var list = recipients();
    if (!list) return 0;
    var total = 0;
    list.querySelectorAll("tr[data-key]").forEach(function (row) {
      var tick = row.querySelector(".recipient-tick");
      if (!tick || tick.checked) total += parseInt(row.dataset.messages || "0", 10);
    });
    var shown = list.querySelectorAll("tr[data-key]").length;
    var all = parseInt(list.dataset.people || "0", 10);
    if (shown < all) {
      // Rows not shown on the page are always included.
      total += parseInt(list.dataset.messages || "0", 10) - sumShown(list);
    }
    return total;
  }

  function sumShown(list) {
    var sum = 0;
    list.querySelectorAll("tr[data-key]").forEach(function (row) { sum += parseInt(row.dataset.messages || "0", 10); });
    return sum;
  }

  function update(form) {
    var channels = chosenChannels(form);
    var button = $("send-btn");
    var hint = $("send-hint");
    var list = recipients();
    var fresh = list && list.dataset.fresh === "1";
    var sameChannels = list && list.dataset.channels === channels.join(",");
    var count = fresh ? selectedMessages() : 0;
    button.textContent = sendLabel(channels);
    var ready = fresh && sameChannels && channels.length > 0 && count > 0;
    button.disabled = !ready;
    if (list && list.dataset.sent === "1") hint.textContent = "Sent. Press Refresh to send another message.";
    else if (!list || list.dataset.fresh !== "1") hint.textContent = "Press Refresh to list who will receive the message.";
    else if (!channels.length) hint.textContent = "Choose at least one Contact Method.";
    else if (!sameChannels) hint.textContent = "Updating the list for the chosen Contact Methods…";
    else if (!count) hint.textContent = "Nobody selected can receive this message.";
    else hint.textContent = count + " message" + (count === 1 ? "" : "s") + " will be sent.";
    var stale = $("stale-note");
    if (stale) stale.hidden = !(list && list.dataset.fresh === "0" && list.dataset.refreshedOnce === "1");
    updateTypeHints(form);
  }

  function updateTypeHints(form) {
    var facts = typeFacts(form);
    var description = form.querySelector("input[name=description]");
    var req = $("description-req");
    var manual = !!(facts && facts.manual);
    if (description) description.required = manual;
    if (req) req.hidden = !manual;
    var hint = $("description-hint");
    if (hint) hint.textContent = manual ? "Required for manual message types." : "Shown in History; used by ad hoc templates.";
    var dates = $("dates-hint");
    if (dates && facts) {
      dates.textContent = facts.dated
        ? (facts.audience === "staff" ? "Renewals due between these dates." : "The date range of appointments the system looks at.")
        : "Not used by this message type: it goes to every consenting " + (facts.audience === "staff" ? "staff user." : "client.");
      $("date-range").classList.toggle("unused", !facts.dated);
    }
  }

  function markStale(form) {
    var list = recipients();
    if (list && list.dataset.fresh === "1") {
      list.dataset.fresh = "0";
      list.dataset.refreshedOnce = "1";
    }
    update(form);
  }

  function collectSkipped(form) {
    var skipped = [];
    var list = recipients();
    if (list) {
      list.querySelectorAll(".recipient-tick").forEach(function (tick) { if (!tick.checked) skipped.push(tick.value); });
    }
    form.querySelector("input[name=skipped]").value = skipped.join(",");
  }

  // A Contact Method or preference change: Refresh again when a list is shown (its response also
  // re-renders the message contents), otherwise only the contents. One request either way.
  function followChannels(form) {
    var list = recipients();
    if (list && (list.dataset.fresh === "1" || list.dataset.refreshedOnce === "1")) {
      window.htmx.trigger($("refresh-btn"), "click");
      return;
    }
    // From the fieldset (it syncs on #compose-contents), not the form: a preview in flight must never make the
    // form drop a Send (the form's hx-sync is "this:drop"). The form's values are included (a POST).
    askPreview();
  }

  function askPreview() {
    window.htmx.ajax("POST", $("contact-methods").dataset.previewUrl, {
      source: $("contact-methods"), target: "#message-contents-slot", swap: "innerHTML",
    });
  }

  // Previews and Refresh both redraw the message contents (see new.html). Refresh aborts the previews
  // in flight; a preview sent while Refresh runs is asked again once Refresh has landed, so the
  // contents end with the newest text and the recipient Refresh chose.
  var previewsSent = 0;
  var previewsAtRefresh = null;

  function isRefresh(event) { return !!event.detail.target && event.detail.target.id === "recipients"; }

  function watchContents() {
    document.body.addEventListener("htmx:beforeRequest", function (event) {
      if (isRefresh(event)) {
        window.htmx.trigger($("compose-contents"), "htmx:abort");
        previewsAtRefresh = previewsSent;
      } else if (event.detail.target && event.detail.target.id === "message-contents-slot") {
        previewsSent += 1;
      }
    });
    document.body.addEventListener("htmx:afterRequest", function (event) {
      if (!isRefresh(event)) return;
      var again = previewsAtRefresh !== null && previewsSent > previewsAtRefresh;
      previewsAtRefresh = null;
      if (again) askPreview();
    });
  }

  function openConfirm(form) {
    var dialog = $("confirm-send");
    var list = recipients();
    var count = selectedMessages();
    var people = list ? list.querySelectorAll(".recipient-tick:checked").length : 0;
    var all = list ? parseInt(list.dataset.people || "0", 10) : 0;
    var shown = list ? list.querySelectorAll("tr[data-key]").length : 0;
    people += Math.max(0, all - shown);
    $("confirm-audience").textContent = (list && list.dataset.audience) || "clients";
    var methods = Array.prototype.map.call(form.querySelectorAll("input[name=channels]:checked"), function (el) {
      return el.parentElement.textContent.trim();
    });
    $("confirm-summary").textContent = people + " recipient" + (people === 1 ? "" : "s") + " · " + count +
      " message" + (count === 1 ? "" : "s") + " by " + methods.join(", ") + ".";
    dialog.showModal();
    $("confirm-no").focus();
  }

  function init() {
    var form = $("new-message-form");
    if (!form) return;

    form.addEventListener("change", function (event) {
      var target = event.target;
      if (target.classList.contains("recipient-tick")) {
        var row = target.closest("tr");
        if (row) row.classList.toggle("unticked", !target.checked);
        collectSkipped(form);
        update(form);
        return;
      }
      if (target.id === "tick-all") {
        recipients().querySelectorAll(".recipient-tick").forEach(function (tick) {
          tick.checked = target.checked;
          tick.closest("tr").classList.toggle("unticked", !target.checked);
        });
        collectSkipped(form);
        update(form);
        return;
      }
      if (target.name === "channels" || target.name === "only_preferences") {
        update(form);
        followChannels(form);
        return;
      }
      if (["message_type", "start_date", "end_date"].indexOf(target.name) >= 0) markStale(form);
      else update(form);
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      collectSkipped(form);
      if (!form.reportValidity()) return;
      if ($("send-btn").disabled) return;
      openConfirm(form);
    });

    $("confirm-no").addEventListener("click", function () { $("confirm-send").close(); });
    $("confirm-yes").addEventListener("click", function () {
      var yes = $("confirm-yes");
      if (yes.disabled) return;
      yes.disabled = true;
      $("confirm-send").close();
      collectSkipped(form);
      window.htmx.trigger(form, "confirmed");
    });
    $("confirm-send").addEventListener("close", function () { $("confirm-yes").disabled = false; });

    document.body.addEventListener("htmx:afterSwap", function (event) {
      var target = event.detail.target;
      if (target && target.id === "send-result" && target.querySelector(".progress")) {
        // Sent: this list is used up; a new message needs a new Refresh (and gets a new key).
        var list = recipients();
        if (list) { list.dataset.fresh = "0"; list.dataset.sent = "1"; }
        target.scrollIntoView({ block: "start" });
      }
      collectSkipped(form);
      update(form);
    });
    watchContents();
    document.body.addEventListener("htmx:responseError", function () {
      window.pimsyToast && window.pimsyToast("The server could not complete the request. Nothing was lost; try again.", "error");
    });
    update(form);
  }

  document.addEventListener("DOMContentLoaded", init);
})();
