// Small behaviours of the web UI, kept out of the HTML so the Content-Security-Policy
// can forbid inline scripts.
document.addEventListener("htmx:configRequest", function (event) {
  const token = document.querySelector('meta[name="csrf-token"]');
  if (token) {
    event.detail.headers["X-CSRFToken"] = token.content;
  }
});

document.addEventListener("submit", function (event) {
  const form = event.target;
  const question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
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
