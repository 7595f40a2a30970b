
(function () {
  "use strict";
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };
  function cellValues(row) {
    var values = {};
    each(row.cells, function (cell) {
      var key = cell.getAttribute("data-key");
      if (!key) { return; }
      var raw = cell.getAttribute("data-v"), text = cell.getAttribute("data-s");
      values[key] = raw !== null ? parseFloat(raw)
        : (text !== null ? text : cell.textContent.trim()).toLowerCase();
    });
    return values;
  }
  function comparer(state) {
    return function (a, b) {
      var x = a.values[state.key], y = b.values[state.key];
      var r = (typeof x === "number" && typeof y === "number") ? x - y
        : String(x).localeCompare(String(y));
      return state.dir * r || a.index - b.index;
    };
  }
  function bindHeaders(table, state, render) {
    var heads = table.tHead.rows[0].cells;
    each(heads, function (th) {
      var key = th.getAttribute("data-key");
      if (!key) { return; }
      th.tabIndex = 0;
      function cycle() {
        var first = th.classList.contains("num") ? -1 : 1;
        if (state.key !== key) { state.key = key; state.dir = first; }
        else if (state.dir === first) { state.dir = -first; }
        else { state.key = null; state.dir = 0; }
        each(heads, function (h) { h.removeAttribute("aria-sort"); });
        if (state.key) { th.setAttribute("aria-sort", state.dir > 0 ? "ascending" : "descending"); }
        render();
      }
      th.addEventListener("click", cycle);
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); cycle(); }
      });
    });
  }
  function moduleTree(table) {
    var tbody = table.tBodies[0];
    var items = Array.prototype.map.call(tbody.rows, function (row, index) {
      return { row: row, index: index, id: row.getAttribute("data-id"),
               parentId: row.getAttribute("data-parent"),
               depth: parseInt(row.getAttribute("data-depth"), 10),
               text: (row.getAttribute("data-name") + " " +
                      row.getAttribute("data-type")).toLowerCase(),
               values: cellValues(row), children: [], parent: null,
               toggle: row.querySelector("button.tog") };
    });
    var byId = {}, roots = [];
    items.forEach(function (it) { byId[it.id] = it; });
    items.forEach(function (it) {
      var parent = it.parentId ? byId[it.parentId] : null;
      if (parent) { it.parent = parent; parent.children.push(it); } else { roots.push(it); }
    });
    var openDepth = parseInt(table.getAttribute("data-open-depth"), 10);
    var expanded = {};
    items.forEach(function (it) { expanded[it.id] = it.depth < openDepth; });
    var state = { key: null, dir: 0, view: "tree", filter: "" };
    var cmp = comparer(state);
    function order() {
      if (state.view === "flat") {
        var all = items.slice();
        if (state.key) { all.sort(cmp); }
        return all;
      }
      var out = [];
      (function walk(list) {
        var sorted = list.slice();
        if (state.key) { sorted.sort(cmp); }
        sorted.forEach(function (it) { out.push(it); walk(it.children); });
      })(roots);
      return out;
    }
    function onOpenPath(it) {
      for (var p = it.parent; p; p = p.parent) { if (!expanded[p.id]) { return false; } }
      return true;
    }
    function render() {
      var keep = null;
      if (state.filter) {
        keep = {};
        items.forEach(function (it) {
          if (it.text.indexOf(state.filter) < 0) { return; }
          keep[it.id] = true;
          if (state.view === "tree") {
            for (var p = it.parent; p; p = p.parent) { keep[p.id] = true; }
          }
        });
      }
      var fragment = document.createDocumentFragment();
      order().forEach(function (it) {
        it.row.hidden = keep ? !keep[it.id] : !(state.view === "flat" || onOpenPath(it));
        if (it.toggle) {
          var open = !!expanded[it.id];
          it.toggle.textContent = open ? "\u25BE" : "\u25B8";
          it.toggle.setAttribute("aria-expanded", open ? "true" : "false");
        }
        fragment.appendChild(it.row);
      });
      tbody.appendChild(fragment);
      table.classList.toggle("flatview", state.view === "flat");
    }
    items.forEach(function (it) {
      if (!it.toggle) { return; }
      it.toggle.addEventListener("click", function (e) {
        e.stopPropagation();
        expanded[it.id] = !expanded[it.id];
        render();
      });
    });
    bindHeaders(table, state, render);
    var filter = document.getElementById("fw-filter");
    if (filter) {
      filter.addEventListener("input", function () {
        state.filter = filter.value.trim().toLowerCase();
        render();
      });
    }
    var view = document.getElementById("fw-view");
    if (view) {
      view.addEventListener("change", function () { state.view = view.value; render(); });
    }
    function setAll(open) {
      items.forEach(function (it) { if (it.children.length) { expanded[it.id] = open; } });
      render();
    }
    var expand = document.getElementById("fw-expand");
    var collapse = document.getElementById("fw-collapse");
    if (expand) { expand.addEventListener("click", function () { setAll(true); }); }
    if (collapse) { collapse.addEventListener("click", function () { setAll(false); }); }
    render();
  }
  function flatTable(table) {
    var tbody = table.tBodies[0];
    var items = Array.prototype.map.call(tbody.rows, function (row, index) {
      return { row: row, index: index, values: cellValues(row) };
    });
    var state = { key: null, dir: 0 };
    var cmp = comparer(state);
    bindHeaders(table, state, function () {
      var sorted = items.slice();
      if (state.key) { sorted.sort(cmp); }
      var fragment = document.createDocumentFragment();
      sorted.forEach(function (it) { fragment.appendChild(it.row); });
      tbody.appendChild(fragment);
    });
  }
  function tabs(group) {
    var buttons = group.querySelectorAll("button[data-target]");
    function select(button) {
      each(buttons, function (b) {
        var on = b === button;
        b.setAttribute("aria-selected", on ? "true" : "false");
        document.getElementById(b.getAttribute("data-target")).hidden = !on;
      });
    }
    each(buttons, function (b) { b.addEventListener("click", function () { select(b); }); });
    if (buttons.length) { select(buttons[0]); }
  }
  var tree = document.getElementById("fw-modules");
  if (tree) { moduleTree(tree); }
  each(document.querySelectorAll("table.sortable-table"), flatTable);
  each(document.querySelectorAll(".tabs"), tabs);
  document.documentElement.setAttribute("data-fw-ready", "true");
})();
