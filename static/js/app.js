// Small behaviours of the web UI, kept out of the HTML so the Content-Security-Policy
// can forbid inline scripts.
document.addEventListener("htmx:configRequest", function (event) {
  const token = document.querySelector('meta[name="csrf-token"]');
  if (token) {
    event.detail.headers["X-CSRFToken"] = token.content;
  }
});

// Confirmation (data-confirm on the form or on the button pressed) and, for a button marked
// data-needs-reason, a reason typed in the form's "reason" field (the server checks it too).
document.addEventListener("submit", function (event) {
  const form = event.target;
  const button = event.submitter;
  const needsReason = button && button.getAttribute("data-needs-reason");
  if (needsReason && form.elements.reason && !form.elements.reason.value.trim()) {
    form.elements.reason.setCustomValidity(needsReason);
    form.elements.reason.reportValidity();
    event.preventDefault();
    return;
  }
  const question = (button && button.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

document.addEventListener("input", function (event) {
  if (event.target.name === "reason" && event.target.setCustomValidity) {
    event.target.setCustomValidity("");
  }
});

// Auto-submit filter forms when a select changes (the form also has a submit button).
document.addEventListener("change", function (event) {
  const el = event.target;
  if (el.matches("form[data-autosubmit] select, form[data-autosubmit] input[type=checkbox]")) {
    el.form.requestSubmit();
  }
});

// Read-only fields holding something to copy (an enrolment token, a command): select it all.
document.addEventListener("focusin", function (event) {
  const el = event.target;
  if (el.matches && el.matches("input[data-select-on-focus]")) {
    el.select();
  }
});

// The menu button of small screens: opens and closes the navigation (Bootstrap's CSS, no JS).
document.addEventListener("click", function (event) {
  const button = event.target.closest && event.target.closest("[data-nav-toggle]");
  if (!button) {
    return;
  }
  const menu = document.getElementById(button.getAttribute("data-nav-toggle"));
  if (menu) {
    const open = menu.classList.toggle("show");
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }
});

// Tables scroll inside their own box on small screens instead of widening the page: wrap any
// table a template did not already put in a .table-responsive box (also after htmx swaps).
function wrapTables(root) {
  root.querySelectorAll("main table").forEach(function (table) {
    if (table.closest(".table-responsive")) {
      return;
    }
    const box = document.createElement("div");
    box.className = "table-responsive";
    table.parentNode.insertBefore(box, table);
    box.appendChild(table);
  });
}
document.addEventListener("DOMContentLoaded", function () {
  wrapTables(document);
});
document.addEventListener("htmx:afterSettle", function () {
  wrapTables(document);
});
