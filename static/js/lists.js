/* Tables wider than their box (every .table-wrap; the lists of templates/includes/list_table.html
   among them): a line above the table says it scrolls sideways, and the box is marked
   `is-scrollable` (portal.css keeps the row's first cell in view then). Checked again whenever the
   box or its table changes size: a turned tablet, a font that loaded, <details> opened. The line's
   words come from the page (<body data-scroll-cue>), in the reader's language. */
(function () {
  "use strict";
  var words = document.body.getAttribute("data-scroll-cue") || "";

  function cueOf(wrap) {
    var cue = wrap.previousElementSibling;
    if (cue && cue.classList.contains("scroll-cue")) {
      return cue;
    }
    cue = document.createElement("p");
    cue.className = "scroll-cue";
    cue.textContent = words;
    cue.hidden = true;
    wrap.parentNode.insertBefore(cue, wrap);
    return cue;
  }

  function check(wrap) {
    var wider = wrap.clientWidth > 0 && wrap.scrollWidth > wrap.clientWidth + 1;
    wrap.classList.toggle("is-scrollable", wider);
    if (wider) {
      wrap.tabIndex = 0; // a box that scrolls can be scrolled from the keyboard
    } else {
      wrap.removeAttribute("tabindex");
    }
    cueOf(wrap).hidden = !wider;
  }

  var wraps = Array.prototype.slice.call(document.querySelectorAll(".table-wrap"));
  wraps.forEach(check);
  if ("ResizeObserver" in window) {
    var observer = new ResizeObserver(function (entries) {
      entries.forEach(function (entry) {
        var wrap = entry.target.closest(".table-wrap");
        if (wrap) {
          check(wrap);
        }
      });
    });
    wraps.forEach(function (wrap) {
      observer.observe(wrap);
      if (wrap.firstElementChild) {
        observer.observe(wrap.firstElementChild);
      }
    });
  } else {
    window.addEventListener("resize", function () { wraps.forEach(check); });
  }
})();
