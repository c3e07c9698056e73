// Behaviour that needs script: kept here (not inline) so the Content-Security-Policy forbids inline scripts.
(function () {
  "use strict";

  function toastArea() { return document.getElementById("toasts"); }

  function showToast(message, category) {
    var area = toastArea();
    if (!area) { return; }
    var box = document.createElement("div");
    box.className = "alert alert-" + (category || "danger") + " alert-dismissible shadow-sm toast-message";
    box.setAttribute("role", "alert");
    box.textContent = message;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn-close";
    close.setAttribute("data-bs-dismiss", "alert");
    close.setAttribute("aria-label", "Close");
    box.appendChild(close);
    area.appendChild(box);
    scheduleDismiss(box);
  }

  function scheduleDismiss(box) {
    if (box.dataset.scheduled) { return; }
    box.dataset.scheduled = "1";
    var delay = box.classList.contains("alert-danger") ? 12000 : 5000;
    setTimeout(function () { box.remove(); }, delay);
  }

  function dismissLater(root) {
    (root || document).querySelectorAll(".toast-area .toast-message").forEach(scheduleDismiss);
  }

  document.addEventListener("DOMContentLoaded", function () {
    dismissLater(document);
    document.querySelectorAll("select.auto-submit").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  });

  document.addEventListener("htmx:afterSettle", function () { dismissLater(document); });

  // A request that never got an answer: say so instead of leaving the page silent.
  document.addEventListener("htmx:sendError", function () {
    showToast(document.body.getAttribute("data-msg-offline"));
  });

  // Elements that ask before acting: data-confirm="question" on a form or button.
  document.addEventListener("htmx:confirm", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });

  window.modulePanel = { showToast: showToast };
})();
