// Installed by BrowserRecorder in every document: reports a person's input to Python, in order.
// Capture-phase listeners on window see trusted input before the page's own handlers can stop it.
(() => {
  if (window.__guiRecorder) return;
  window.__guiRecorder = true;
  const send = (e) => { if (window.__guiAgentRecord) window.__guiAgentRecord(Object.assign(e, { t: performance.now() })); };
  const hit = (x, y) => (window.__guiAgent ? window.__guiAgent.hit(x, y) : null);
  let down = null;
  window.addEventListener('mousedown', (e) => {
    down = { x: e.clientX, y: e.clientY, button: e.button, hit: hit(e.clientX, e.clientY) };
  }, true);
  window.addEventListener('mouseup', (e) => {
    if (!down) return;
    send({ type: 'pointer', button: down.button, x: down.x, y: down.y, x2: e.clientX, y2: e.clientY,
           detail: e.detail, hit: down.hit });
    down = null;
  }, true);
  window.addEventListener('keydown', (e) => {
    if (e.isComposing) return;
    send({ type: 'key', key: e.key, ctrl: e.ctrlKey, alt: e.altKey, meta: e.metaKey, shift: e.shiftKey });
  }, true);
  window.addEventListener('wheel', (e) => {
    const unit = e.deltaMode === 1 ? 40 : e.deltaMode === 2 ? window.innerHeight : 1;
    send({ type: 'wheel', x: e.clientX, y: e.clientY, dy: e.deltaY * unit });
  }, { capture: true, passive: true });
})();
