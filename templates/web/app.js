// Progressive enhancement; every form works without it.
// The timezone field gets the browser's zone (without JavaScript it stays UTC).
var tz = document.getElementById('timezone');
if (tz && !tz.dataset.touched) {
  try { tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone || tz.value; } catch (e) {}
}
// Suggested topics become buttons that add themselves to the topics box.
var box = document.getElementById('topics');
document.querySelectorAll('ul.chips li').forEach(function (li) {
  var topic = li.textContent, button = document.createElement('button');
  button.type = 'button';
  button.textContent = topic;
  button.addEventListener('click', function () {
    var typed = box.value.trim();
    box.value = (typed ? typed + '\n' : '') + topic;
    box.focus();
  });
  li.textContent = '';
  li.appendChild(button);
});
// Each topic, as it is typed, is tried on the latest week's papers (GET /api/preview): how
// many it finds and the best of them, or for one that finds none a likely fix, one tap away.
var check = document.getElementById('topic-check');
if (box && check) {
  var asked = {}, shown = 0, timer;
  var topics = function () {
    return box.value.split(/[\n,]+/).map(function (t) { return t.trim(); })
      .filter(function (t, i, all) { return t && all.indexOf(t) === i; }).slice(0, 10);
  };
  var preview = function (topic) {
    asked[topic] = asked[topic] || fetch('/api/preview?topic=' + encodeURIComponent(topic))
      .then(function (r) { return r.ok ? r.json() : null; }).catch(function () { return null; });
    return asked[topic];
  };
  var use = function (typed, fix) {
    box.value = box.value.split(/\n/).map(function (line) {
      return line.split(',').map(function (t) { return t.trim() === typed ? fix : t; }).join(',');
    }).join('\n');
    run();
  };
  var el = function (tag, text, attrs) {
    var node = document.createElement(tag);
    if (text) node.textContent = text;
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  };
  // A preview's paper with its "Yes, like this" and "Not this", as the server renders them
  // (templates/web/subscribe.html); an answer given before the list was redrawn stays.
  var answers = function (found, paper, kept) {
    var span = el('span', '', {'class': 'answer'});
    [['like', 'Yes, like this'], ['not', 'Not this']].forEach(function (kind) {
      var value = paper.arxiv_id + ' ' + found.topic;
      var label = el('label', '', {'class': 'toggle'});
      var input = el('input', '', {type: 'checkbox', name: kind[0], value: value});
      input.checked = kept[kind[0] + ':' + value] === true;
      label.appendChild(input);
      label.appendChild(document.createTextNode(' ' + kind[1]));
      span.appendChild(label);
    });
    return span;
  };
  var line = function (found, kept) {
    var li = document.createElement('li');
    var said = '“' + found.topic + '”: ';
    if (found.matched) {
      li.textContent = said + found.matched + ' paper' + (found.matched > 1 ? 's' : '') +
        ' in ' + found.dates;
      if (!found.papers.length) return li;
      var details = el('details', '', {open: ''}), list = el('ol', '', {'class': 'preview'});
      details.appendChild(el('summary', 'Answer a few to teach it what you mean'));
      found.papers.forEach(function (paper) {
        var item = el('li');
        item.appendChild(el('a', paper.title, {href: paper.url}));
        item.appendChild(el('br'));
        item.appendChild(el('span', paper.why, {'class': 'hint'}));
        item.appendChild(answers(found, paper, kept));
        list.appendChild(item);
      });
      details.appendChild(list);
      li.appendChild(details);
      return li;
    }
    li.innerHTML = '<strong></strong>';
    li.firstChild.textContent = said + 'nothing in ' + found.dates;
    if (found.did_you_mean) {
      var fix = document.createElement('button');
      fix.type = 'button';
      fix.className = 'fix';
      fix.textContent = 'Use “' + found.did_you_mean + '”';
      fix.addEventListener('click', function () { use(found.topic, found.did_you_mean); });
      li.appendChild(document.createTextNode(' Did you mean “' + found.did_you_mean + '”? '));
      li.appendChild(fix);
    } else {
      li.appendChild(document.createTextNode('. A broader wording may find more.'));
    }
    return li;
  };
  var run = function () {
    var turn = ++shown;
    Promise.all(topics().map(preview)).then(function (all) {
      if (turn !== shown) return;  // a later edit's answer is on its way
      var kept = {};
      check.querySelectorAll('input:checked').forEach(function (i) { kept[i.name + ':' + i.value] = true; });
      check.textContent = '';
      all.forEach(function (found) { if (found) check.appendChild(line(found, kept)); });
      check.hidden = !check.children.length;
    });
  };
  box.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(run, 400); });
  if (box.value.trim() && check.hidden) run();  // not over the server's own preview
  // "Yes, like this" and "Not this" on one paper exclude each other.
  check.addEventListener('change', function (event) {
    var input = event.target;
    if (!input.checked) return;
    input.closest('.answer').querySelectorAll('input').forEach(function (other) {
      if (other !== input) other.checked = false;
    });
  });
  var button = document.getElementById('preview-button');
  if (button) button.hidden = true;  // the preview follows the typing
}
// The private feed's address is there to be copied: one tap selects it whole.
var feed = document.getElementById('feed');
if (feed) feed.addEventListener('focus', function () { feed.select(); });
// "Yes, like this" and "Not this" answer without a reload: the same form, asked for JSON; the
// button pressed shows the answer, and the topic's counts follow. Without JavaScript, or if
// the request fails, the form posts as usual and the page comes back.
document.querySelectorAll('form.answer').forEach(function (form) {
  form.addEventListener('submit', function (event) {
    var button = event.submitter;
    if (!button || !window.fetch) return;
    event.preventDefault();
    var data = new URLSearchParams(new FormData(form));
    data.set(button.name, button.value);
    fetch(form.action, {method: 'POST', body: data, headers: {'Accept': 'application/json'}})
      .then(function (r) { if (!r.ok) throw r; return r.json(); })
      .then(function (done) {
        form.querySelectorAll('button').forEach(function (b) {
          b.setAttribute('aria-pressed', b === button ? 'true' : 'false');
        });
        var counts = form.closest('section').querySelector('[data-counts]');
        counts.textContent = done.liked + ' liked, ' + done.not + ' not: ' + (done.ready
          ? 'ranked by what you marked and its words.' : 'ranked by its words and meaning.');
      })
      .catch(function () {  // the plain post, with the answer its button would have sent
        var answer = document.createElement('input');
        answer.type = 'hidden';
        answer.name = button.name;
        answer.value = button.value;
        form.appendChild(answer);
        form.submit();
      });
  });
});
