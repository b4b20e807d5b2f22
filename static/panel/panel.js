/* Small enhancements; every page works without them. The server computes the real charge. */
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  function lines(text) {
    return text.split(/\r\n|\r|\n/).filter(function (l) { return l.trim() !== ""; }).length;
  }

  function intValue(form, name) {
    var el = form.querySelector('[name="' + name + '"]');
    if (!el || el.disabled) return null;
    var v = parseInt(el.value, 10);
    return isNaN(v) ? null : v;
  }

  function formatMoney(value) {
    // Up to 5 decimals like the server's price_for, at least 2.
    var s = (Math.round(value * 100000) / 100000).toFixed(5).replace(/0+$/, "");
    var parts = s.split(".");
    return parts[0] + "." + (parts[1] || "").padEnd(2, "0");
  }

  function chargeFor(form) {
    var rate = parseFloat(form.dataset.rate || "0");
    var mode = form.dataset.mode || "quantity";
    var units = 0;
    if (mode === "package") {
      units = 1000;
    } else if (mode === "subscription") {
      // Old posts asked for are paid up front too (orders/validation.py prices the same way).
      var posts = intValue(form, "posts"), max = intValue(form, "max"), old = intValue(form, "old_posts") || 0;
      units = posts && max ? (posts + old) * max : 0;
    } else if (mode.indexOf("lines:") === 0) {
      var field = form.querySelector('[name="' + mode.slice(6) + '"]');
      units = field ? lines(field.value) : 0;
    } else {
      units = intValue(form, "quantity") || 0;
    }
    var drip = form.querySelector("[data-drip-toggle]");
    var runs = intValue(form, "runs");
    if (drip && drip.checked && runs && runs > 1) units *= runs;
    return rate * units / 1000;
  }

  function setupOrderForm() {
    var form = document.getElementById("order-form");
    if (!form) return;
    var out = form.querySelector("[data-charge]");
    var update = function () { out.textContent = formatMoney(chargeFor(form)); };
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    var drip = form.querySelector("[data-drip-toggle]");
    var dripFields = form.querySelector("[data-drip-fields]");
    if (drip && dripFields) {
      var sync = function () {
        dripFields.hidden = !drip.checked;
        dripFields.querySelectorAll("input").forEach(function (i) { i.disabled = !drip.checked; });
        update();
      };
      drip.addEventListener("change", sync);
      sync();
    }
    update();
  }

  function setupServicePicker() {
    var picker = document.getElementById("service-picker");
    if (!picker) return;
    var category = picker.querySelector("[data-category-select]");
    var select = picker.querySelector("[data-service-select]");
    var search = picker.querySelector("[data-service-search]");
    var filter = function () {
      var cat = category.value;
      var q = (search.value || "").trim().toLowerCase();
      select.querySelectorAll("optgroup").forEach(function (group) {
        var visible = 0;
        group.querySelectorAll("option").forEach(function (opt) {
          var show = (!cat || opt.dataset.category === cat) && (!q || opt.textContent.toLowerCase().indexOf(q) !== -1);
          opt.hidden = !show;
          opt.disabled = !show && !opt.selected;
          if (show) visible++;
        });
        group.hidden = visible === 0;
      });
    };
    category.addEventListener("change", filter);
    search.addEventListener("input", filter);
    select.addEventListener("change", function () {
      if (select.value) window.location.search = "?service=" + encodeURIComponent(select.value);
    });
    filter();
  }

  function setupTableFilter() {
    document.querySelectorAll("[data-table-filter]").forEach(function (input) {
      var table = document.querySelector(input.dataset.tableFilter);
      if (!table) return;
      input.addEventListener("input", function () {
        var q = input.value.trim().toLowerCase();
        table.querySelectorAll("tbody[data-group]").forEach(function (body) {
          var visible = 0;
          body.querySelectorAll("tr[data-search]").forEach(function (row) {
            var show = !q || row.dataset.search.indexOf(q) !== -1;
            row.hidden = !show;
            if (show) visible++;
          });
          body.hidden = visible === 0;
        });
      });
    });
  }

  onReady(function () {
    document.querySelectorAll("[data-autosubmit]").forEach(function (el) {
      el.addEventListener("change", function () { el.form.submit(); });
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (e) { if (!window.confirm(form.dataset.confirm)) e.preventDefault(); });
    });
    document.querySelectorAll("[data-copy]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var target = document.querySelector(btn.dataset.copy);
        if (target && navigator.clipboard) navigator.clipboard.writeText(target.textContent.trim());
      });
    });
    setupServicePicker();
    setupOrderForm();
    setupTableFilter();
  });
})();
