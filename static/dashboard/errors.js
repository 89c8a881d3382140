// The errors pages of the dashboard. Every page works without this file; it adds:
// - Periskop's links (/#/{service} and /#/{service}/errors/{key}) sent to our pages;
// - the Copy button of the curl command (navigator.clipboard, or a fallback);
// - filters applied as soon as a select changes;
// - ← / → (or k / j) to follow the rel="prev" / rel="next" links.
(function () {
  "use strict";
  var BASE = "/dashboard/errors/";

  function decode(text) {
    try { return decodeURIComponent(text); } catch (e) { return text; }
  }

  // "#/shop/errors/KeyError@ab12" -> "/dashboard/errors/shop/errors/KeyError%40ab12/".
  function periskopUrl(hash) {
    var match = /^#\/([^\/]+)(?:\/errors\/(.+))?\/?$/.exec(hash || "");
    if (!match) return null;
    var url = BASE + encodeURIComponent(decode(match[1])) + "/";
    if (match[2]) url += "errors/" + encodeURIComponent(decode(match[2])) + "/";
    return url;
  }
  window.errorsDashboard = { periskopUrl: periskopUrl };
  var target = location.pathname === BASE ? periskopUrl(location.hash) : null;
  if (target) { location.replace(target); return; }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Plain http on a closed network: no Clipboard API, the old way still works.
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var done = false;
      try { done = document.execCommand("copy"); } catch (e) { done = false; }
      document.body.removeChild(area);
      if (done) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    button.hidden = false;
    var status = button.parentNode.querySelector(".copy-status");
    button.addEventListener("click", function () {
      copyText(source.textContent).then(function () {
        if (status) status.textContent = "Copied.";
      }, function () {
        selectText(source);  // at least ready for Ctrl+C
        if (status) status.textContent = "Selected: press Ctrl+C to copy.";
      });
    });
  });

  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () {
      var page = select.form.querySelector("input[name=page]");
      if (page) page.remove();
      select.form.submit();
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || event.target.isContentEditable) return;
    var rel = { ArrowLeft: "prev", k: "prev", ArrowRight: "next", j: "next" }[event.key];
    var link = rel && document.querySelector('a[rel="' + rel + '"]');
    if (link) { location.href = link.href; }
  });
})();
