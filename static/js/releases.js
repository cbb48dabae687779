// Release page behaviours, kept out of the HTML (CSP forbids inline scripts).
// The deploy form shows the simulation's parameters only for the simulated executor.
(function () {
  function sync(select) {
    const form = select.form;
    if (!form) return;
    const simulated = select.value === "simulated";
    form.querySelectorAll("[data-simulation]").forEach(function (el) {
      el.hidden = !simulated;
      el.querySelectorAll("input").forEach(function (input) {
        input.disabled = !simulated;
      });
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-executor]")) sync(event.target);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("select[data-executor]").forEach(sync);
  });
})();

// The window form starts from the current window: a "Clear" button empties one of its fields
// (that end then open), a choice the person makes and sees before submitting.
document.addEventListener("click", function (event) {
  const button = event.target.closest && event.target.closest("button[data-clear]");
  if (!button) return;
  const input = document.getElementById(button.getAttribute("data-clear"));
  if (!input) return;
  input.value = "";
  input.dispatchEvent(new Event("change", { bubbles: true }));
  input.focus();
});
