// The trend report's chart: one line per group, rising groups drawn thicker. Data comes from
// the page's json_script tag "trend-data" (no inline script: the CSP forbids it).
(function () {
  function draw() {
    const data = document.getElementById("trend-data");
    const canvas = document.getElementById("trend-chart");
    if (!data || !canvas || typeof Chart === "undefined") {
      return;
    }
    const chart = JSON.parse(data.textContent);
    const palette = ["#0d6efd", "#dc3545", "#198754", "#fd7e14", "#6f42c1", "#20c997",
      "#6c757d", "#d63384", "#0dcaf0", "#ffc107"];
    new Chart(canvas, {
      type: "line",
      data: {
        labels: chart.labels,
        datasets: chart.series.map(function (s, i) {
          return {
            label: s.rising ? s.label + " (rising)" : s.label,
            data: s.counts,
            borderColor: palette[i % palette.length],
            backgroundColor: palette[i % palette.length],
            borderWidth: s.rising ? 3 : 1.5,
            tension: 0.2,
            pointRadius: 2,
          };
        }),
      },
      options: {
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
