/* chargelog charts, drawn with uPlot (vendored beside this file: uPlot.iife.min.js 1.6.32 from
   npm, MIT, see uPlot.LICENSE). No inline script: the page's Content-Security-Policy forbids it.

   Each element with data-chart="daily" or "monthly" fetches its totals from data-src (an
   /api/totals endpoint carrying the page's filters); data-chart="session" reads its series from
   the <script type="application/json"> block named by data-source. Every chart element gets
   data-drawn="true" once drawn (data-drawn="false" and a message if it could not be). */
(function () {
  "use strict";

  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var HEIGHT = 220;

  function color(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function width(el) {
    return Math.max(260, Math.floor(el.getBoundingClientRect().width) || 600);
  }

  function kwh(value) {
    return value == null ? "–" : value.toLocaleString(undefined, {
      minimumFractionDigits: 1, maximumFractionDigits: 1
    }) + " kWh";
  }

  function dayLabel(text) { // "2026-11-02" -> "2 Nov"
    return parseInt(text.slice(8, 10), 10) + " " + MONTHS[parseInt(text.slice(5, 7), 10) - 1];
  }

  function monthLabel(text) { // "2026-11" -> "Nov 26"
    return MONTHS[parseInt(text.slice(5, 7), 10) - 1] + " " + text.slice(2, 4);
  }

  function failed(el, message) {
    el.textContent = "Chart unavailable: " + message;
    el.classList.add("muted");
    el.dataset.drawn = "false";
  }

  function keepWidth(el, plot, height) {
    var pending = null;
    window.addEventListener("resize", function () {
      if (pending) { window.cancelAnimationFrame(pending); }
      pending = window.requestAnimationFrame(function () {
        plot.setSize({ width: width(el), height: height });
      });
    });
  }

  function axis(extra) {
    var base = {
      stroke: color("--muted", "#777"),
      grid: { stroke: color("--grid", "rgba(0,0,0,0.08)"), width: 1 },
      ticks: { show: false }
    };
    return Object.assign(base, extra || {});
  }

  /* Bars of kWh per bucket; the x axis is the bucket index, labelled by the server's local
     day or month, so the browser's own time zone never moves a bar to another day. */
  function bars(el, labels, values, label, name) {
    var xs = labels.map(function (_, i) { return i; });
    var most = Math.max.apply(null, values.concat([1]));
    var step = Math.max(1, Math.ceil(labels.length / Math.max(2, width(el) / 70)));
    var opts = {
      width: width(el),
      height: HEIGHT,
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      scales: {
        x: { time: false, range: [-0.5, xs.length - 0.5] },
        y: { range: [0, most * 1.1] }
      },
      axes: [
        axis({
          grid: { show: false },
          splits: function () { return xs.filter(function (i) { return i % step === 0; }); },
          values: function (u, splits) {
            return splits.map(function (i) {
              return labels[i] === undefined ? "" : label(labels[i]);
            });
          }
        }),
        axis({ size: 50, values: function (u, splits) { return splits.map(String); } })
      ],
      series: [
        { label: name, value: function (u, i) { return i == null ? "–" : labels[i] || "–"; } },
        {
          label: "Energy",
          value: function (u, v) { return kwh(v); },
          fill: color("--accent", "#0f7b5f"),
          stroke: color("--accent", "#0f7b5f"),
          width: 0,
          points: { show: false },
          paths: uPlot.paths.bars({ size: [0.75, 48], gap: 1 })
        }
      ]
    };
    var plot = new uPlot(opts, [xs, values], el);
    keepWidth(el, plot, HEIGHT);
    el.dataset.drawn = "true";
  }

  function totalsChart(el) {
    var kind = el.dataset.chart;
    fetch(el.dataset.src, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (data) {
        var rows = kind === "daily" ? data.days : data.months;
        var labels = rows.map(function (r) { return kind === "daily" ? r.day : r.month; });
        var values = rows.map(function (r) { return r.energy_kwh; });
        if (kind === "daily") {
          bars(el, labels, values, dayLabel, "Day");
        } else {
          bars(el, labels, values, monthLabel, "Month");
        }
      })
      .catch(function (error) { failed(el, error.message); });
  }

  function fromZero(u, lo, hi) {
    return [0, Math.max(1, (hi || 0) * 1.1)];
  }

  function sessionChart(el) {
    var source = document.getElementById(el.dataset.source);
    var data = JSON.parse(source.textContent);
    var zone = el.dataset.tz;
    var opts = {
      width: width(el),
      height: 300,
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: true }, kw: { range: fromZero }, kwh: { range: fromZero } },
      axes: [
        axis(),
        axis({ scale: "kw", size: 50, label: "kW" }),
        axis({ scale: "kwh", side: 1, size: 50, label: "kWh", grid: { show: false } })
      ],
      series: [
        {},
        {
          label: "Power", scale: "kw", stroke: color("--accent", "#0f7b5f"), width: 1.5,
          value: function (u, v) { return v == null ? "–" : v.toFixed(2) + " kW"; },
          points: { show: false }
        },
        {
          label: "Energy", scale: "kwh", stroke: color("--accent-2", "#d97706"), width: 2,
          value: function (u, v) { return kwh(v); },
          points: { show: false }
        }
      ]
    };
    var toDate = function (ts) { return new Date(ts * 1000); };
    if (zone) {
      try {
        uPlot.tzDate(new Date(), zone);
        toDate = function (ts) { return uPlot.tzDate(new Date(ts * 1000), zone); };
        opts.tzDate = toDate;
      } catch (e) { /* an unknown zone name: the browser's own zone is the best we have */ }
    }
    // 24-hour clock times in the site's zone, with the date under the first tick of each day.
    var clock = uPlot.fmtDate("{HH}:{mm}");
    var day = uPlot.fmtDate("{D} {MMM}");
    opts.axes[0].values = function (u, splits) {
      var last = "";
      return splits.map(function (ts) {
        var date = toDate(ts);
        var text = day(date);
        var label = clock(date) + (text !== last ? "\n" + text : "");
        last = text;
        return label;
      });
    };
    opts.series[0].value = function (u, ts) {
      return ts == null ? "–" : day(toDate(ts)) + " " + clock(toDate(ts));
    };
    var plot = new uPlot(opts, [data.t, data.power_kw, data.energy_kwh], el);
    keepWidth(el, plot, 300);
    el.dataset.drawn = "true";
  }

  function drawAll() {
    if (typeof uPlot === "undefined") {
      document.querySelectorAll("[data-chart]").forEach(function (el) {
        failed(el, "the chart library did not load");
      });
      return;
    }
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      try {
        if (el.dataset.chart === "session") { sessionChart(el); } else { totalsChart(el); }
      } catch (error) {
        failed(el, error.message);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
}());
