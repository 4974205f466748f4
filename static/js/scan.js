/* Scan a barcode with the tablet's camera into a search box, then search.
   Uses the browser's own BarcodeDetector and getUserMedia: no library, no network. Where either is
   missing, or reads no barcode format (Firefox, desktop Chromium on Linux/Windows), the "Scan
   barcode" button stays hidden and the clerk types the code, which is the same search. */
(function () {
  "use strict";

  var FORMATS = ["ean_13", "ean_8", "upc_a", "upc_e", "code_128", "code_39", "qr_code"];

  function supported() {
    return "BarcodeDetector" in window && !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  }

  function start(button) {
    var input = document.getElementById(button.getAttribute("data-scan-target"));
    var panel = document.getElementById("scan-panel");
    var video = document.getElementById("scan-video");
    var status = document.getElementById("scan-status");
    var close = document.getElementById("scan-close");
    if (!input || !panel || !video) {
      return;
    }
    var stream = null;
    var stopped = false;
    var detector;

    function stop() {
      stopped = true;
      if (stream) {
        stream.getTracks().forEach(function (track) { track.stop(); });
      }
      video.srcObject = null;
      panel.hidden = true;
      close.removeEventListener("click", stop);
      document.removeEventListener("keydown", onKey);
      button.focus();
    }

    function onKey(event) {
      if (event.key === "Escape") {
        stop();
      }
    }

    function found(value) {
      stop();
      input.value = value;
      if (input.form) {
        input.form.submit();
      }
    }

    function tick() {
      if (stopped) {
        return;
      }
      detector.detect(video).then(function (codes) {
        if (codes.length && codes[0].rawValue) {
          found(codes[0].rawValue.trim());
        } else {
          window.setTimeout(tick, 150);
        }
      }).catch(function () {
        window.setTimeout(tick, 300);
      });
    }

    function failed() {
      status.textContent = status.getAttribute("data-error");
      if (stream) {
        stream.getTracks().forEach(function (track) { track.stop(); });
      }
    }

    panel.hidden = false;
    status.textContent = "";
    close.addEventListener("click", stop);
    document.addEventListener("keydown", onKey);
    close.focus();

    window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      var wanted = FORMATS.filter(function (f) { return formats.indexOf(f) !== -1; });
      detector = new window.BarcodeDetector(wanted.length ? { formats: wanted } : undefined);
      return navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    }).then(function (media) {
      if (stopped) {
        media.getTracks().forEach(function (track) { track.stop(); });
        return;
      }
      stream = media;
      video.srcObject = media;
      return video.play().then(tick);
    }).catch(failed);
  }

  function init() {
    var buttons = document.querySelectorAll("[data-scan-target]");
    if (!buttons.length || !supported()) {
      return; // the buttons keep their `hidden` attribute: type the code instead
    }
    // Desktop Chromium on Linux and Windows has the API but no barcode formats: no button there.
    window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      if (!formats || !formats.length) {
        return;
      }
      Array.prototype.forEach.call(buttons, function (button) {
        button.hidden = false;
        button.addEventListener("click", function () { start(button); });
      });
    }).catch(function () { /* no formats: keep typing */ });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
