// The checks pages of the dashboard: old links, and live statuses without reloading.
//
// Loaded in <head>, so that old links are sent on before the page is drawn:
//   /dashboard/#/{service}/errors/{key}  (Periskop's alert links, via / -> /dashboard/)
//       -> /dashboard/errors/{service}/errors/{key}/
//   /dashboard/#{project}/{name}  (Telescope's UI, via /html/index.html)
//       -> /dashboard/checks/{project}/{name}/
//
// Then ONE timer per page polls the status feed (data-status-url, a few bytes per
// check, 304 when nothing changed) every data-refresh seconds (the smallest TTL,
// 5 to 60 s), and updates data-state attributes in place: check rows, the failing
// list, the headline and counts, project badges, diagram elements. On a check's page
// a new result reloads the page's live part (fetched, not navigated).
(function () {
  "use strict";

  function reencode(part) {
    try { part = decodeURIComponent(part); } catch (e) { /* keep it as it is */ }
    return encodeURIComponent(part);
  }

  // --- Old links --------------------------------------------------------------------
  if (location.pathname === "/dashboard/" && location.hash.length > 1) {
    var periskop = /^#\/([^\/]+)\/errors\/(.+)$/.exec(location.hash);
    var telescope = /^#([^\/]+)\/([^\/]+)$/.exec(location.hash);
    if (periskop) {
      location.replace("/dashboard/errors/" + reencode(periskop[1]) + "/errors/" +
                       reencode(periskop[2]) + "/");
      return;
    }
    if (telescope) {
      location.replace("/dashboard/checks/" + reencode(telescope[1]) + "/" +
                       reencode(telescope[2]) + "/");
      return;
    }
  }

  // --- Relative times ("3 minutes ago") -----------------------------------------------
  var UNITS = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600],
               ["minute", 60]];

  function ago(iso) {
    if (!iso) return "never";
    var seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    for (var i = 0; i < UNITS.length; i++) {
      var n = Math.floor(seconds / UNITS[i][1]);
      if (n >= 1) return n + " " + UNITS[i][0] + (n > 1 ? "s" : "") + " ago";
    }
    return "just now";
  }

  function refreshTimes(root) {
    var times = (root || document).querySelectorAll("time[data-ago]");
    for (var i = 0; i < times.length; i++) {
      var iso = times[i].getAttribute("datetime");
      if (iso) times[i].textContent = ago(iso);
    }
  }

  // --- Polling ---------------------------------------------------------------------------
  function start() {
    var page = document.getElementById("checks-page");
    if (!page) return;
    var url = page.getAttribute("data-status-url");
    var interval = Math.max(5, Math.min(60, +page.getAttribute("data-refresh") || 60)) * 1000;
    var onStatus = page.getAttribute("data-page") === "check" ? checkPage(page) : overview(page);
    var timer = null;

    function schedule(ms) {
      clearTimeout(timer);
      timer = setTimeout(poll, ms);
    }

    function poll() {
      fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}})
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (payload) {
          setOffline(false);
          if (payload.refresh) interval = Math.max(5, Math.min(60, payload.refresh)) * 1000;
          return onStatus(payload.checks || {});
        })
        .catch(function () { setOffline(true); })
        .then(function (soon) {
          refreshTimes();
          // `soon`: the page waits for a run it asked for, and looks again sooner.
          schedule(soon || (document.hidden ? Math.max(interval, 60000) : interval));
        });
    }

    // A hidden tab polls at most once a minute; coming back polls at once.
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) schedule(0);
    });
    page.pollNow = function () { schedule(0); };
    refreshTimes();
    schedule(interval);
  }

  function setOffline(offline) {
    document.documentElement.classList.toggle("status-offline", offline);
    var notice = document.querySelector("#headline .offline");
    if (notice) notice.hidden = !offline;
  }

  // `shown`: the state as it reads ("crashed" for a failing check that crashed);
  // `chain`: the failing checks a blocked one depends on, root cause last.
  function setState(element, state, shown, chain) {
    element.setAttribute("data-state", state);
    var label = element.querySelector(".st");
    if (label) label.textContent = shown || state;
    var via = element.querySelector(".chain");
    if (via) via.textContent = chain && chain.length ? "by " + chain.join(" → ") : "";
  }

  // --- The overview ---------------------------------------------------------------------
  function overview(page) {
    var checkRoot = page.getAttribute("data-check-root");
    var total = +page.getAttribute("data-total");
    var headline = document.getElementById("headline");
    var failingList = headline.querySelector(".failing-list");

    function checkUrl(key) {
      var slash = key.indexOf("/");
      return checkRoot + encodeURIComponent(key.slice(0, slash)) + "/" +
             encodeURIComponent(key.slice(slash + 1)) + "/";
    }

    return function (checks) {
      var keys = Object.keys(checks);
      var counts = {passing: 0, failing: 0, unknown: 0};
      var projects = {};
      var latest = "";
      keys.forEach(function (key) {
        var entry = checks[key];
        counts[entry.state] = (counts[entry.state] || 0) + 1;
        var project = key.slice(0, key.indexOf("/"));
        var p = projects[project] || (projects[project] = {passing: 0, failing: 0, unknown: 0, total: 0});
        p[entry.state] = (p[entry.state] || 0) + 1;
        p.total += 1;
        if (entry.updated && entry.updated > latest) latest = entry.updated;
      });

      var elements = document.querySelectorAll("[data-check], [data-diagram-check]");
      for (var i = 0; i < elements.length; i++) {
        var element = elements[i];
        var key = element.getAttribute("data-check") || element.getAttribute("data-diagram-check");
        var entry = checks[key];
        setState(element, entry ? entry.state : "unknown", entry && entry.label, entry && entry.blocked_by);
        if (element.hasAttribute("data-diagram-check") && entry) {
          var title = element.querySelector("title");
          if (title) title.textContent = title.textContent.replace(/^([^\n]*?): \w+/, "$1: " + entry.state);
        }
      }

      // The failing list: add the new ones, drop the recovered ones.
      var listed = {};
      var items = failingList.querySelectorAll("[data-failing-check]");
      for (var j = 0; j < items.length; j++) {
        var listedKey = items[j].getAttribute("data-failing-check");
        if (!checks[listedKey] || checks[listedKey].state !== "failing") items[j].remove();
        else listed[listedKey] = true;
      }
      keys.forEach(function (key) {
        if (checks[key].state !== "failing" || listed[key]) return;
        var item = document.createElement("li");
        item.setAttribute("data-failing-check", key);
        var link = document.createElement("a");
        link.href = checkUrl(key);
        link.textContent = key;
        item.appendChild(link);
        failingList.appendChild(item);
      });
      failingList.hidden = counts.failing === 0;

      var state, text;
      if (counts.failing) {
        state = "failing";
        text = "The system has " + counts.failing + " failing check" + (counts.failing > 1 ? "s" : "");
      } else if (!keys.length) {
        state = "unknown"; text = "There is no check yet";
      } else if (counts.unknown) {
        state = "unknown";
        text = "The system has " + counts.unknown + " check" + (counts.unknown > 1 ? "s" : "") +
               " without a result yet";
      } else {
        state = "passing"; text = "The system is currently healthy";
      }
      headline.setAttribute("data-state", state);
      headline.querySelector(".headline-text").textContent = text;
      ["passing", "failing", "unknown", "blocked"].forEach(function (name) {
        var counter = headline.querySelector('[data-count="' + name + '"]');
        if (counter) counter.textContent = counts[name] || 0;
      });
      var last = headline.querySelector(".counts > time[data-ago]");
      if (last && latest) last.setAttribute("datetime", latest);
      var changed = headline.querySelector(".changed");
      if (changed) changed.hidden = keys.length === total;

      var badges = document.querySelectorAll("[data-project-badge]");
      for (var b = 0; b < badges.length; b++) {
        var p = projects[badges[b].getAttribute("data-project-badge")];
        if (!p) continue;
        var projectState = p.failing ? "failing" : (p.passing === p.total ? "passing" : "unknown");
        badges[b].setAttribute("data-state", projectState);
        var message = badges[b].querySelector(".msg");
        if (message) {
          message.textContent = p.failing ? (p.total > 1 ? p.failing + " failing" : "failing") : projectState;
        }
      }
    };
  }

  // --- A check's page -----------------------------------------------------------------------
  function checkPage(page) {
    var key = page.getAttribute("data-check-key");
    var shown = page.getAttribute("data-updated") || null;
    var waitingSince = 0;

    function reload() {
      return fetch(location.href, {credentials: "same-origin"})
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.text();
        })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html");
          var live = fresh.getElementById("check-live");
          var freshPage = fresh.getElementById("checks-page");
          if (!live || !freshPage) return;
          document.getElementById("check-live").replaceWith(document.adoptNode(live));
          shown = freshPage.getAttribute("data-updated") || null;
          page.setAttribute("data-updated", shown || "");
          bindRefresh();
          refreshTimes();
        });
    }

    function bindRefresh() {
      var form = document.getElementById("refresh");
      if (!form) return;
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var status = form.querySelector(".refresh-status");
        var button = form.querySelector("button");
        var token = form.querySelector("[name=csrfmiddlewaretoken]").value;
        button.disabled = true;
        status.textContent = "Queued…";
        fetch(form.action, {
          method: "POST",
          credentials: "same-origin",
          headers: {"X-CSRFToken": token, Accept: "application/json"},
        })
          .then(function (response) {
            return response.json().catch(function () { return {}; }).then(function (body) {
              if (response.status !== 202) throw new Error(body.detail || "HTTP " + response.status);
              status.textContent = "Running…";
              waitingSince = Date.now();
              page.pollNow();
            });
          })
          .catch(function (error) {
            button.disabled = false;
            status.textContent = "Could not queue a run: " + error.message;
          });
      });
    }

    bindRefresh();
    var snippet = document.querySelector(".badge-snippet input");
    if (snippet) snippet.addEventListener("focus", function () { snippet.select(); });

    return function (checks) {
      var entry = checks[key];
      var head = document.querySelector("#check-live [data-check]");
      if (entry && head) setState(head, entry.state, entry.label, entry.blocked_by);
      if (entry && entry.updated !== shown) {
        waitingSince = 0;
        reload().catch(function () { setOffline(true); });
      } else if (waitingSince) {
        // A queued run is not back yet: look again soon, for two minutes at most.
        if (Date.now() - waitingSince < 120000) return 2000;
        waitingSince = 0;
      }
      return 0;
    };
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
