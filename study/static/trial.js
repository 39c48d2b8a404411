// Trial page: reads the state the page carries, builds the player and the rating scales,
// saves every click at once (so a reload loses nothing) and completes the trial with "Next",
// whose answer is the next trial's state: shown in place (no page load), or after the last
// trial a reload into the end page.
"use strict";

(function () {
  const root = document.getElementById("trial");
  const $ = (id) => document.getElementById(id);
  const err = (m) => { $("error").textContent = m || ""; };

  async function getJSON(url, opts) {
    const r = await fetch(url, Object.assign({ headers: { "Content-Type": "application/json" } }, opts));
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.error || ("request failed: " + r.status));
    return body;
  }

  // the page carries its state (the same as GET state-url, which marked the trial as shown)
  let first;
  try { first = JSON.parse($("trial-state").textContent); } catch (e) { err("could not read the trial"); return; }
  showTrial(first);

  async function showTrial(state) {
    if (state.done || !state.trial) { location.reload(); return; }
    const live = new AbortController(), on = { signal: live.signal };   // this trial's listeners
    root.dataset.ready = "0";
    err("");
    $("play").disabled = true;
    $("ratings").replaceChildren();
    $("track-buttons").replaceChildren();
    const cfg = state.config, trial = state.trial;
    const labels = trial.tracks.map((t) => t.label);
    const axes = cfg.axes;
    const ratings = {};                       // label -> axis -> score
    for (const l of labels) ratings[l] = Object.assign({}, trial.ratings[l] || {});
    // a track can be rated once the server has credited it with min_listen_s of play time
    const minListen = trial.min_listen_s || 0;
    const played = {}, credited = {};       // label -> rateable; label -> seconds the server credited
    const credit = (listened) => {
      for (const l of labels) {
        credited[l] = listened[l] || 0;
        played[l] = minListen <= 0 || credited[l] >= minListen - 1e-6;
      }
    };
    credit(trial.listened || {});

    $("progress").textContent = `Trial ${trial.index + 1} of ${trial.total}`;

    // ---------------------------------------------------------------- rating scales
    const box = document.createElement("div");
    box.className = "tracks";
    for (const l of labels) {
      const card = document.createElement("div");
      card.className = "track";
      card.id = "track-" + l;
      card.innerHTML = `<h3>Track ${l}</h3><p class="hint lock-note">Play this track to rate it.</p>`;
      for (const a of axes) {
        const ax = document.createElement("div");
        ax.className = "axis";
        ax.innerHTML = `<div><b>${a.name}</b></div><div class="q">${a.question}</div>`;
        const sc = document.createElement("div");
        sc.className = "scale";
        for (let v = cfg.scale.min; v <= cfg.scale.max; v++) {
          const lab = document.createElement("label");
          const inp = document.createElement("input");
          inp.type = "radio"; inp.name = `r-${l}-${a.key}`; inp.value = v;
          inp.dataset.label = l; inp.dataset.axis = a.key;
          if (ratings[l][a.key] === v) inp.checked = true;
          inp.addEventListener("change", () => rate(l, a.key, v));
          lab.appendChild(inp);
          const num = document.createElement("span");
          num.textContent = String(v);
          lab.appendChild(num);
          if (cfg.scale.labels[v]) {
            const word = document.createElement("span");
            word.className = "scale-word";
            word.textContent = cfg.scale.labels[v];
            lab.appendChild(word);
          }
          sc.appendChild(lab);
        }
        ax.appendChild(sc);
        card.appendChild(ax);
      }
      box.appendChild(card);
    }
    $("ratings").appendChild(box);

    function complete() { return labels.every((l) => axes.every((a) => ratings[l][a.key] !== undefined)); }

    function refresh() {
      for (const l of labels) {
        const card = $("track-" + l);
        card.classList.toggle("locked", !played[l]);
        card.querySelector(".lock-note").style.display = played[l] ? "none" : "";
        for (const inp of card.querySelectorAll("input")) inp.disabled = !played[l];
      }
      for (const b of document.querySelectorAll("#track-buttons button")) b.classList.toggle("active", player && b.dataset.label === player.active);
      $("play").textContent = player && player.playing ? "Pause" : "Play";
      $("next").disabled = !complete();
    }

    async function rate(label, axis, score) {
      ratings[label][axis] = score;
      refresh();
      try {
        await getJSON(root.dataset.rateUrl + trial.trial_id + "/ratings",
          { method: "POST", body: JSON.stringify({ ratings: { [label]: { [axis]: score } }, complete: false }) });
        err("");
      } catch (e) { err("Could not save: " + e.message); }
    }

    // ---------------------------------------------------------------- listening reports
    // The server credits a report with at most the wall-clock time since the trial's previous
    // report (or since the trial was shown) and at most 5 s (study/listening.py). So a play
    // segment of a track the server has not yet credited with min_listen_s is reported only
    // when it ends (pause, switch: "end", so credit is never lost) and when its credit can be
    // complete ("beat": the seconds still missing, plus a little; every 4 s while more is
    // missing, and again if the answer falls short). Its first report says it started one
    // (`started`, a play). Reports go one at a time and in order. Once the server has credited a
    // track (played[label]) it gets no more reports, even when played again or after a reload.
    const listenUrl = root.dataset.rateUrl + trial.trial_id + "/listen";
    const STEP = 4, MARGIN = 0.1;             // s: under the server's 5 s per report; timer slack
    let segment = null;                       // {label, t, started}: the track reported since audio time t
    let queue = Promise.resolve();
    let beatTimer = null;
    function send(kind, label, seconds, started) {
      const body = { kind, label, seconds: Math.max(0, Math.min(60, seconds)) };
      if (started) body.started = true;
      queue = queue.then(() => getJSON(listenUrl, { method: "POST", body: JSON.stringify(body) }))
        .then((r) => {
          if (live.signal.aborted) return;      // the trial is over
          credit(r.listened);
          if (segment && played[segment.label]) { segment = null; clearTimeout(beatTimer); }  // credited
          else if (kind === "beat" && segment && segment.label === label) schedule(player);   // fell short
          refresh();
        })
        .catch((e) => { if (!live.signal.aborted) err("Could not report listening: " + e.message); });
      return queue;
    }
    function schedule(p) {                    // the next beat: when the segment's credit can be complete
      clearTimeout(beatTimer);
      if (!segment) return;
      const missing = minListen - credited[segment.label];
      const due = Math.max(0.25, Math.min(STEP, missing + MARGIN)) - (p.ctx.currentTime - segment.t);
      beatTimer = setTimeout(() => { if (p.playing && segment) closeSegment(p, "beat"); }, Math.max(0, due) * 1000);
    }
    function closeSegment(p, kind) {
      if (!segment) return;
      clearTimeout(beatTimer);
      const now = p.ctx.currentTime;
      send(kind, segment.label, now - segment.t, segment.started);
      segment.t = now;
      segment.started = false;
    }
    function openSegment(p) {                 // the active track starts playing
      segment = null;
      clearTimeout(beatTimer);
      if (played[p.active]) return;           // already credited: nothing to report
      segment = { label: p.active, t: p.ctx.currentTime, started: true };
      schedule(p);
    }
    function onPlayerEvent(kind, p, previous) {
      if (kind === "play") {
        openSegment(p);
      } else if (kind === "pause") {
        closeSegment(p, "end");
        segment = null;
      } else if (kind === "select" && p.playing) {
        closeSegment(p, "end");
        openSegment(p);
      }
    }

    // ---------------------------------------------------------------- player
    const video = $("video");
    video.src = trial.video;
    let player = null;
    player = new SyncedPlayer(video, trial.tracks, {
      crossfadeMs: cfg.crossfade_ms, loop: $("loop").checked,
      onEvent: onPlayerEvent,
      onTick: (p) => {
        $("status").textContent = `${p.playing ? "Playing" : "Paused"} track ${p.active} · ${p.audioPosition().toFixed(1)} s`;
      },
      onEnded: () => refresh(),
    });
    window.studyPlayer = player;
    for (const l of labels) {
      const b = document.createElement("button");
      b.type = "button"; b.textContent = l; b.dataset.label = l; b.id = "select-" + l;
      b.addEventListener("click", () => { player.select(l); refresh(); });
      $("track-buttons").appendChild(b);
    }
    refresh();
    $("status").textContent = "Loading audio…";
    try { await player.load(); } catch (e) { err(e.message); return; }
    $("play").disabled = false;
    $("status").textContent = "Ready";
    root.dataset.ready = "1";

    $("play").addEventListener("click", async () => { await player.toggle(); refresh(); }, on);
    $("loop").addEventListener("change", () => player.setLoop($("loop").checked), on);
    // space on a focused button would also "click" it on keyup: swallow that
    document.addEventListener("keyup", (ev) => { if (ev.code === "Space") ev.preventDefault(); }, on);
    document.addEventListener("keydown", async (ev) => {
      if (ev.target && ev.target.tagName === "INPUT" && ev.target.type !== "radio" && ev.target.type !== "checkbox") return;
      if (ev.code === "Space") { ev.preventDefault(); await player.toggle(); refresh(); return; }
      const i = parseInt(ev.key, 10);
      if (i >= 1 && i <= labels.length) { player.select(labels[i - 1]); refresh(); }
    }, on);

    $("next").addEventListener("click", async () => {
      $("next").disabled = true;
      try {
        const st = await getJSON(root.dataset.rateUrl + trial.trial_id + "/ratings",
          { method: "POST", body: JSON.stringify({ ratings, complete: true }) });
        clearTimeout(beatTimer);
        segment = null;
        live.abort();                         // this trial's listeners and pending reports
        player.dispose();
        showTrial(st);                        // the next trial in place; after the last, the end page
      } catch (e) { err(e.message); refresh(); }
    }, on);
  }
})();
