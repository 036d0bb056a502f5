  const clock = function (s) {
    const t = new Date(d.start + s * 1000 + d.offset * 1000);
    const p = function (n) { return String(n).padStart(2, "0"); };
    return p(t.getUTCHours()) + ":" + p(t.getUTCMinutes()) + ":" + p(t.getUTCSeconds());
  };
  const palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939"];
  const timeAxis = { type: "linear", min: 0, max: Math.max(d.end, 1), ticks: { callback: clock, maxTicksLimit: 12 }, title: { display: true, text: "time" } };
  const common = { animation: false, maintainAspectRatio: false, parsing: false, normalized: true,
    interaction: { mode: "nearest", intersect: false },
    plugins: { tooltip: { callbacks: { title: function (items) { return items.length ? clock(items[0].parsed.x) : ""; } } } } };
  const points = function (values) { return values.map(function (v, i) { return { x: d.t[i], y: v }; }); };
  // Each recorded sysctl change is a dashed vertical line from 0 to top.
  const marks = function (top) {
    const data = [];
    d.changes.forEach(function (c) { data.push({ x: c.at, y: 0 }, { x: c.at, y: top }, { x: c.at, y: null }); });
    return { label: "sysctl changed", data: data, borderColor: "#555", borderDash: [4, 4], borderWidth: 1, pointRadius: 0, spanGaps: false,
      changes: d.changes };
  };
  const peak = Math.max.apply(null, [1].concat(d.states.map(function (s) { return Math.max.apply(null, [0].concat(s.values)); })));
  let charts = 0;

  new Chart(document.getElementById("states"), {
    type: "line",
    data: { datasets: d.states.map(function (s, i) {
      return { label: s.name, data: points(s.values), borderColor: palette[i % palette.length], pointRadius: 0, borderWidth: 1.5 };
    }).concat(d.changes.length ? [marks(peak)] : []) },
    options: Object.assign({}, common, { scales: { x: timeAxis, y: { beginAtZero: true, title: { display: true, text: "sockets" } } } })
  });
  charts++;

  new Chart(document.getElementById("pressure"), {
    type: "line",
    data: { datasets: d.pressure.map(function (s, i) {
      return { label: s.name, data: points(s.values), borderColor: palette[i % palette.length], pointRadius: 0, borderWidth: 1.5, spanGaps: false };
    }).concat(d.changes.length ? [marks(100)] : []) },
    options: Object.assign({}, common, { scales: { x: timeAxis, y: { min: 0, max: 100, title: { display: true, text: "% of ports used" } } } })
  });
  charts++;

  // One floating bar per stretch a finding was present; a finding that
  // came and went has several, drawn on its row.
  const colour = { critical: "#d62728", warning: "#ff9f1a", info: "#1f77b4" };
  const runs = [];
  d.findings.forEach(function (f) { f.runs.forEach(function (r) { runs.push({ x: r.x, y: f.name, severity: r.severity }); }); });
  document.getElementById("findings-box").style.height = Math.max(120, 60 + 28 * d.findings.length) + "px";
  new Chart(document.getElementById("findings"), {
    type: "bar",
    data: { labels: d.findings.map(function (f) { return f.name; }), datasets: [{ label: "present", data: runs,
      backgroundColor: runs.map(function (r) { return colour[r.severity] || "#888"; }), borderSkipped: false, barPercentage: 0.7 }] },
    options: { animation: false, maintainAspectRatio: false, indexAxis: "y", parsing: { xAxisKey: "x", yAxisKey: "y" },
      plugins: { legend: { display: false }, tooltip: { callbacks: { label: function (c) {
        return c.raw.severity + ": " + clock(c.raw.x[0]) + " to " + clock(c.raw.x[1]); } } } },
      scales: { x: timeAxis, y: { type: "category" } } }
  });
  charts++;
  document.body.dataset.charts = String(charts);
})();
