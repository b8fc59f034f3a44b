'use strict';
(function () {
  var table = document.getElementById('city-table');
  var status = document.getElementById('city-status');
  var updated = document.getElementById('city-updated');
  if (!table || !status || !updated) return;
  var refresh = Math.max(5, Number(table.getAttribute('data-refresh-seconds')) || 30);
  var range = table.getAttribute('data-range') || '-10m';
  var metrics = Array.prototype.map.call(table.querySelectorAll('thead th[data-metric]'), function (th) {
    return { id: th.getAttribute('data-metric'), query: th.getAttribute('data-query'), decimals: Number(th.getAttribute('data-decimals')) || 0 };
  });

  // Per district, the newest window: its district row, else (counts of people) the sum of its cells.
  function latestByDistrict(rows) {
    var windows = {};
    rows.forEach(function (row) {
      var d = row.tags && row.tags.district;
      if (!d) return;
      var byTime = windows[d] || (windows[d] = {});
      var w = byTime[row.time] || (byTime[row.time] = { time: row.time, total: null, cells: 0 });
      if (row.tags.scope === 'cell') w.cells += Number(row.value);
      else w.total = Number(row.value);
    });
    var latest = {};
    Object.keys(windows).forEach(function (d) {
      var times = Object.keys(windows[d]).sort();
      var w = windows[d][times[times.length - 1]];
      latest[d] = { time: w.time, value: w.total !== null ? w.total : w.cells };
    });
    return latest;
  }

  function fill(metric, latest) {
    table.querySelectorAll('td[data-metric="' + metric.id + '"]').forEach(function (td) {
      var row = latest[td.getAttribute('data-district')];
      if (row) {
        td.textContent = Number(row.value).toFixed(metric.decimals);
        td.setAttribute('data-value', String(row.value));
        td.setAttribute('data-time', row.time);
        td.setAttribute('data-state', 'ok');
        td.title = 'window starting ' + row.time;
      } else {
        td.textContent = '—';
        td.removeAttribute('data-value');
        td.removeAttribute('data-time');
        td.setAttribute('data-state', 'no-data');
      }
    });
  }

  function load(metric) {
    var url = '/v1/aggregates?' + metric.query + '&start=' + encodeURIComponent(range) + '&limit=10000';
    return fetch(url, { headers: { accept: 'application/json' } })
      .then(function (res) {
        if (!res.ok) throw new Error(metric.id + ': HTTP ' + res.status);
        return res.json();
      })
      .then(function (body) {
        fill(metric, latestByDistrict(body.data || []));
      });
  }

  function tick() {
    status.setAttribute('data-state', 'loading');
    Promise.all(metrics.map(load))
      .then(
        function () {
          var now = new Date();
          updated.textContent = now.toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
          updated.setAttribute('datetime', now.toISOString());
          status.textContent = 'Up to date.';
          status.setAttribute('data-state', 'ok');
        },
        function (err) {
          status.textContent = 'Could not refresh: ' + err.message;
          status.setAttribute('data-state', 'error');
        },
      )
      .then(function () {
        setTimeout(tick, refresh * 1000);
      });
  }
  tick();
})();
