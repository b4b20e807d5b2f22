// Add funds: the quote comes from the server (fee, bonus, conversion); the return page polls until the
// gateway's confirmation lands. No money rule is computed here.
(function () {
  "use strict";
  var form = document.querySelector("[data-deposit-form]");
  if (form) {
    var box = form.querySelector("[data-deposit-quote]"), error = form.querySelector("[data-quote-error]");
    var timer = null, seq = 0;
    var refresh = function () {
      var gateway = form.elements.gateway, amount = form.elements.amount;
      if (!gateway || !amount || !amount.value) { box.hidden = true; error.hidden = true; return; }
      var mine = ++seq;
      var url = form.dataset.quoteUrl + "?gateway=" + encodeURIComponent(gateway.value) +
        "&amount=" + encodeURIComponent(amount.value);
      fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (q) {
        if (mine !== seq) { return; }
        if (q.error) { box.hidden = true; error.textContent = q.error; error.hidden = false; return; }
        error.hidden = true;
        box.querySelector("[data-quote-pay]").textContent = q.pay;
        box.querySelector("[data-quote-credit]").textContent = q.credit;
        box.querySelector("[data-quote-bonus]").textContent = q.bonus ? "+ " + q.bonus : "";
        box.hidden = false;
      }).catch(function () { box.hidden = true; });
    };
    form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 250); });
    form.addEventListener("change", refresh);
    refresh();
  }
  var page = document.querySelector("[data-deposit]");
  if (page && (page.dataset.status === "pending" || page.dataset.status === "created")) {
    var tries = 0;
    var poll = function () {
      fetch(page.dataset.statusUrl, {credentials: "same-origin"}).then(function (r) { return r.json(); })
        .then(function (s) {
          if (s.status && s.status !== page.dataset.status) { window.location.reload(); return; }
          if (++tries < 150) { setTimeout(poll, 2000); }
        }).catch(function () { if (++tries < 150) { setTimeout(poll, 4000); } });
    };
    setTimeout(poll, 2000);
  }
})();
