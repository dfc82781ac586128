/* Search, filter and sort the report without a server. Rows carry data-result, data-severity,
   data-framework, data-check and data-resource; a filter applies to the rows that carry its attribute. */
(function () {
  "use strict";
  var byId = function (id) { return document.getElementById(id); };
  var rows = Array.prototype.slice.call(
    document.querySelectorAll("table.filterable > tbody > tr, div.wp.filterable"));
  var text = rows.map(function (el) { return el.textContent.toLowerCase(); });
  function current() {
    return {
      q: byId("q").value.trim().toLowerCase(), result: byId("f-result").value,
      severity: byId("f-severity").value, framework: byId("f-framework").value,
      check: byId("f-check").value, resource: byId("f-resource").value.trim().toLowerCase()
    };
  }
  function keep(el, i, f) {
    var d = el.dataset;
    if (f.q && text[i].indexOf(f.q) < 0) return false;
    if (f.result && d.result !== undefined && d.result !== f.result) return false;
    if (f.severity && d.severity !== undefined && d.severity !== f.severity) return false;
    if (f.framework && d.framework !== undefined && d.framework !== f.framework) return false;
    if (f.check && d.check !== undefined && d.check.split(" ").indexOf(f.check) < 0) return false;
    if (f.resource && d.resource !== undefined && d.resource.toLowerCase().indexOf(f.resource) < 0) return false;
    return true;
  }
  function apply() {
    var f = current(), shown = 0;
    rows.forEach(function (el, i) {
      var ok = keep(el, i, f);
      el.style.display = ok ? "" : "none";
      if (ok) shown += 1;
    });
    byId("shown").textContent = shown + " of " + rows.length + " rows shown";
  }
  ["q", "f-result", "f-severity", "f-framework", "f-check", "f-resource"].forEach(function (id) {
    byId(id).addEventListener("input", apply);
  });
  function cellValue(tr, col) {
    var cell = tr.children[col];
    var value = cell ? cell.textContent.trim() : "";
    var number = parseFloat(value.replace(/,/g, ""));
    return isNaN(number) || !/^[\d.,]+$/.test(value) ? value.toLowerCase() : number;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("thead th").forEach(function (th, col) {
      th.classList.add("sort");
      th.title = "Sort by this column";
      th.addEventListener("click", function () {
        var ascending = th.dataset.dir !== "asc";
        th.dataset.dir = ascending ? "asc" : "desc";
        var body = table.tBodies[0];
        var list = Array.prototype.slice.call(body.rows);
        list.sort(function (a, b) {
          var x = cellValue(a, col), y = cellValue(b, col);
          return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
        });
        list.forEach(function (tr) { body.appendChild(tr); });
      });
    });
  });
  /* Following a link to an evidence record opens its raw response. */
  function reveal() {
    var target = location.hash && document.getElementById(location.hash.slice(1));
    if (target) {
      var details = target.querySelector("details");
      if (details) details.open = true;
    }
  }
  window.addEventListener("hashchange", reveal);
  reveal();
  apply();
})();
