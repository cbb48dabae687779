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
