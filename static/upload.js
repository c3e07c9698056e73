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
})();
