// Passkeys (WebAuthn) for the labtrust console: add one when signed in, or
// use one as the second factor. The server speaks go-webauthn's JSON, with
// binary fields in base64url.
(function () {
  "use strict";
  function dec(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    const b = atob(s), out = new Uint8Array(b.length);
    for (let i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
    return out.buffer;
  }
  function enc(buf) {
    const b = new Uint8Array(buf);
    let s = "";
    for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function credentialJSON(c) {
    const r = c.response;
    const out = { id: c.id, rawId: enc(c.rawId), type: c.type, response: { clientDataJSON: enc(r.clientDataJSON) } };
    if (r.attestationObject) {
      out.response.attestationObject = enc(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    }
    if (r.authenticatorData) {
      out.response.authenticatorData = enc(r.authenticatorData);
      out.response.signature = enc(r.signature);
      if (r.userHandle) out.response.userHandle = enc(r.userHandle);
    }
    return out;
  }
  async function call(url, body) {
    const res = await fetch(url, body === undefined ? { credentials: "same-origin" } :
      { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error((await res.text()) || res.statusText);
    return res.json();
  }
  function say(text) {
    const s = document.getElementById("passkey-status");
    if (s) s.textContent = text;
  }
  document.addEventListener("DOMContentLoaded", function () {
    const add = document.getElementById("addPasskey");
    if (add) add.addEventListener("click", async function () {
      try {
        const o = await call("/console/passkey/register/begin");
        o.publicKey.challenge = dec(o.publicKey.challenge);
        o.publicKey.user.id = dec(o.publicKey.user.id);
        (o.publicKey.excludeCredentials || []).forEach(function (c) { c.id = dec(c.id); });
        const c = await navigator.credentials.create(o);
        await call("/console/passkey/register/finish", credentialJSON(c));
        say("Passkey added. Next time, use it instead of a code.");
      } catch (e) { say("The passkey was not added: " + e.message); }
    });
    const use = document.getElementById("usePasskey");
    if (use) use.addEventListener("click", async function () {
      try {
        const o = await call("/console/passkey/login/begin");
        o.publicKey.challenge = dec(o.publicKey.challenge);
        (o.publicKey.allowCredentials || []).forEach(function (c) { c.id = dec(c.id); });
        const c = await navigator.credentials.get(o);
        const r = await call("/console/passkey/login/finish", credentialJSON(c));
        window.location = r.next;
      } catch (e) { say("The passkey did not work: " + e.message); }
    });
  });
})();
