// Short messages that report every action's result.

export function toast(message, { error = false } = {}) {
  const box = document.getElementById('toasts');
  const item = document.createElement('div');
  item.className = error ? 'toast error' : 'toast';
  item.setAttribute('role', error ? 'alert' : 'status');
  item.textContent = message;
  box.append(item);
  // Only the newest few stay on screen.
  while (box.children.length > 4) box.firstElementChild.remove();
  setTimeout(() => item.remove(), error ? 9000 : 5000);
}

export function toastError(e) {
  toast(e && e.message ? e.message : String(e), { error: true });
}
