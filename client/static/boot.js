// Starts the app. Kept out of index.html so the Content-Security-Policy needs no inline script.
import init from './gridvisit.js';

if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('./sw.js').catch((e) => console.warn('service worker:', e));
}
init({ module_or_path: './gridvisit_bg.wasm' }).catch((e) => {
  const app = document.getElementById('app');
  app.textContent = '应用加载失败 · The app failed to load: ' + e;
});
