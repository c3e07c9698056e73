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
})();
