// fabcore widget loader: include with <script src=".../w/{shop}/embed.js" async></script>.
(function () {
  "use strict";
  var origin = {{ origin|tojson }};
  var shop = {{ shop|tojson }};
  var script = document.currentScript;
  var frame = document.createElement("iframe");
  frame.src = origin + "/w/" + encodeURIComponent(shop) + "/#embed=" + encodeURIComponent(window.location.origin);
  frame.title = "Instant quote";
  frame.setAttribute("loading", "lazy");
  frame.style.cssText = "display:block;width:100%;min-height:480px;border:0;";
  if (script && script.parentNode) {
    script.parentNode.insertBefore(frame, script.nextSibling);
  } else {
    document.body.appendChild(frame);
  }
  window.addEventListener("message", function (event) {
    if (event.origin !== origin || event.source !== frame.contentWindow) {
      return;
    }
    var data = event.data || {};
    if (data.type === "fabcore:resize" && typeof data.height === "number") {
      frame.style.height = Math.ceil(data.height) + "px";
    } else if (data.type === "fabcore:order-placed") {
      frame.dispatchEvent(new CustomEvent("fabcore:order-placed", { bubbles: true, detail: { number: data.number } }));
    }
  });
})();
