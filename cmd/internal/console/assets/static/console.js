// deck console: the page's sections are replaced as the server streams them (server-sent
// events), so the page stays current without a reload. No dependencies, nothing fetched
// from anywhere but the console itself.
(function () {
  'use strict';
  var live = document.getElementById('live');
  var env = document.body.getAttribute('data-env') || '';
  var stream = new EventSource('/stream?env=' + encodeURIComponent(env));
  stream.addEventListener('section', function (e) {
    var m = JSON.parse(e.data);
    var el = document.getElementById(m.id);
    if (el) {
      el.innerHTML = m.html; // rendered and escaped by the server's html/template
    }
  });
  stream.onopen = function () {
    live.textContent = 'live';
    live.className = 'ok';
  };
  stream.onerror = function () {
    live.textContent = 'reconnecting…';
    live.className = 'bad';
  };
  // Deploy and rollback forms ask first (they exist only with --allow-deploy).
  document.addEventListener('submit', function (e) {
    var q = e.target.getAttribute('data-confirm');
    if (q && !window.confirm(q)) {
      e.preventDefault();
    }
  });
}());
