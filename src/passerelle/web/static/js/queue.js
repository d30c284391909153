// Keyboard shortcuts of the queue: j/k move, o or Enter opens, d opens at the decision form,
// ? shows the help.
(function () {
  const rows = Array.from(document.querySelectorAll("tr[data-case-url]"));
  const help = document.getElementById("shortcuts");
  let current = -1;
  function select(index) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach((row, i) => row.classList.toggle("selected", i === current));
    rows[current].focus();
  }
  function toggleHelp() { if (help) help.hidden = !help.hidden; }
  document.querySelectorAll("[data-help-toggle]").forEach((b) => b.addEventListener("click", toggleHelp));
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target && ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName)) return;
    if (event.key === "j") select(current + 1);
    else if (event.key === "k") select(current - 1);
    else if ((event.key === "o" || event.key === "Enter") && current >= 0) window.location = rows[current].dataset.caseUrl;
    else if (event.key === "d" && current >= 0) window.location = rows[current].dataset.caseUrl + "#decide";
    else if (event.key === "?") toggleHelp();
  });
})();
