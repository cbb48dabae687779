// Search-as-you-type selects: Tom Select 2.6.2 (static/vendor/tom-select, from npm, no CDN)
// on every <select data-autocomplete="/json/look-up/">. The look-up answers
// {"results": [{"id": …, "text": …}]}; data-value-field names the key posted as the value.
(function () {
  function setUp(select) {
    if (select.tomselect || typeof TomSelect === "undefined") {
      return;
    }
    const url = select.getAttribute("data-autocomplete");
    new TomSelect(select, {
      valueField: select.getAttribute("data-value-field") || "id",
      labelField: "text",
      searchField: [],  // the server searched already; show what it found
      placeholder: select.getAttribute("data-placeholder") || "",
      plugins: select.required ? [] : { clear_button: { title: "Clear" } },
      maxOptions: 20,
      loadThrottle: 250,
      preload: "focus",
      load: function (query, callback) {
        fetch(url + "?q=" + encodeURIComponent(query), {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        })
          .then(function (response) { return response.ok ? response.json() : { results: [] }; })
          .then(function (data) { callback(data.results); })
          .catch(function () { callback(); });
      },
      render: {
        option: function (item, escape) {
          const extra = [item.type, item.hostname, item.email].filter(Boolean).map(escape);
          return "<div>" + escape(item.text) +
            (extra.length ? ' <small class="text-muted">' + extra.join(" · ") + "</small>" : "") +
            "</div>";
        },
        no_results: function () { return '<div class="no-results">Nothing found.</div>'; },
      },
    });
  }

  function setUpAll(root) {
    (root || document).querySelectorAll("select[data-autocomplete]").forEach(setUp);
  }

  document.addEventListener("DOMContentLoaded", function () { setUpAll(document); });
  document.addEventListener("htmx:load", function (event) { setUpAll(event.target); });
})();
