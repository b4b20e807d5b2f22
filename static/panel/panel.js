/* Small enhancements; every page works without them. The server computes the real charge. */
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }

  var QUOTE_DELAY_MS = 250;

  // The charge shown is always the server's figure for the fields as they are now: every change asks
  // the quote endpoint again (debounced). While an answer is awaited the figure is not shown, so a stale one
  // never passes for the current charge; an older answer arriving late is dropped.
  function setupOrderForm() {
    var form = document.getElementById("order-form");
    if (!form || !form.dataset.quoteUrl || !window.fetch) return;
    var out = form.querySelector("[data-charge]");
    var timer = null;
    var latest = 0;

    var show = function (text, note) {
      out.textContent = text;
      out.title = note || "";
      out.removeAttribute("data-charge-pending");
      out.setAttribute("data-charge", "");
    };
    var ask = function (asked) {
      // POSTed, not put in the query string: a list field (comments, usernames) can be far longer than a URL.
      // FormData leaves out disabled fields, so drip-feed switched off is not priced.
      fetch(form.dataset.quoteUrl, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: {"Accept": "application/json"}
      }).then(function (response) {
        return response.json();
      }).then(function (answer) {
        if (asked !== latest) return;
        if (answer.error) show("—", answer.error); else show(answer.display);
      }).catch(function () {
        if (asked === latest) show("—");
      });
    };
    var update = function () {
      var asked = ++latest;
      out.removeAttribute("data-charge");
      out.setAttribute("data-charge-pending", "");
      out.textContent = "…";
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { ask(asked); }, QUOTE_DELAY_MS);
    };

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

  // Below 1024 px the sidebar is a drawer (panel.css). Without this script the button is a link to #sidebar,
  // which opens it through :target.
  function setupMenu() {
    var button = document.querySelector("[data-menu-toggle]");
    if (!button) return;
    var setOpen = function (open) {
      document.body.classList.toggle("menu-open", open);
      button.setAttribute("aria-expanded", open ? "true" : "false");
    };
    button.addEventListener("click", function (e) {
      e.preventDefault();
      setOpen(!document.body.classList.contains("menu-open"));
    });
    document.querySelectorAll("[data-menu-close]").forEach(function (el) {
      el.addEventListener("click", function (e) { e.preventDefault(); setOpen(false); });
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && document.body.classList.contains("menu-open")) { setOpen(false); button.focus(); }
    });
  }

  onReady(function () {
    setupMenu();
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
