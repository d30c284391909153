// The case page: "d" (or arriving with #decide from the queue) moves to the decision form.
(function () {
  const form = document.getElementById("decide");
  if (!form) return;
  function goToDecision() {
    form.scrollIntoView({ block: "start" });
    const first = form.querySelector("input[type=radio], select, textarea");
    if (first) first.focus();
  }
  // After "load": the browser has scrolled to the fragment by then and keeps the focus.
  if (window.location.hash === "#decide") window.addEventListener("load", goToDecision);
  // A refused decision comes back at the form, its summary of the problems read first.
  const problems = document.querySelector("[data-testid=decision-problems]");
  if (problems) {
    window.addEventListener("load", () => {
      form.scrollIntoView({ block: "start" });
      problems.focus();
    });
  }
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target && ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName)) return;
    if (event.key === "d") { event.preventDefault(); goToDecision(); }
  });
})();
