// Volume check: a 2 s test sound made with Web Audio (no file is fetched).
(function () {
  const btn = document.getElementById("volume-play");
  const ok = document.getElementById("volume-ok");
  const go = document.getElementById("instructions-continue");
  btn.addEventListener("click", () => {
    const ctx = new (window.AudioContext || window.webkitAudioContext)();
    const osc = ctx.createOscillator(), gain = ctx.createGain();
    const level = parseFloat(btn.dataset.level) || 0.2;     // sine amplitude at the tracks' loudness
    osc.frequency.value = 440;
    gain.gain.setValueAtTime(0, ctx.currentTime);
    gain.gain.linearRampToValueAtTime(level, ctx.currentTime + 0.05);
    gain.gain.setValueAtTime(level, ctx.currentTime + 1.9);
    gain.gain.linearRampToValueAtTime(0, ctx.currentTime + 2.0);
    osc.connect(gain).connect(ctx.destination);
    osc.start(); osc.stop(ctx.currentTime + 2.05);
    osc.onended = () => ctx.close();
    ok.disabled = false;
  });
  ok.addEventListener("change", () => { go.disabled = !ok.checked; });
})();
