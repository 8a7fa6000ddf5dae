// Checks the person's access report in their own browser, with the log's
// public key: the checkpoint's Ed25519 signature (C2SP signed note), each
// entry's commitment (SHA-256 of nonce and canonical bytes) and its RFC
// 6962 inclusion proof up to the signed root. The server checked it too;
// this check does not have to trust the server's word.
(function () {
  "use strict";
  const out = document.getElementById("browser-verify");
  if (!out || !window.crypto || !crypto.subtle) return;
  const say = (msg, ok) => { out.textContent = msg; out.className = ok ? "ok" : "error"; };
  const enc = new TextEncoder();
  const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const cat = (...parts) => {
    const n = parts.reduce((a, p) => a + p.length, 0);
    const r = new Uint8Array(n);
    let o = 0;
    for (const p of parts) { r.set(p, o); o += p.length; }
    return r;
  };
  const sha = async (b) => new Uint8Array(await crypto.subtle.digest("SHA-256", b));
  const eq = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

  async function checkNote(note, vkey) {
    // vkey: name+hash+base64(0x01 || 32-byte Ed25519 key); the base64
    // may itself hold "+".
    const k = vkey.trim(), i = k.indexOf("+"), j = k.indexOf("+", i + 1);
    if (i < 0 || j < 0) throw new Error("key");
    const parts = [k.slice(0, i), k.slice(i + 1, j), k.slice(j + 1)];
    const raw = b64(parts[2]);
    if (raw.length !== 33 || raw[0] !== 1) throw new Error("key");
    const idHash = (await sha(cat(enc.encode(parts[0] + "\n"), raw))).slice(0, 4);
    const cut = note.indexOf("\n\n");
    if (cut < 0) throw new Error("note");
    const text = note.slice(0, cut + 1);
    const key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
    for (const line of note.slice(cut + 2).split("\n")) {
      const m = line.match(/^\u2014 (\S+) (\S+)$/);
      if (!m || m[1] !== parts[0]) continue;
      const sig = b64(m[2]);
      if (sig.length !== 68 || !eq(sig.slice(0, 4), idHash)) continue;
      if (await crypto.subtle.verify({ name: "Ed25519" }, key, sig.slice(4), enc.encode(text))) {
        const lines = text.split("\n");
        return { origin: lines[0], size: Number(lines[1]), root: b64(lines[2]) };
      }
    }
    throw new Error("signature");
  }

  async function inclusion(leaf, index, size, hashes, root) {
    let fn = index, sn = size - 1, r = leaf;
    for (const p of hashes) {
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        r = await sha(cat(Uint8Array.of(1), p, r));
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
        }
      } else {
        r = await sha(cat(Uint8Array.of(1), r, p));
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 && eq(r, root);
  }

  async function run() {
    say(out.dataset.checking, true);
    const [rep, vkey] = await Promise.all([
      fetch("/portal/access.json", { credentials: "same-origin" }).then((r) => r.json()),
      fetch("/portal/log-key").then((r) => r.text()),
    ]);
    const cp = await checkNote(rep.checkpoint, vkey);
    let n = 0;
    // No accesses is an answer too: an empty list is verified against the
    // checkpoint like any other.
    for (const e of rep.entries || []) {
      const commit = e.nonce ? await sha(cat(b64(e.nonce), enc.encode(e.canonical))) : b64(e.commitment);
      const lines = e.proof.split("\n");
      const hashes = [];
      let index = -1;
      for (const l of lines.slice(1)) {
        if (l === "") break;
        if (l.startsWith("index ")) index = Number(l.slice(6));
        else if (!l.startsWith("extra ")) hashes.push(b64(l));
      }
      const leaf = await sha(cat(Uint8Array.of(0), commit));
      if (index !== e.index || !(await inclusion(leaf, index, cp.size, hashes, cp.root))) {
        say(out.dataset.fail + " (" + e.index + ")", false);
        return;
      }
      n++;
    }
    say(out.dataset.ok.replace("%d", String(n)).replace("%s", cp.origin), true);
  }
  run().catch((e) => say(out.dataset.fail + " (" + (e && e.message ? e.message : e) + ")", false));
})();
