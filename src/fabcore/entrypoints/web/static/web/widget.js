// The widget's session (a bearer token in this origin's storage, no cookies),
// uploads with progress, downloads with the token, and messages to the embedding page.
(function () {
  "use strict";
  function shop() { return document.body ? document.body.dataset.shop || "" : ""; }
  function key() { return "fabcore.widget." + shop(); }
  function token() { try { return localStorage.getItem(key()); } catch (e) { return null; } }
  function setToken(value) {
    try {
      if (value) { localStorage.setItem(key(), value); } else { localStorage.removeItem(key()); }
    } catch (e) { /* storage refused: the session lasts as long as the page */ }
    memory = value;
    showSession();
  }
  var memory = null;
  function current() { return token() || memory; }
  function authHeaders() {
    if (document.body && document.body.classList.contains("admin")) {
      // The back office signs in with its cookie; unsafe requests carry the CSRF token.
      return { "X-CSRF-Token": document.body.dataset.csrf || "" };
    }
    var t = current();
    return t ? { "Authorization": "Bearer " + t } : {};
  }
  window.fabcoreAuthHeaders = authHeaders;

  function showSession() {
    var signedIn = !!current();
    document.querySelectorAll("[data-signed-in]").forEach(function (el) { el.hidden = !signedIn; });
  }

  // The embedding page: its origin arrives once in the fragment and must be an allowed one.
  // Storage may be refused to a third-party frame; then it is kept for this page only.
  function remembered(value) {
    try {
      if (value) { sessionStorage.setItem("fabcore.embedder", value); }
      return sessionStorage.getItem("fabcore.embedder");
    } catch (e) {
      return value;
    }
  }
  function embedder() {
    if (window.parent === window) { return null; }
    var origins = [];
    try { origins = JSON.parse(document.body.dataset.origins || "[]"); } catch (e) { origins = []; }
    var match = /[#&]embed=([^&]+)/.exec(location.hash);
    var stored = remembered(match ? decodeURIComponent(match[1]) : null);
    if (match) { history.replaceState(history.state, "", location.pathname + location.search); }
    return stored && origins.indexOf(stored) >= 0 ? stored : null;
  }
  var parentOrigin = null;
  function tell(message) {
    if (parentOrigin) { window.parent.postMessage(message, parentOrigin); }
  }
  var lastHeight = 0;
  function reportHeight() {
    var height = document.documentElement.scrollHeight;
    if (height !== lastHeight) {
      lastHeight = height;
      tell({ type: "fabcore:resize", height: height });
    }
  }

  function upload(zone, file, units, done) {
    var list = document.getElementById("uploads");
    var item = document.createElement("li");
    var label = document.createElement("span");
    var bar = document.createElement("progress");
    var id = "up-" + Math.random().toString(36).slice(2);
    label.id = id;
    label.textContent = file.name + ": uploading";
    bar.max = 100; bar.value = 0;
    bar.setAttribute("aria-labelledby", id);
    item.appendChild(label); item.appendChild(bar);
    list.appendChild(item);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", zone.dataset.upload);
    var headers = authHeaders();
    Object.keys(headers).forEach(function (name) { xhr.setRequestHeader(name, headers[name]); });
    xhr.upload.onprogress = function (ev) {
      if (ev.lengthComputable) { bar.value = Math.round(100 * ev.loaded / ev.total); }
    };
    xhr.upload.onload = function () {
      bar.removeAttribute("value");
      label.textContent = file.name + ": analysing the model…";
      item.classList.add("busy");
    };
    xhr.onload = function () {
      item.classList.remove("busy");
      var answer = {};
      try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = {}; }
      if (xhr.status === 201) {
        item.remove();
        htmx.ajax("POST", zone.dataset.add, {
          target: "#main", swap: "innerHTML",
          values: { sha256: answer.sha256, filename: answer.filename, units: units,
                    order_id: zone.dataset.order || "" }
        }).then(done, done);
      } else {
        bar.remove();
        item.classList.add("error");
        label.setAttribute("role", "alert");
        label.textContent = file.name + ": " + (answer.reason || answer.detail || "the upload failed");
        done();
      }
    };
    xhr.onerror = function () {
      bar.remove();
      label.textContent = file.name + ": the upload failed; check the connection and try again";
      done();
    };
    var form = new FormData();
    form.append("units", units);
    form.append("file", file, file.name);
    xhr.send(form);
  }

  function uploadAll(zone, files) {
    var units = (zone.querySelector("select") || { value: "mm" }).value;
    var queue = Array.prototype.slice.call(files);
    function next() {
      var file = queue.shift();
      if (file) {
        var fresh = document.querySelector("[data-upload]") || zone;
        upload(fresh, file, units, next);
      }
    }
    next();
  }

  function download(link) {
    fetch(link.getAttribute("href"), { headers: authHeaders() }).then(function (answer) {
      if (!answer.ok) { throw new Error("HTTP " + answer.status); }
      return answer.blob();
    }).then(function (blob) {
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = link.dataset.download;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(a.href); }, 60000);
    }).catch(function () {
      link.insertAdjacentHTML("afterend", '<span role="alert" class="error"> The download failed.</span>');
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    memory = token();
    showSession();
    parentOrigin = embedder();
    if (parentOrigin && window.ResizeObserver) {
      new ResizeObserver(reportHeight).observe(document.documentElement);
      reportHeight();
    }
  });
  document.addEventListener("htmx:configRequest", function (ev) {
    var headers = authHeaders();
    Object.keys(headers).forEach(function (name) { ev.detail.headers[name] = headers[name]; });
  });
  document.addEventListener("fabcore:session", function (ev) {
    setToken(ev.detail && ev.detail.token ? ev.detail.token : null);
  });
  // A payment page cannot be framed: an embedded widget opens it in the whole window.
  document.addEventListener("fabcore:checkout", function (ev) {
    var url = ev.detail && ev.detail.url;
    if (!url) { return; }
    if (window.top !== window) {
      try { window.top.location.href = url; return; } catch (e) { window.open(url, "_blank"); return; }
    }
    window.location.href = url;
  });
  document.addEventListener("fabcore:placed", function (ev) {
    tell({ type: "fabcore:order-placed", number: ev.detail ? ev.detail.number : null });
  });
  // Errors go to #messages (see htmx-config); a successful answer clears them.
  document.addEventListener("htmx:beforeSwap", function (ev) {
    var messages = document.getElementById("messages");
    if (messages && ev.detail.xhr && ev.detail.xhr.status < 400) { messages.innerHTML = ""; }
  });
  document.addEventListener("htmx:afterSettle", function (ev) {
    // A refused upload is told beside the upload zone; away from it, the notice goes.
    if (!document.querySelector("[data-upload]")) {
      document.querySelectorAll("#uploads li.error").forEach(function (li) { li.remove(); });
    }
    var messages = document.getElementById("messages");
    if (messages && ev.detail.target === messages && messages.firstElementChild) {
      messages.firstElementChild.setAttribute("tabindex", "-1");
      messages.firstElementChild.focus();
    }
  });
  document.addEventListener("change", function (ev) {
    var input = ev.target;
    if (input && input.id === "upload-files" && input.files.length) {
      uploadAll(input.closest("[data-upload]"), input.files);
      input.value = "";
    }
  });
  document.addEventListener("dragover", function (ev) {
    var zone = ev.target.closest && ev.target.closest("[data-upload]");
    if (zone) { ev.preventDefault(); zone.classList.add("over"); }
  });
  document.addEventListener("dragleave", function (ev) {
    var zone = ev.target.closest && ev.target.closest("[data-upload]");
    if (zone) { zone.classList.remove("over"); }
  });
  document.addEventListener("drop", function (ev) {
    var zone = ev.target.closest && ev.target.closest("[data-upload]");
    if (zone && ev.dataTransfer && ev.dataTransfer.files.length) {
      ev.preventDefault();
      zone.classList.remove("over");
      uploadAll(zone, ev.dataTransfer.files);
    }
  });
  document.addEventListener("click", function (ev) {
    var link = ev.target.closest && ev.target.closest("a[data-download]");
    if (link && !document.body.classList.contains("admin")) {
      ev.preventDefault();
      download(link);
    }
  });
})();
