// The resident's report page (大家管、码上办): no framework, no wasm, works in any phone
// browser and in in-app webviews. A report is first put in local storage, then sent; one
// written in a dead zone waits there and goes out when the network is back (the `online`
// event, the next page load, or a retry every half minute).
'use strict';
(function () {
  const QUEUE = 'gv-report-queue';
  const SENT = 'gv-report-sent';
  const MAX_SIDE = 1600;
  const MAX_BYTES = 300 * 1024;
  const $ = (s) => document.querySelector(s);
  const form = $('#report');
  const notice = $('#notice');
  const photos = [];

  const load = (k) => { try { return JSON.parse(localStorage.getItem(k) || '[]'); } catch (_) { return []; } };
  const save = (k, v) => { localStorage.setItem(k, JSON.stringify(v)); };

  function say(text, kind) {
    notice.textContent = '';
    notice.className = 'notice' + (kind ? ' ' + kind : '');
    notice.hidden = false;
    for (const line of [].concat(text)) {
      const p = document.createElement('div');
      p.textContent = line;
      notice.appendChild(p);
    }
  }

  function showSent() {
    const list = $('#sent');
    const sent = load(SENT);
    list.textContent = '';
    $('#sent-box').hidden = sent.length === 0;
    for (const s of sent.slice(-10).reverse()) {
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.href = '/report/status/' + encodeURIComponent(s.code);
      a.textContent = s.code;
      a.dataset.testid = 'sent-code';
      li.appendChild(a);
      li.appendChild(document.createTextNode(' ' + s.text));
      list.appendChild(li);
    }
  }

  // A photo scaled down in the browser: at most 1600 px on its long side, at most 300 KB.
  function scale(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onerror = () => reject(reader.error);
      reader.onload = () => {
        const img = new Image();
        img.onerror = () => reject(new Error('not an image'));
        img.onload = () => {
          const k = Math.min(1, MAX_SIDE / Math.max(img.width, img.height));
          const c = document.createElement('canvas');
          c.width = Math.max(1, Math.round(img.width * k));
          c.height = Math.max(1, Math.round(img.height * k));
          c.getContext('2d').drawImage(img, 0, 0, c.width, c.height);
          let q = 0.85;
          let url = c.toDataURL('image/jpeg', q);
          while (url.length * 0.75 > MAX_BYTES && q > 0.3) {
            q -= 0.1;
            url = c.toDataURL('image/jpeg', q);
          }
          resolve(url);
        };
        img.src = reader.result;
      };
      reader.readAsDataURL(file);
    });
  }

  function blobOf(dataUrl) {
    const [head, body] = dataUrl.split(',');
    const bin = atob(body);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Blob([bytes], { type: head.slice(5).split(';')[0] });
  }

  let sending = false;
  async function send() {
    if (sending) return;
    sending = true;
    try {
      let queue = load(QUEUE);
      while (queue.length > 0) {
        const r = queue[0];
        const body = new FormData();
        body.append('service_code', r.area);
        body.append('description', r.description);
        body.append('attribute[kind]', r.kind);
        if (r.grid) body.append('attribute[grid]', r.grid);
        if (r.lat != null) { body.append('lat', r.lat); body.append('long', r.long); }
        if (r.phone) body.append('phone', r.phone);
        (r.photos || []).forEach((p, i) => body.append('media', blobOf(p), 'photo' + i + '.jpg'));
        let res;
        try {
          res = await fetch('/open311/v2/requests.json', { method: 'POST', body });
        } catch (_) {
          say(['已保存，联网后自动发送', 'Saved on this phone: it is sent when the network is back.'], 'queued');
          return;
        }
        if (res.status === 429 || res.status >= 500) {
          const why = await res.json().catch(() => ({}));
          say([why.error || '服务器繁忙 / The server is busy', '已保存，稍后自动重试 / Saved: it is retried later.'], 'queued');
          return;
        }
        queue = load(QUEUE).filter((q) => q.id !== r.id);
        save(QUEUE, queue);
        const answer = await res.json().catch(() => null);
        if (!res.ok || !Array.isArray(answer)) {
          say([(answer && answer.error) || ('提交失败 / Not accepted (' + res.status + ')')], 'error');
          continue;
        }
        const code = answer[0].service_request_id;
        const sent = load(SENT);
        sent.push({ code, at: Date.now(), text: r.description.slice(0, 40) });
        save(SENT, sent.slice(-50));
        say(['已提交！请记下查询码 / Sent! Keep your tracking code:']);
        const c = document.createElement('div');
        c.className = 'code';
        c.dataset.testid = 'tracking-code';
        c.textContent = code;
        notice.appendChild(c);
        const a = document.createElement('a');
        a.href = answer[0].status_url;
        a.textContent = '查看办理进度 / Follow it';
        a.dataset.testid = 'status-link';
        notice.appendChild(a);
        showSent();
      }
    } finally {
      sending = false;
    }
  }

  $('#photos').addEventListener('change', async (e) => {
    const thumbs = $('#thumbs');
    for (const f of Array.from(e.target.files || [])) {
      if (photos.length >= 3) break;
      try {
        const url = await scale(f);
        photos.push(url);
        const img = document.createElement('img');
        img.src = url;
        img.alt = '照片 photo';
        thumbs.appendChild(img);
      } catch (_) {
        say(['这张照片无法读取 / This photo could not be read'], 'error');
      }
    }
    e.target.value = '';
  });

  let position = null;
  $('#locate').addEventListener('change', (e) => {
    position = null;
    if (!e.target.checked || !navigator.geolocation) return;
    navigator.geolocation.getCurrentPosition(
      (p) => { position = { lat: p.coords.latitude, long: p.coords.longitude }; $('#where').textContent = '已定位 / Located'; },
      () => { e.target.checked = false; $('#where').textContent = '未能定位 / No position'; },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  });

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const description = String(data.get('description') || '').trim();
    if (!description) { say(['请描述问题 / Please describe it'], 'error'); return; }
    const r = {
      id: Date.now().toString(36) + Math.random().toString(36).slice(2),
      grid: form.dataset.grid || '',
      area: String(data.get('area')),
      kind: String(data.get('kind') || 'problem'),
      description,
      lat: position ? position.lat : null,
      long: position ? position.long : null,
      phone: String(data.get('phone') || '').trim(),
      photos: photos.slice(),
    };
    const queue = load(QUEUE);
    queue.push(r);
    try {
      save(QUEUE, queue);
    } catch (_) {
      r.photos = [];
      save(QUEUE, queue.slice(0, -1).concat([r]));
      say(['手机存储不足，照片未保存 / Not enough room on this phone for the photos'], 'error');
    }
    form.reset();
    photos.length = 0;
    $('#thumbs').textContent = '';
    position = null;
    send();
  });

  window.addEventListener('online', send);
  setInterval(() => { if (load(QUEUE).length > 0) send(); }, 30000);
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/report/sw.js').catch(() => {});
  showSent();
  if (load(QUEUE).length > 0) send();
})();
