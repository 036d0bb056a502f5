window.addEventListener("error", function (e) {
  document.getElementById("errors").textContent += "error: " + e.message + "\n";
  document.body.dataset.errors = "yes";
});
