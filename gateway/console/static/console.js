// The console's charts: each <canvas data-chart="ID"> drawn by Chart.js from the JSON
// of <script type="application/json" id="ID"> (no inline script: the page's CSP forbids
// it). The table beside each chart holds the same figures for those who cannot see it.
"use strict";
(function () {
  if (typeof window.Chart === "undefined") {
    return;
  }
  var palette = ["#000091", "#6a6af4", "#009081", "#c3992a", "#ce0500", "#716043"];
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source) {
      return;
    }
    // Without scripts the chart stays hidden and its table says it all.
    canvas.parentElement.hidden = false;
    var data = JSON.parse(source.textContent);
    // A trend is drawn as lines (a day or week without figures leaves a gap), the rest as bars.
    var line = data.type === "line";
    data.datasets.forEach(function (series, index) {
      series.backgroundColor = palette[index % palette.length];
      series.borderColor = palette[index % palette.length];
    });
    new window.Chart(canvas, {
      type: line ? "line" : "bar",
      data: data,
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: { stacked: Boolean(data.stacked) },
          y: { stacked: Boolean(data.stacked), beginAtZero: true }
        }
      }
    });
  });
})();
