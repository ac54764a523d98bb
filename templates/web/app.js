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
