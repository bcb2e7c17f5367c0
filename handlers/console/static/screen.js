// The big screen: map and numbers in turn; Esc goes back to the console.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("console-data").textContent);
  var slides = document.querySelectorAll(".slide"), i = 0;
  setInterval(function () {
    slides[i].hidden = true;
    i = (i + 1) % slides.length;
    slides[i].hidden = false;
  }, (data.seconds || 20) * 1000);
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") location.href = "./"; });
  if (document.documentElement.requestFullscreen) {
    document.addEventListener("click", function () { document.documentElement.requestFullscreen().catch(function () {}); }, { once: true });
  }
})();
