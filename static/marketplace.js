// Marketplace: open the changelog modal htmx adds to the page, and remove it once closed.
(function () {
  "use strict";

  function openModals() {
    if (!window.bootstrap) { return; }
    document.querySelectorAll(".mp-modal:not([data-opened])").forEach(function (el) {
      el.setAttribute("data-opened", "1");
      el.addEventListener("hidden.bs.modal", function () { el.remove(); });
      window.bootstrap.Modal.getOrCreateInstance(el).show();
    });
  }

  document.addEventListener("htmx:afterSettle", openModals);

  // A dialog's form says what follows its request (the CSP forbids inline handlers such as hx-on).
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (!form || !form.getAttribute) { return; }
    var after = form.getAttribute("data-after-request");
    if (after === "remove") {
      form.remove();
    } else if (after === "close-modal" && window.bootstrap) {
      var modal = form.closest(".modal");
      if (modal) { window.bootstrap.Modal.getOrCreateInstance(modal).hide(); }
    }
  });
})();
