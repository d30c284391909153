// Analyst protection: a protected image is blurred and grey until clicked (or Enter/Space).
(function () {
  document.querySelectorAll("[data-reveal-toggle]").forEach((figure) => {
    const toggle = () => figure.classList.toggle("revealed");
    figure.addEventListener("click", toggle);
    figure.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); toggle(); }
    });
  });
})();
