// Sidebar edit mode: drag to reorder (SortableJS, loaded on first use), and keep the keyboard focus
// on the arrow button that was pressed after the sidebar is swapped in again.
(function () {
  "use strict";

  var loading = null;

  function loadSortable(src) {
    if (window.Sortable) { return Promise.resolve(window.Sortable); }
    if (!loading) {
      loading = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = src;
        script.onload = function () { resolve(window.Sortable); };
        script.onerror = function () { loading = null; reject(new Error("could not load " + src)); };
        document.head.appendChild(script);
      });
    }
    return loading;
  }

  // Lists marked data-sortable="<group>": dropping an item fires "sortable-end" on the enclosing
  // form, whose hx-trigger posts the new order (hidden inputs follow their items in the DOM).
  function initSortables(root) {
    var lists = root.querySelectorAll ? root.querySelectorAll("[data-sortable]") : [];
    if (root.matches && root.matches("[data-sortable]")) { lists = [root].concat(Array.prototype.slice.call(lists)); }
    if (!lists.length) { return; }
    var holder = document.querySelector("[data-sortable-src]");
    if (!holder) { return; }
    loadSortable(holder.getAttribute("data-sortable-src")).then(function (Sortable) {
      Array.prototype.forEach.call(lists, function (list) {
        if (list.dataset.sortableReady || !document.body.contains(list)) { return; }
        list.dataset.sortableReady = "1";
        Sortable.create(list, {
          group: list.getAttribute("data-sortable"),
          animation: 120,
          filter: "button",
          preventOnFilter: false,
          forceFallback: true,
          fallbackTolerance: 3,
          onEnd: function (event) {
            if (event.from === event.to && event.oldIndex === event.newIndex) { return; }
            var form = list.closest("form");
            if (form && window.htmx) { window.htmx.trigger(form, "sortable-end"); }
          }
        });
      });
    }).catch(function () {
      if (window.modulePanel) { window.modulePanel.showToast(document.body.getAttribute("data-msg-offline")); }
    });
  }

  function restoreFocus(root) {
    var nav = root.id === "sidebar" ? root : (root.querySelector && root.querySelector("#sidebar[data-focus]"));
    if (!nav || !nav.getAttribute("data-focus")) { return; }
    var wanted = nav.getAttribute("data-focus");
    var slug = wanted.split(":")[0];
    var button = nav.querySelector('[data-move="' + CSS.escape(wanted) + '"]');
    if (!button || button.disabled) {
      button = Array.prototype.find.call(nav.querySelectorAll(".sidebar-move"), function (b) {
        return b.getAttribute("data-move").split(":")[0] === slug && !b.disabled;
      });
    }
    nav.removeAttribute("data-focus");
    if (button) { button.focus(); }
  }

  // A card's gear appends the display-options dialog to the page: show it, and drop it once closed.
  function openDialog(root) {
    if (!root.classList || !root.classList.contains("display-dialog") || !window.bootstrap) { return; }
    document.querySelectorAll(".display-dialog").forEach(function (other) {
      if (other !== root) { other.remove(); }
    });
    root.addEventListener("hidden.bs.modal", function () { root.remove(); });
    window.bootstrap.Modal.getOrCreateInstance(root).show();
  }

  // A display or settings form that comes back replaces the one that had the focus: put the focus on
  // the first refused field, or else back on the button that sent it (keyboard users keep their place,
  // and Escape still closes the dialog around it).
  function keepFormFocus(root) {
    if (!root.matches || !root.matches(".display-form, .settings-form")) { return; }
    var active = document.activeElement;
    if (active && active !== document.body && document.body.contains(active)) { return; }
    var target = root.querySelector(".is-invalid") || root.querySelector("button[type=submit]");
    if (target) { target.focus(); }
  }

  // Escape closes the dialog even while its form is being swapped and the focus is briefly on the page.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !window.bootstrap) { return; }
    var dialog = document.querySelector(".display-dialog.show");
    if (dialog && !dialog.contains(document.activeElement)) {
      window.bootstrap.Modal.getOrCreateInstance(dialog).hide();
    }
  });

  document.addEventListener("htmx:load", function (event) {
    initSortables(event.target);
    restoreFocus(event.target);
    openDialog(event.target);
    keepFormFocus(event.target);
  });
  document.addEventListener("DOMContentLoaded", function () { initSortables(document); });
})();
