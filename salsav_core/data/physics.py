"""Event-driven 2-D ball physics with exact (sub-frame) impact times.

World units: x in [0, 1] spans the frame width, y is the height of a ball's centre above
the floor; the visible region is 0 <= x <= 1, y <= TOP. Between events every ball moves
with constant acceleration (gravity in the air, rolling friction on the floor), so floor
hits, edge crossings and ball-ball contacts are roots of polynomials: times are exact.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

GRAVITY = 3.0        # units / s^2
TOP = 0.8            # height of the top frame edge above the floor
FRICTION = 0.08      # rolling deceleration, units / s^2
REST_SPEED = 0.35    # a bounce slower than this leaves the ball rolling on the floor
EPS = 1e-9
SOFT_CONTACT = 0.2   # slower contacts are silent nudges (no event), avoiding Zeno stacks
SEPARATE = 0.25      # horizontal speed that a silent nudge gives each ball, away from the other


@dataclass
class Ball:
    material: str
    radius: float
    restitution: float
    mass: float
    spawn: float                       # time it starts to exist
    p: np.ndarray                      # (2,) position at spawn
    v: np.ndarray                      # (2,) velocity at spawn
    grounded: bool = False
    # piecewise-constant-acceleration trajectory: rows (t0, x, y, vx, vy, ax, ay)
    pieces: list = field(default_factory=list)
    despawn: float = np.inf
    visible: bool = False
    t_now: float = 0.0                 # time the state (p, v) refers to
    f0: float = 0.0                    # sound: fundamental of this ball
    tint: tuple = (1.0, 1.0, 1.0)      # look: colour variation

    def accel(self) -> np.ndarray:
        if not self.grounded:
            return np.array([0.0, -GRAVITY])
        return np.array([-FRICTION * np.sign(self.v[0]), 0.0])

    def record(self, t: float) -> None:
        self.pieces.append((t, *self.p, *self.v, *self.accel()))

    def advance(self, dt: float) -> None:
        a = self.accel()
        self.p = self.p + self.v * dt + 0.5 * a * dt * dt
        self.v = self.v + a * dt

    def state_at(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions (len(t), 2) and velocities at times t (clamped to the spawn time)."""
        pc = np.asarray(self.pieces)                                  # (P, 7)
        i = np.clip(np.searchsorted(pc[:, 0], t, side="right") - 1, 0, len(pc) - 1)
        row = pc[i]
        dt = np.maximum(t - row[:, 0], 0.0)[:, None]
        pos = row[:, 1:3] + row[:, 3:5] * dt + 0.5 * row[:, 5:7] * dt * dt
        vel = row[:, 3:5] + row[:, 5:7] * dt
        return pos, vel


def _first_root(coeffs, lo: float = EPS) -> float:
    """Smallest real root > lo of a polynomial (highest power first), else inf."""
    c = list(coeffs)
    while c and abs(c[0]) < 1e-14:
        c.pop(0)
    if len(c) < 2:
        return np.inf
    if len(c) == 2:                                     # linear
        r = -c[1] / c[0]
        return r if r > lo else np.inf
    if len(c) == 3:                                     # quadratic, closed form
        a, b, k = c
        disc = b * b - 4 * a * k
        if disc < 0:
            return np.inf
        sq = math.sqrt(disc)
        rs = [r for r in ((-b - sq) / (2 * a), (-b + sq) / (2 * a)) if r > lo]
        return min(rs) if rs else np.inf
    r = np.roots(c)
    r = r[np.abs(r.imag) < 1e-7].real
    r = r[r > lo]
    return float(r.min()) if len(r) else np.inf


def _inside(p: np.ndarray) -> bool:
    return 0.0 <= p[0] <= 1.0 and p[1] <= TOP


def _crossing_time(b: Ball) -> float:
    """Next time the ball's centre crosses a frame edge (x=0, x=1 or y=TOP)."""
    a = b.accel()
    best = np.inf
    for axis, edge in ((0, 0.0), (0, 1.0), (1, TOP)):
        t = _first_root([0.5 * a[axis], b.v[axis], b.p[axis] - edge])
        if t < best:
            # only a real crossing: the inside/outside status changes at t
            pa = b.p + b.v * (t + 1e-7) + 0.5 * a * (t + 1e-7) ** 2
            if _inside(pa) != b.visible:
                best = t
    return best


def _floor_time(b: Ball) -> float:
    if b.grounded:
        return np.inf
    h = b.p[1] - b.radius
    return (b.v[1] + np.sqrt(max(b.v[1] ** 2 + 2 * GRAVITY * h, 0.0))) / GRAVITY


def _stop_time(b: Ball) -> float:
    return abs(b.v[0]) / FRICTION if b.grounded and abs(b.v[0]) > EPS else np.inf


def _despawn_time(b: Ball) -> float:
    a = b.accel()
    best = np.inf
    for edge in (-b.radius - 0.01, 1.0 + b.radius + 0.01):
        t = _first_root([0.5 * a[0], b.v[0], b.p[0] - edge])
        if t < best and np.sign(b.v[0] + a[0] * t) == np.sign(edge - 0.5):
            best = t
    return best


def _contact_time(b1: Ball, b2: Ball) -> float:
    """Earliest time the two balls touch while approaching (quartic in relative motion)."""
    R = b1.radius + b2.radius
    A = 0.5 * (b1.accel() - b2.accel())
    B = b1.v - b2.v
    C = b1.p - b2.p
    t = _first_root([A @ A, 2 * A @ B, B @ B + 2 * A @ C, 2 * B @ C, C @ C - R * R])
    if not np.isfinite(t):
        return np.inf
    d = A * t * t + B * t + C
    dd = 2 * A * t + B
    return t if d @ dd < 0 else np.inf


def _bounce(b: Ball) -> float:
    """Floor impact: returns the impact speed."""
    speed = -b.v[1]
    b.p[1] = b.radius
    b.v[1] = speed * b.restitution
    if b.v[1] < REST_SPEED:
        b.v[1] = 0.0
        b.grounded = True
    return speed


def _collide(b1: Ball, b2: Ball, e: float) -> float:
    """Impulse along the contact normal; returns the normal approach speed."""
    n = b1.p - b2.p
    n = n / np.linalg.norm(n)
    u = (b1.v - b2.v) @ n                               # < 0 when approaching
    j = -(1 + e) * u / (1 / b1.mass + 1 / b2.mass)
    b1.v = b1.v + j / b1.mass * n
    b2.v = b2.v - j / b2.mass * n
    if -u < SOFT_CONTACT:                               # resting contact: roll apart
        side = 1.0 if n[0] >= 0 else -1.0
        b1.v[0] += side * SEPARATE
        b2.v[0] -= side * SEPARATE
    for b in (b1, b2):
        if b.grounded and b.v[1] > REST_SPEED:
            b.grounded = False
        elif b.grounded or (b.p[1] <= b.radius + 1e-6 and b.v[1] <= 0):
            b.grounded, b.v[1], b.p[1] = True, 0.0, b.radius
    return -u


def _ball_next(b: Ball, t: float) -> list[tuple[float, str]]:
    return [(t + _floor_time(b), "bounce"), (t + _stop_time(b), "stop"),
            (t + _crossing_time(b), "cross"), (t + _despawn_time(b), "despawn")]


def simulate(balls: list[Ball], duration: float, max_steps: int = 20000) -> list[tuple]:
    """Run the world; fills each ball's trajectory; returns raw events
    (time, kind, ball_indices, impact_speed) sorted by time."""
    order = sorted(range(len(balls)), key=lambda i: balls[i].spawn)
    for b in balls:
        b.p, b.v = np.asarray(b.p, float), np.asarray(b.v, float)
        b.visible = _inside(b.p)
    alive: list[int] = []
    own: dict[int, list] = {}                           # ball -> absolute next-event times
    pair: dict[tuple, float] = {}                       # (i, j) -> absolute contact time
    events: list[tuple] = []
    t = 0.0
    for _ in range(max_steps):
        cands = [(balls[order[0]].spawn, "spawn", (order[0],))] if order else []
        for i in alive:
            tb, kind = min(own[i])
            cands.append((tb, kind, (i,)))
        if pair:
            ij = min(pair, key=pair.get)
            cands.append((pair[ij], "collision", ij))
        if not cands:
            break
        tn, kind, idx = min(cands, key=lambda c: c[0])
        if tn > duration:
            break
        tn = max(tn, t)
        for i in alive:
            balls[i].advance(tn - balls[i].t_now)
            balls[i].t_now = tn
        t = tn
        changed = list(idx)
        if kind == "spawn":
            order.pop(0)
            alive.append(idx[0])
            balls[idx[0]].t_now = t
        elif kind == "bounce":
            events.append((t, "bounce", idx, _bounce(balls[idx[0]])))
        elif kind == "stop":
            balls[idx[0]].v[0] = 0.0
        elif kind == "cross":
            b = balls[idx[0]]
            b.visible = not b.visible
            events.append((t, "enter" if b.visible else "exit", idx, float(np.hypot(*b.v))))
        elif kind == "despawn":
            balls[idx[0]].despawn = t
            alive.remove(idx[0])
            own.pop(idx[0])
            pair = {k: v for k, v in pair.items() if idx[0] not in k}
            continue
        elif kind == "collision":
            b1, b2 = balls[idx[0]], balls[idx[1]]
            speed = _collide(b1, b2, 0.5 * (b1.restitution + b2.restitution))
            if speed >= SOFT_CONTACT:
                events.append((t, "collision", idx, speed))
        for i in changed:                               # refresh what the change affects
            balls[i].record(t)
            own[i] = _ball_next(balls[i], t)
            for j in alive:
                if j != i:
                    key = (min(i, j), max(i, j))
                    pair[key] = t + _contact_time(balls[key[0]], balls[key[1]])
    return events
