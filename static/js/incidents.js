// Service desk pages: keyboard shortcuts, live priority, the CI look-up with the caller's
// devices first, bulk selection, and htmx swaps of refused actions (no inline JS: CSP).
(function () {
  "use strict";

  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  // "/" focuses the list's search box, "n" opens a new incident; Ctrl+Enter submits a form.
  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      const form = event.target.closest && event.target.closest("form");
      if (form) {
        event.preventDefault();
        form.requestSubmit();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) {
      return;
    }
    if (event.key === "/") {
      const search = document.querySelector("[data-search]");
      if (search) {
        event.preventDefault();
        search.focus();
        search.select();
      }
    } else if (event.key === "n") {
      const link = document.querySelector("a[accesskey=n]");
      if (link) {
        event.preventDefault();
        window.location.href = link.href;
      }
    }
  });

  // The priority from impact x urgency, shown as the user changes them.
  function showPriority(form) {
    const out = document.getElementById("live-priority");
    if (!form || !out || !form.dataset.priorityMatrix) {
      return;
    }
    const matrix = JSON.parse(form.dataset.priorityMatrix);
    const impact = form.querySelector("[name=impact]");
    const urgency = form.querySelector("[name=urgency]");
    if (impact && urgency && matrix[impact.value]) {
      out.textContent = "P" + matrix[impact.value][urgency.value];
    }
  }
  document.addEventListener("change", function (event) {
    const form = event.target.closest && event.target.closest("form[data-priority-matrix]");
    if (form && (event.target.name === "impact" || event.target.name === "urgency")) {
      showPriority(form);
    }
    // Quick-log buttons log for the caller chosen on the form.
    if (event.target.name === "caller") {
      document.querySelectorAll("form[data-quick-log] input[name=caller]").forEach(function (i) {
        i.value = event.target.value;
      });
    }
    if (event.target.matches && event.target.matches("[data-select-all]")) {
      const table = event.target.closest("table");
      table.querySelectorAll("input[name=incidents]").forEach(function (box) {
        box.checked = event.target.checked;
      });
    }
  });

  // CIs: search as you type (name, host name, serial, asset tag), the caller's devices first.
  function setUpCis(select) {
    if (select.tomselect || typeof TomSelect === "undefined") {
      return;
    }
    const url = select.getAttribute("data-ci-lookup");
    new TomSelect(select, {
      valueField: "id",
      labelField: "text",
      searchField: [],
      placeholder: select.getAttribute("data-placeholder") || "",
      plugins: { remove_button: { title: "Remove" } },
      maxOptions: 20,
      loadThrottle: 250,
      preload: "focus",
      load: function (query, callback) {
        const caller = document.getElementById("id_caller");
        const params = new URLSearchParams({ q: query, caller: caller ? caller.value : "" });
        const self = this;
        fetch(url + "?" + params.toString(), {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        })
          .then(function (response) { return response.ok ? response.json() : { results: [] }; })
          .then(function (data) { self.clearOptions(); callback(data.results); })
          .catch(function () { callback(); });
      },
      render: {
        option: function (item, escape) {
          const extra = [item.type, item.hostname, item.serial_number, item.asset_tag]
            .filter(Boolean).map(escape);
          return '<div data-ci-option="' + escape(String(item.id)) + '">' +
            (item.own ? '<span class="badge text-bg-info me-1">caller\'s</span>' : "") +
            escape(item.text) +
            (extra.length ? ' <small class="text-muted">' + extra.join(" · ") + "</small>" : "") +
            "</div>";
        },
        no_results: function () { return '<div class="no-results">Nothing found.</div>'; },
      },
    });
  }
  function setUpAll(root) {
    (root || document).querySelectorAll("select[data-ci-lookup]").forEach(setUpCis);
    (root || document).querySelectorAll("form[data-priority-matrix]").forEach(showPriority);
  }
  document.addEventListener("DOMContentLoaded", function () { setUpAll(document); });
  document.addEventListener("htmx:load", function (event) { setUpAll(event.target); });

  // Known errors suggested as the title is typed: the suggestion endpoint reads `ci` (the
  // first CI chosen) and `category` beside the title.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.elt && event.detail.elt.id === "id_title") {
      const params = event.detail.parameters;
      const cis = params.cis;
      if (cis !== undefined) {
        params.ci = Array.isArray(cis) ? cis[0] : cis;
        delete params.cis;
      }
    }
  });

  // A refused action (400) or a stale form (409) comes back with the page part showing the
  // error: swap it like a success, so the user sees why inline.
  document.addEventListener("htmx:beforeSwap", function (event) {
    const status = event.detail.xhr.status;
    const target = event.detail.target;
    if ((status === 400 || status === 409) && target &&
        (target.id === "incident" || target.id === "ticket")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
