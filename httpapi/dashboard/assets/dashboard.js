// dashboard.js draws the charts of a keymeter page. The page is complete
// without it: every number is in a table. For each <figure class="chart">
// it reads the JSON in the <script type="application/json"> whose id is
// the figure's id + "-data":
//
//   {"unit": "requests", "days": ["2025-10-01", ...], "x": [unix seconds, ...],
//    "series": [{"label": "acme", "values": ["1234", ...]}, ...], "compare": false}
//
// Values are exact decimal strings ("" for no value). They become numbers
// only to be drawn; the legend shows the strings, and a line's exact
// total (summed as BigInt) when the pointer is not on a day. With
// "compare" the second line is drawn dashed over a wider first one: two
// figures that should agree. Once drawn, the figure
// carries what it drew, for people's tools and for the browser tests:
//
//   data-drawn="true", data-days (JSON), data-series (JSON: label and exact
//   values of each line), data-plotted (JSON: the numbers handed to uPlot),
//   data-totals (JSON: each line's exact total, as the legend shows it).
(function () {
  "use strict";

  var palette = ["#2f5bd3", "#d9822b", "#1d7a45", "#b5341b", "#7b4fc9", "#0f8a8a", "#8a6d0f", "#c2418f"];

  // group puts thousands separators in a decimal string, exactly.
  function group(s) {
    var sign = s.charAt(0) === "-" ? "-" : "";
    var parts = s.slice(sign.length).split(".");
    var i = parts[0], out = "";
    while (i.length > 3) {
      out = "," + i.slice(-3) + out;
      i = i.slice(0, -3);
    }
    return sign + i + out + (parts.length > 1 ? "." + parts[1] : "");
  }

  function valueText(unit, s) {
    if (s === "") return "—";
    if (unit === "%") return s + "%";
    if (unit === "bytes") return group(s) + " B";
    return group(s);
  }

  // axisText labels an axis tick (a drawn position, not a figure).
  function axisText(unit, v) {
    if (unit === "%") return v + "%";
    var abs = Math.abs(v), units = unit === "bytes" ? ["B", "kB", "MB", "GB", "TB", "PB"] : ["", "k", "M", "G", "T", "P"];
    var k = 0;
    while (abs >= 1000 && k < units.length - 1) { abs /= 1000; v /= 1000; k++; }
    var t = Math.abs(v) < 10 && k > 0 ? v.toFixed(1) : String(Math.round(v));
    return t + (units[k] ? (unit === "bytes" ? " " : "") + units[k] : "");
  }

  // total sums a line's integer values exactly; "" for percentages.
  function total(unit, values) {
    if (unit === "%" || typeof BigInt === "undefined") return "";
    var t = BigInt(0);
    values.forEach(function (v) { if (v !== "") t += BigInt(v); });
    return t.toString();
  }

  var day = 86400;

  function draw(fig) {
    var src = document.getElementById(fig.id + "-data");
    var plot = fig.querySelector(".plot");
    if (!src || !plot || typeof uPlot === "undefined") return;
    var c = JSON.parse(src.textContent);
    var data = [c.x];
    var period = c.days.length ? c.days[0] + " to " + c.days[c.days.length - 1] : "";
    var series = [{ label: "Day", value: function (u, v, si, i) { return i == null ? period : c.days[i]; } }];
    var totals = [];
    c.series.forEach(function (s, k) {
      data.push(s.values.map(function (v) { return v === "" ? null : Number(v); }));
      var sum = total(c.unit, s.values);
      totals.push(sum);
      var line = {
        label: s.label,
        stroke: palette[k % palette.length],
        width: 2,
        points: { show: c.x.length <= 62, size: 5 },
        value: function (u, v, si, i) {
          if (i == null) return sum === "" ? "—" : valueText(c.unit, sum);
          return valueText(c.unit, s.values[i]);
        }
      };
      if (c.compare && k === 0) line.width = 5;
      if (c.compare && k === 1) line.dash = [6, 4];
      series.push(line);
    });
    var yRange = c.unit === "%" ? [0, 100] : function (u, min, max) { return [0, max > 0 ? max * 1.08 : 1]; };
    var opts = {
      width: Math.max(280, Math.floor(fig.clientWidth || 600)),
      height: 220,
      series: series,
      scales: { x: { time: true }, y: { range: yRange } },
      axes: [{ incrs: [day, 2 * day, 7 * day, 14 * day, 28 * day, 91 * day, 364 * day] }, { size: 64, values: function (u, ticks) { return ticks.map(function (v) { return axisText(c.unit, v); }); } }],
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "UTC"); },
      legend: { live: true }
    };
    var u = new uPlot(opts, data, plot);
    if (typeof ResizeObserver !== "undefined") {
      new ResizeObserver(function () {
        var w = Math.max(280, Math.floor(fig.clientWidth));
        if (w !== u.width) u.setSize({ width: w, height: 220 });
      }).observe(fig);
    }
    fig.dataset.days = JSON.stringify(c.days);
    fig.dataset.series = JSON.stringify(c.series.map(function (s) { return { label: s.label, values: s.values }; }));
    fig.dataset.plotted = JSON.stringify(u.data.slice(1));
    fig.dataset.totals = JSON.stringify(totals);
    fig.dataset.drawn = "true";
    // The chart shows the numbers now; fold the table beside it (it stays
    // one click away, and is there for print).
    var block = fig.closest(".chart-block");
    var table = block && block.querySelector("details.data");
    if (table) table.open = false;
  }

  document.documentElement.classList.add("js");
  document.querySelectorAll("figure.chart").forEach(draw);
})();
