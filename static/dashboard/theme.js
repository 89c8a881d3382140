// Theme: follows the system (prefers-color-scheme) unless the person chose one;
// the choice is kept in localStorage. Runs in <head> so the page never flashes.
(function () {
  var KEY = "dashboard-theme";
  var order = ["auto", "light", "dark"];
  function apply(theme) { document.documentElement.setAttribute("data-theme", theme); }
  apply(localStorage.getItem(KEY) || "auto");
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.querySelector("[data-theme-toggle]");
    if (button) button.textContent = "Theme: " + document.documentElement.getAttribute("data-theme");
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-theme-toggle]");
    if (!button) return;
    var current = document.documentElement.getAttribute("data-theme") || "auto";
    var next = order[(order.indexOf(current) + 1) % order.length];
    localStorage.setItem(KEY, next);
    apply(next);
    button.textContent = "Theme: " + next;
  });
})();
