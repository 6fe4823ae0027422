// Communs: small enhancements. Every page works without this file.
(function () {
  "use strict";

  // Results as you type: fetch the same results page and swap its results
  // and filters in, so the server stays the only renderer.
  var form = document.querySelector("form[data-live]");
  if (form && window.fetch && window.DOMParser) {
    var input = form.querySelector("input[name=q]");
    var timer = null, seq = 0;
    var refresh = function () {
      var params = new URLSearchParams(new FormData(form));
      params.delete("page");
      var url = form.getAttribute("action") + "?" + params.toString();
      var mine = ++seq;
      fetch(url, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null || mine !== seq) { return; }
          var doc = new DOMParser().parseFromString(html, "text/html");
          ["resultats", "filtres"].forEach(function (id) {
            var fresh = doc.getElementById(id), cur = document.getElementById(id);
            if (fresh && cur) { cur.innerHTML = fresh.innerHTML; }
          });
          var h1 = doc.querySelector("h1"), curH1 = document.querySelector("h1");
          if (h1 && curH1) { curH1.textContent = h1.textContent; }
          document.title = doc.title;
          history.replaceState(null, "", url);
        })
        .catch(function () {});
    };
    if (input) {
      input.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(refresh, 350);
      });
    }
  }

  // Copy the attribution line.
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    if (!navigator.clipboard) { return; }
    b.hidden = false;
    b.addEventListener("click", function () {
      var src = document.getElementById(b.getAttribute("data-copy"));
      var status = b.parentNode.querySelector(".copy-status");
      navigator.clipboard.writeText(src.value || src.textContent).then(function () {
        if (status) { status.textContent = b.getAttribute("data-copied"); }
      });
    });
  });

  // Upload with a progress bar; refuse a file over the node's limit before
  // sending a single byte.
  document.querySelectorAll("form[data-upload]").forEach(function (f) {
    if (!window.XMLHttpRequest || !window.FormData) { return; }
    var file = f.querySelector("input[type=file]");
    var box = f.querySelector(".upload-status");
    f.addEventListener("submit", function (ev) {
      if (!file || !box) { return; }
      var max = parseInt(file.getAttribute("data-max-size"), 10);
      for (var i = 0; i < file.files.length; i++) {
        if (max && file.files[i].size > max) {
          ev.preventDefault();
          showFileError(file, file.getAttribute("data-too-large"));
          return;
        }
      }
      ev.preventDefault();
      var bar = box.querySelector("progress"), text = box.querySelector(".upload-text");
      box.hidden = false;
      f.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
      var xhr = new XMLHttpRequest();
      xhr.open("POST", f.getAttribute("action"));
      xhr.upload.addEventListener("progress", function (e) {
        if (!e.lengthComputable) { return; }
        var pct = Math.round(e.loaded * 100 / e.total);
        bar.value = pct;
        text.textContent = text.getAttribute("data-sending").replace("{pct}", pct);
      });
      xhr.addEventListener("load", function () {
        if (xhr.status < 400 && xhr.responseURL) {
          window.location.assign(xhr.responseURL);
          return;
        }
        var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
        var main = doc.querySelector("main"), cur = document.querySelector("main");
        if (main && cur) {
          cur.innerHTML = main.innerHTML;
          document.title = doc.title;
          var sum = cur.querySelector(".error-summary") || cur;
          sum.focus();
        } else {
          text.textContent = text.getAttribute("data-failed");
        }
      });
      xhr.addEventListener("error", function () {
        text.textContent = text.getAttribute("data-failed");
        f.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = false; });
      });
      xhr.send(new FormData(f));
    });
  });

  function showFileError(input, msg) {
    var id = "e-file-js", p = document.getElementById(id);
    if (!p) {
      p = document.createElement("p");
      p.id = id;
      p.className = "field-error";
      p.setAttribute("role", "alert");
      input.parentNode.insertBefore(p, input);
    }
    p.textContent = msg;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", (input.getAttribute("aria-describedby") || "") + " " + id);
    input.focus();
  }
})();
