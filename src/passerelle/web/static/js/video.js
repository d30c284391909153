// The case page of a video: a matched frame's button plays the video from that moment
// (muted: the player never unmutes by itself).
(function () {
  const video = document.querySelector("[data-testid=case-video]");
  if (!video) return;
  video.muted = true;
  function seek(seconds) {
    const go = () => { video.currentTime = seconds; };
    if (video.readyState >= 1) go(); else video.addEventListener("loadedmetadata", go, { once: true });
    video.scrollIntoView({ block: "center" });
  }
  document.querySelectorAll("[data-seek]").forEach((button) => {
    button.addEventListener("click", () => seek(parseFloat(button.dataset.seek)));
  });
})();
