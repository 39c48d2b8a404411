// SyncedPlayer: N audio tracks on one AudioContext clock, a muted video that follows it.
//
// All tracks are decoded into AudioBuffers and started together, each through its own
// GainNode; switching only moves gain (a short crossfade), so the playhead never jumps.
// The audio clock is master: position = ctx.currentTime - startTime. The video is slaved
// to it: small drift is removed by nudging playbackRate, large drift by a seek.
"use strict";

class SyncedPlayer {
  constructor(video, tracks, opts = {}) {
    this.video = video;
    this.tracks = tracks;                 // [{label, url}]
    this.fade = (opts.crossfadeMs ?? 30) / 1000;
    this.loop = opts.loop ?? true;
    this.onTick = opts.onTick || (() => {});
    this.onEnded = opts.onEnded || (() => {});
    this.onEvent = opts.onEvent || (() => {});   // ("play" | "pause" | "select", player, previousLabel)
    this.ctx = new (window.AudioContext || window.webkitAudioContext)();
    this.buffers = {};
    this.gains = {};
    this.sources = [];
    this.active = tracks[0].label;
    this.playing = false;
    this.startTime = 0;                   // ctx time at which position 0 would have played
    this.pausedAt = 0;
    this.length = 0;                      // loop length (s): the shortest track
    this.seeks = 0;                       // video seeks made by the drift controller
    this.seekLead = 0.01;                 // s: seeks aim this far ahead (learned from each seek's lag)
    this._seekPending = false;
    this._lastPos = 0;
    this._raf = null;
    this._timer = null;
  }

  async load() {
    const decoded = await Promise.all(this.tracks.map(async (t) => {
      const r = await fetch(t.url);
      if (!r.ok) throw new Error("could not load a track (" + r.status + ")");
      return this.ctx.decodeAudioData(await r.arrayBuffer());
    }));
    this.tracks.forEach((t, i) => {
      this.buffers[t.label] = decoded[i];
      const g = this.ctx.createGain();
      g.gain.value = t.label === this.active ? 1 : 0;
      g.connect(this.ctx.destination);
      this.gains[t.label] = g;
    });
    this.length = Math.min(...decoded.map((b) => b.duration));
    this.video.muted = true;
    this.video.loop = false;
    this.video.addEventListener("seeked", () => this._learnSeekLag());
    if (this.video.readyState < 1) {
      await new Promise((res, rej) => {
        this.video.addEventListener("loadedmetadata", res, { once: true });
        this.video.addEventListener("error", () => rej(new Error("could not load the video")), { once: true });
      });
    }
  }

  audioPosition() {
    if (!this.playing) return this.pausedAt;
    const p = this.ctx.currentTime - this.startTime;
    if (p < 0) return 0;
    return this.loop ? p % this.length : Math.min(p, this.length);
  }

  videoTime() { return this.video.currentTime; }

  drift() {                               // video - audio, wrapped into (-L/2, L/2]
    let d = this.videoTime() - this.audioPosition();
    if (this.loop && this.length > 0) {
      if (d > this.length / 2) d -= this.length;
      if (d < -this.length / 2) d += this.length;
    }
    return d;
  }

  async play() {
    if (this.playing) return;
    await this.ctx.resume();
    const offset = this.pausedAt >= this.length ? 0 : this.pausedAt;
    const when = this.ctx.currentTime + 0.05;      // one start time for all tracks
    this.sources = this.tracks.map((t) => {
      const s = this.ctx.createBufferSource();
      s.buffer = this.buffers[t.label];
      s.loop = this.loop;
      s.loopStart = 0;
      s.loopEnd = this.length;
      s.connect(this.gains[t.label]);
      s.start(when, offset);
      return s;
    });
    this.startTime = when - offset;
    this.playing = true;
    this._lastPos = offset;
    this.video.playbackRate = 1;
    this.video.currentTime = offset;
    const vp = this.video.play();
    if (vp && vp.catch) vp.catch(() => {});
    this._schedule();
    this.onEvent("play", this, null);
  }

  pause() {
    if (!this.playing) return;
    this.pausedAt = this.audioPosition();
    this._stopSources();
    this.playing = false;
    this.video.pause();
    this.video.playbackRate = 1;
    this.video.currentTime = this.pausedAt;
    this._unschedule();
    this.onEvent("pause", this, null);
    this.onTick(this);
  }

  toggle() { return this.playing ? this.pause() : this.play(); }

  select(label) {
    if (!(label in this.gains) || label === this.active) return;
    const now = this.ctx.currentTime;
    for (const [lab, g] of Object.entries(this.gains)) {
      const target = lab === label ? 1 : 0;
      g.gain.cancelScheduledValues(now);
      g.gain.setValueAtTime(g.gain.value, now);
      g.gain.linearRampToValueAtTime(target, now + this.fade);
    }
    const previous = this.active;
    this.active = label;
    this.onEvent("select", this, previous);
    this.onTick(this);
  }

  setLoop(on) {
    if (on === this.loop) return;
    const wasPlaying = this.playing;
    if (wasPlaying) this.pause();
    this.loop = on;
    if (wasPlaying) this.play();
  }

  dispose() {
    this._unschedule();
    this._stopSources();
    this.ctx.close();
  }

  _stopSources() {
    for (const s of this.sources) { try { s.stop(); } catch (e) { /* already stopped */ } s.disconnect(); }
    this.sources = [];
  }

  _schedule() {
    this._unschedule();
    const frame = () => { this._tick(); this._raf = requestAnimationFrame(frame); };
    this._raf = requestAnimationFrame(frame);
    this._timer = setInterval(() => this._tick(), 50);   // rAF stops in background tabs
  }

  _unschedule() {
    if (this._raf) cancelAnimationFrame(this._raf);
    if (this._timer) clearInterval(this._timer);
    this._raf = this._timer = null;
  }

  _tick() {
    if (!this.playing) return;
    const raw = this.ctx.currentTime - this.startTime;
    if (!this.loop && raw >= this.length) {
      this.pause();
      this.pausedAt = 0;
      this.video.currentTime = 0;
      this.onEnded(this);
      return;
    }
    if (raw < 0) return;                    // not started yet
    const pos = this.audioPosition();
    const wrapped = this.loop && pos < this._lastPos - this.length / 2;   // the audio looped
    this._lastPos = pos;
    if (this.video.paused && !this.video.ended) {
      const vp = this.video.play();
      if (vp && vp.catch) vp.catch(() => {});
    }
    const d = this.drift();
    const ad = Math.abs(d);
    if (wrapped || ad > 0.2 || (this.video.ended && pos < this.length - 0.1)) {
      this._seekVideo(pos);                 // hard correction (loop wrap, stalls)
    } else if (ad > 0.008) {
      // proportional control: removes the drift with a ~0.25 s time constant
      this.video.playbackRate = Math.min(1.5, Math.max(0.5, 1 - 4 * d));
    } else if (this.video.playbackRate !== 1) {
      this.video.playbackRate = 1;
    }
    this.onTick(this);
  }

  _seekVideo(pos) {
    // a seek takes time, during which the audio goes on: aim where the audio will be
    let target = pos + this.seekLead;
    if (this.loop && this.length > 0) target %= this.length;
    this.video.currentTime = target;
    this.video.playbackRate = 1;
    this._seekPending = true;
    this.seeks += 1;
  }

  _learnSeekLag() {
    if (!this._seekPending) return;
    this._seekPending = false;
    if (!this.playing) return;
    const lag = -this.drift();             // > 0: the seek landed behind the audio
    this.seekLead = Math.min(0.25, Math.max(0, this.seekLead + 0.5 * lag));
  }
}

window.SyncedPlayer = SyncedPlayer;
