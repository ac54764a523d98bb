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
  var line = function (found) {
    var li = document.createElement('li');
    var said = '“' + found.topic + '”: ';
    if (found.matched) {
      said += found.matched + ' paper' + (found.matched > 1 ? 's' : '') + ' in ' + found.dates;
      if (found.papers.length) said += ', such as “' + found.papers[0].title + '”';
      li.textContent = said;
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
      check.textContent = '';
      all.forEach(function (found) { if (found) check.appendChild(line(found)); });
      check.hidden = !check.children.length;
    });
  };
  box.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(run, 400); });
  if (box.value.trim()) run();
}
// The private feed's address is there to be copied: one tap selects it whole.
var feed = document.getElementById('feed');
if (feed) feed.addEventListener('focus', function () { feed.select(); });
