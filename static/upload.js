// Upload progress for the "Upload module" form (htmx sends it; this only shows how far it got).
(function () {
  "use strict";

  function formOf(event) {
    var target = event.target;
    return target && target.closest ? target.closest("form.upload-form") : null;
  }

  function parts(form) {
    var box = form.querySelector(".upload-progress");
    return box ? { box: box, bar: box.querySelector("progress"), text: box.querySelector(".upload-progress-text") } : null;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = formOf(event);
    var p = form && parts(form);
    if (!p) { return; }
    p.bar.value = 0;
    p.text.textContent = "0%";
    p.box.classList.remove("d-none");
  });

  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = formOf(event);
    var p = form && parts(form);
    if (!p || !event.detail || !event.detail.lengthComputable || !event.detail.total) { return; }
    var percent = Math.min(100, Math.round(event.detail.loaded * 100 / event.detail.total));
    if (percent >= p.bar.value) {
      p.bar.value = percent;
      p.text.textContent = percent + "%";
      document.body.setAttribute("data-upload-progress", String(percent));
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = formOf(event);
    var p = form && parts(form);
    if (!p) { return; }
    if (!event.detail || !event.detail.successful) { p.box.classList.add("d-none"); }
  });

  // The dialog's drop zone: a dropped file becomes the form's file, and the chosen name is shown.
  function showName(input) {
    var form = input.closest("form.upload-form");
    var label = form && form.querySelector(".upload-file-name");
    if (label) { label.textContent = input.files && input.files.length ? input.files[0].name : ""; }
  }

  document.addEventListener("change", function (event) {
    if (event.target && event.target.id === "upload-package") { showName(event.target); }
  });

  ["dragover", "dragenter"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      var zone = event.target.closest && event.target.closest(".upload-drop-zone");
      if (zone) { event.preventDefault(); zone.classList.add("border-primary"); }
    });
  });

  document.addEventListener("dragleave", function (event) {
    var zone = event.target.closest && event.target.closest(".upload-drop-zone");
    if (zone) { zone.classList.remove("border-primary"); }
  });

  document.addEventListener("drop", function (event) {
    var zone = event.target.closest && event.target.closest(".upload-drop-zone");
    if (!zone || !event.dataTransfer || !event.dataTransfer.files.length) { return; }
    event.preventDefault();
    zone.classList.remove("border-primary");
    var input = document.getElementById("upload-package");
    input.files = event.dataTransfer.files;
    showName(input);
  });

  // The report replaces the page's main area, dialog included: close the dialog (and its backdrop) first.
  document.addEventListener("htmx:beforeSwap", function () {
    var dialog = document.querySelector(".upload-dialog.show");
    if (!dialog || !window.bootstrap) { return; }
    window.bootstrap.Modal.getOrCreateInstance(dialog).hide();
    document.querySelectorAll(".modal-backdrop").forEach(function (el) { el.remove(); });
    document.body.classList.remove("modal-open");
    document.body.style.removeProperty("overflow");
    document.body.style.removeProperty("padding-right");
  });
})();
