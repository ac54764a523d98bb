// Links and buttons a finger cannot hit alone at the current width: under 44 px tall, with
// another target within a 44 px circle around their middle (WCAG 2.5.8's spacing rule, at
// the 44 px of 2.5.5). Each as "its text (height px)".
() => {
  const boxes = [...document.querySelectorAll('a[href], button')]
    .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
    .map(e => ({r: e.getBoundingClientRect(), name: (e.textContent || '').trim().slice(0, 40)}))
    .filter(b => b.r.width > 0 && b.r.height > 0);
  const middle = r => [r.left + r.width / 2, r.top + r.height / 2];
  const small = b => b.r.height < 44;
  const crowds = (b, o) => {
    const [x, y] = middle(b.r);
    if (small(o)) { const [u, v] = middle(o.r); return Math.hypot(x - u, y - v) < 44; }
    const dx = Math.max(o.r.left - x, 0, x - o.r.right);
    const dy = Math.max(o.r.top - y, 0, y - o.r.bottom);
    return Math.hypot(dx, dy) < 22;
  };
  return boxes.filter(small).filter(b => boxes.some(o => o !== b && crowds(b, o)))
    .map(b => `${b.name} (${Math.round(b.r.height)} px)`);
}
