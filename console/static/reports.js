// The dashboard's charts: ECharts (vendored) draws each figure from the JSON in the page.
// Clicking a bar, slice, point or 市州 opens the list behind that number.
(function () {
  "use strict";
  var source = document.getElementById("figures-data");
  if (!source || typeof echarts === "undefined") { return; }
  var figures = JSON.parse(source.textContent);

  function option(f, width) {
    var labels = f.rows.map(function (r) { return r.label; });
    var values = f.rows.map(function (r) { return r.value; });
    var tooltip = { trigger: f.chart === "pie" || f.chart === "map" ? "item" : "axis" };
    if (f.chart === "pie") {
      return {
        tooltip: tooltip,
        series: [{ type: "pie", radius: ["35%", "65%"], data: f.rows.map(function (r) {
          return { name: r.label, value: r.value };
        }) }]
      };
    }
    if (f.chart === "map") {
      var max = Math.max.apply(null, values.concat([1]));
      return {
        tooltip: tooltip,
        visualMap: { min: 0, max: max, left: "left", bottom: 10, text: ["多", "少"], calculable: true,
                     inRange: { color: ["#e8eef7", "#1f5fa8"] } },
        series: [{ type: "map", map: "甘肃", roam: false, label: { show: true, fontSize: 10 },
                   data: f.rows.filter(function (r) { return r.area; }).map(function (r) {
                     return { name: r.area, value: r.value };
                   }) }]
      };
    }
    // Many bars, or long names (teams), read better lying down, names cut to fit narrow screens.
    var longest = Math.max.apply(null, labels.map(function (l) { return l.length; }).concat([0]));
    var horizontal = f.chart === "bar" && (labels.length > 8 || longest > 8);
    var room = Math.min(150, Math.round(width * 0.4));
    var category = { type: "category", data: labels,
                     axisLabel: horizontal ? { interval: 0, fontSize: 11, width: room - 10, overflow: "truncate" }
                                           : { interval: 0, fontSize: 11 } };
    var value = { type: "value", name: f.unit };
    return {
      tooltip: tooltip,
      grid: { left: horizontal ? room : 50, right: 20, top: 30, bottom: 40 },
      xAxis: horizontal ? value : category,
      yAxis: horizontal ? Object.assign({}, category, { inverse: true }) : value,
      series: [{ type: f.chart === "line" ? "line" : "bar", data: values, smooth: true,
                 itemStyle: { color: "#1f5fa8" } }]
    };
  }

  figures.forEach(function (f) {
    var element = document.getElementById("chart-" + f.key);
    if (!element) { return; }
    if (!f.rows.length) { element.textContent = "暂无数据"; element.style.height = "auto"; return; }
    var chart = echarts.init(element);
    chart.setOption(option(f, element.clientWidth || 600));
    chart.on("click", function (params) {
      var row = f.rows.filter(function (r) {
        return r.label === params.name || r.area === params.name;
      })[0];
      if (row && row.link) { window.location.href = row.link; }
    });
    element.setAttribute("data-ready", "1");
    window.addEventListener("resize", function () { chart.resize(); });
  });
}());
