// Change management pages: kept out of the HTML so the Content-Security-Policy can forbid
// inline scripts.
(function () {
  // A refused action answers 400/403/409 with the reason rendered in the fragment: swap it in
  // (htmx leaves error answers unswapped by default) where the page asks for it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    const status = event.detail.xhr.status;
    const elt = event.detail.elt;
    if ([400, 403, 409].indexOf(status) !== -1 && elt && elt.closest &&
        elt.closest("[data-changes-swap-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // After a CAB vote, the queue count follows the rows still waiting.
  document.addEventListener("htmx:afterSettle", function () {
    const count = document.getElementById("cab-count");
    if (!count) {
      return;
    }
    const waiting = document.querySelectorAll("#cab-rows .cab-row").length;
    if (document.querySelectorAll("#cab-rows .cab-done").length) {
      count.textContent = waiting + " RFC" + (waiting === 1 ? "" : "s") +
        " waiting for your decision on this page.";
    }
  });

  // The RFC form: picking a standard change template fills the plans from the catalogue.
  function prefill(select) {
    const form = select.form;
    const url = form && form.getAttribute("data-prefill-url");
    if (!url || !select.value) {
      return;
    }
    fetch(url + "?template=" + encodeURIComponent(select.value), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) {
          return;
        }
        Object.keys(data).forEach(function (name) {
          const field = form.elements[name];
          if (!field || name === "template") {
            return;
          }
          if (name === "title" && field.value.trim()) {
            return;
          }
          if (data[name] !== null && data[name] !== "") {
            field.value = data[name];
          }
        });
      });
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("#change-form select[name=template]")) {
      prefill(event.target);
    }
  });

  // The metrics page: Chart.js charts from the figures in <script type="application/json">.
  function charts() {
    const source = document.getElementById("change-metrics-data");
    if (!source || typeof Chart === "undefined") {
      return;
    }
    const series = JSON.parse(source.textContent);
    const labels = series.map(function (m) { return m.label; });
    function pct(key) {
      return series.map(function (m) { return m[key] === null ? null : Math.round(m[key] * 1000) / 10; });
    }
    new Chart(document.getElementById("chart-rates"), {
      type: "line",
      data: {
        labels: labels,
        datasets: [
          { label: "Emergency ratio (%)", data: pct("emergency_ratio"), spanGaps: true },
          { label: "Success rate (%)", data: pct("success_rate"), spanGaps: true },
        ],
      },
      options: { scales: { y: { min: 0, max: 100 } } },
    });
    new Chart(document.getElementById("chart-volume"), {
      type: "bar",
      data: {
        labels: labels,
        datasets: [
          { label: "Submitted", data: series.map(function (m) { return m.submitted; }) },
          { label: "Implemented", data: series.map(function (m) { return m.implemented; }) },
          { label: "Causing incidents", data: series.map(function (m) { return m.causing_incidents; }) },
        ],
      },
    });
  }

  // Deferred scripts run before DOMContentLoaded, in document order: by then Chart.js is there.
  if (document.readyState === "complete") {
    charts();
  } else {
    document.addEventListener("DOMContentLoaded", charts);
  }
})();
