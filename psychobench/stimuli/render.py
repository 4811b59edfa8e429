"""Objects rendered at controlled viewpoints (pybullet's CPU ``ER_TINY_RENDERER``: no GL, no display).

A viewpoint is a camera on a sphere around the object's bounding-sphere centre: azimuth and
elevation (degrees) of the camera, roll (in-plane rotation of the image, degrees,
counter-clockwise as :func:`psychobench.stimuli.manipulations.rotate`), distance (in units of
the distance at which the bounding sphere just fills the field of view) and light direction
(azimuth and elevation of the light, degrees, relative to the camera: 0/0 = from the camera).
Azimuth 0, elevation 0 looks at the object's canonical front (its catalogue orientation).

Objects carry ImageNet-1k labels (:data:`OBJECTS`; the accepted ImageNet indices are facts of
the ImageNet class list), so a network's answers can be scored with the ``imagenet-objects``
decision rule (top-1 among the classes of the set, :mod:`psychobench.models.decision`).

Roll by a multiple of 90 degrees is an exact image rotation for a pinhole camera with a square
image and centred principal point: such views are rendered once at roll 0 and rotated with
``numpy.rot90`` (4x fewer renderings; the light turns with the camera, so shading is that of the
roll-0 view exactly); other rolls turn the camera's up vector (the tiny renderer's shading of a
rolled camera differs slightly from the rotated image's; the geometry agrees to the pixel
at edges).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd

from .images import StimulusError, encode_png
from psychobench.data.io import sha256_bytes

from .manifest import (StimulusSet, cached_set, output_folder, read_manifest, staging,
                       write_manifest)

#: Bumped whenever rendered pixels change for the same parameters.
RENDER_VERSION = "1"
SIZE = 224
FOV_DEG = 30.0


@dataclass(frozen=True)
class Part:
    """A primitive of a procedural object: ``kind`` box (half extents), cylinder (radius,
    length along z) or sphere (radius); position (m) and rotation (Euler xyz, rad); RGBA."""

    kind: str
    size: tuple[float, ...]
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rot: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rgba: tuple[float, float, float, float] = (0.5, 0.5, 0.5, 1.0)


@dataclass(frozen=True)
class RenderObject:
    """One object: a pybullet_data file (``urdf``) or procedural ``parts``; its ImageNet label
    (``label``: the response name) and the ImageNet-1k indices that count as that label;
    ``orient``: Euler xyz (rad) that turns the object so azimuth 0 sees its front;
    ``rgba``: colour override of every visual shape of a file object."""

    name: str
    label: str
    imagenet: tuple[int, ...]
    urdf: str | None = None
    parts: tuple[Part, ...] = ()
    orient: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rgba: tuple[float, float, float, float] | None = None
    extra: dict = field(default_factory=dict)


def _bottle(glass, label_rgba):
    return (Part("cylinder", (0.04, 0.20), (0, 0, 0.10), rgba=glass),
            Part("cylinder", (0.041, 0.08), (0, 0, 0.09), rgba=label_rgba),
            Part("sphere", (0.04,), (0, 0, 0.20), rgba=glass),
            Part("cylinder", (0.014, 0.10), (0, 0, 0.27), rgba=glass),
            Part("cylinder", (0.016, 0.02), (0, 0, 0.32), rgba=(0.8, 0.7, 0.2, 1)))


_HALF_PI = float(np.pi / 2)
#: The catalogue.  ImageNet-1k indices (0-based, sorted-WNID order): 504 coffee mug, 968 cup,
#: 805 soccer ball, 444 bicycle-built-for-two, 671 mountain bike, 850 teddy, 532 dining table,
#: 907 wine bottle, 440 beer bottle, 898 water bottle, 543 dumbbell, 920 traffic light,
#: 427 barrel.  (The coffee-mug label also accepts 968 cup; bicycle the two bicycle classes of
#: the 16-category mapping; wine bottle the other two bottles with a neck.)
OBJECTS: dict[str, RenderObject] = {o.name: o for o in (
    RenderObject("mug", "coffee-mug", (504, 968), urdf="objects/mug.urdf",
                 orient=(0.0, 0.0, _HALF_PI)),
    RenderObject("soccerball", "soccer-ball", (805,), urdf="soccerball.urdf"),
    RenderObject("bicycle", "bicycle", (444, 671), urdf="bicycle/bike.urdf"),
    RenderObject("teddy", "teddy", (850,), urdf="teddy_vhacd.urdf", rgba=(0.6, 0.4, 0.2, 1.0),
                 orient=(_HALF_PI, 0.0, float(np.pi))),
    RenderObject("table", "dining-table", (532,), urdf="table/table.urdf"),
    RenderObject("wine-bottle", "wine-bottle", (907, 440, 898),
                 parts=_bottle((0.1, 0.3, 0.1, 1.0), (0.95, 0.92, 0.8, 1.0))),
    RenderObject("dumbbell", "dumbbell", (543,), parts=(
        Part("cylinder", (0.012, 0.30), (0, 0, 0), (0, _HALF_PI, 0), (0.7, 0.7, 0.72, 1)),
        Part("cylinder", (0.06, 0.04), (-0.11, 0, 0), (0, _HALF_PI, 0), (0.15, 0.15, 0.15, 1)),
        Part("cylinder", (0.06, 0.04), (0.11, 0, 0), (0, _HALF_PI, 0), (0.15, 0.15, 0.15, 1)))),
    RenderObject("traffic-light", "traffic-light", (920,), parts=(
        Part("box", (0.06, 0.05, 0.16), (0, 0, 0.16), rgba=(0.12, 0.12, 0.1, 1)),
        Part("sphere", (0.035,), (0, -0.04, 0.26), rgba=(0.9, 0.1, 0.1, 1)),
        Part("sphere", (0.035,), (0, -0.04, 0.16), rgba=(0.9, 0.7, 0.1, 1)),
        Part("sphere", (0.035,), (0, -0.04, 0.06), rgba=(0.1, 0.8, 0.3, 1)),
        Part("cylinder", (0.015, 0.25), (0, 0, -0.12), rgba=(0.3, 0.3, 0.3, 1)))),
    RenderObject("barrel", "barrel", (427,), parts=(
        Part("cylinder", (0.14, 0.40), (0, 0, 0.2), rgba=(0.55, 0.35, 0.18, 1)),
        Part("cylinder", (0.145, 0.03), (0, 0, 0.07), rgba=(0.25, 0.25, 0.25, 1)),
        Part("cylinder", (0.145, 0.03), (0, 0, 0.33), rgba=(0.25, 0.25, 0.25, 1)))),
)}


@dataclass(frozen=True)
class Viewpoint:
    """Camera azimuth, elevation, roll (deg), distance (x fit distance), light azimuth and
    elevation relative to the camera (deg)."""

    azimuth: float
    elevation: float
    roll: float = 0.0
    distance: float = 1.0
    light_azimuth: float = 45.0
    light_elevation: float = 45.0

    def name(self, default_distance: float = 1.0, default_light: tuple[float, float] = (45.0, 45.0)) -> str:
        """``az030_el15_roll000`` (+ ``_dist1.5``, ``_light-45_30`` when not the defaults)."""
        s = f"az{_fmt(self.azimuth % 360, 3)}_el{_fmt(self.elevation, 0)}_roll{_fmt(self.roll % 360, 3)}"
        if self.distance != default_distance:
            s += f"_dist{self.distance:g}"
        if (self.light_azimuth, self.light_elevation) != tuple(default_light):
            s += f"_light{self.light_azimuth:g}_{self.light_elevation:g}"
        return s


def _fmt(v: float, width: int) -> str:
    return f"{int(v):0{width}d}" if float(v).is_integer() else f"{v:g}"


#: The canonical view: from the front, 15 degrees above, upright.
CANONICAL = Viewpoint(0.0, 15.0, 0.0)
AZIMUTHS = (0, 45, 90, 135, 180, 225, 270, 315)
ELEVATIONS = (-30, 0, 15, 45, 75)
ROLLS = (0, 90, 180, 270)
BACKGROUND = (1.0, 1.0, 1.0)


def camera_basis(az: float, el: float, roll: float) -> np.ndarray:
    """Rows: camera right, up and backward (toward the camera) unit vectors in world coordinates.

    The camera sits at direction ``(cos el sin az, -cos el cos az, sin el)`` from the object
    (azimuth 0 = on the -y side looking along +y; z up); roll turns the camera clockwise about
    its viewing axis, so the image content turns counter-clockwise by ``roll``."""
    a, e, r = np.deg2rad([az, el, roll])
    back = np.array([np.cos(e) * np.sin(a), -np.cos(e) * np.cos(a), np.sin(e)])
    right = np.array([np.cos(a), np.sin(a), 0.0])
    up = np.cross(back, right)
    c, s = np.cos(r), np.sin(r)
    return np.stack([c * right - s * up, s * right + c * up, back])


def angular_distance(v: Viewpoint, ref: Viewpoint = CANONICAL) -> float:
    """Rotation angle (deg) between the camera orientations of ``v`` and ``ref``."""
    r = camera_basis(v.azimuth, v.elevation, v.roll) @ camera_basis(ref.azimuth, ref.elevation, ref.roll).T
    return float(np.degrees(np.arccos(np.clip((np.trace(r) - 1) / 2, -1.0, 1.0))))


class Renderer:
    """One pybullet DIRECT connection with one object loaded; :meth:`render` -> uint8 (H, W, 3)."""

    def __init__(self, obj: RenderObject, size: int = SIZE, background=BACKGROUND):
        import pybullet as p
        import pybullet_data

        self.p, self.obj, self.size = p, obj, size
        self.background = np.asarray(background, dtype=np.float64)
        self.cid = p.connect(p.DIRECT)
        p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=self.cid)
        quat = p.getQuaternionFromEuler(obj.orient)
        if obj.urdf is not None:
            if obj.urdf.endswith(".sdf"):
                bodies = list(p.loadSDF(obj.urdf, physicsClientId=self.cid))
                for b in bodies:
                    pos, _ = p.getBasePositionAndOrientation(b, physicsClientId=self.cid)
                    p.resetBasePositionAndOrientation(b, pos, quat, physicsClientId=self.cid)
            else:
                bodies = [p.loadURDF(obj.urdf, baseOrientation=quat, useFixedBase=True,
                                     physicsClientId=self.cid)]
            if obj.rgba is not None:
                for b in bodies:
                    for link in range(-1, p.getNumJoints(b, physicsClientId=self.cid)):
                        p.changeVisualShape(b, link, rgbaColor=obj.rgba, physicsClientId=self.cid)
        lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
        if obj.urdf is None:      # visual-only bodies have no AABB: bound the primitives
            for q in obj.parts:
                corners = self._part(q, quat)
                lo, hi = np.minimum(lo, corners.min(0)), np.maximum(hi, corners.max(0))
        for b in bodies if obj.urdf is not None else ():
            for link in range(-1, p.getNumJoints(b, physicsClientId=self.cid)):
                a, c = p.getAABB(b, link, physicsClientId=self.cid)
                lo, hi = np.minimum(lo, a), np.maximum(hi, c)
        self.centre = (lo + hi) / 2
        self.radius = float(np.linalg.norm(hi - lo) / 2)

    def _part(self, q: Part, quat) -> np.ndarray:
        """Create primitive ``q`` turned by ``quat``; return its bounding-box corners (8, 3)."""
        p, cid = self.p, self.cid
        kw = {"rgbaColor": q.rgba, "physicsClientId": cid}
        if q.kind == "box":
            vs = p.createVisualShape(p.GEOM_BOX, halfExtents=q.size, **kw)
        elif q.kind == "cylinder":
            vs = p.createVisualShape(p.GEOM_CYLINDER, radius=q.size[0], length=q.size[1], **kw)
        elif q.kind == "sphere":
            vs = p.createVisualShape(p.GEOM_SPHERE, radius=q.size[0], **kw)
        else:
            raise StimulusError(f"{self.obj.name}: unknown part kind {q.kind!r}")
        pos, rot = p.multiplyTransforms((0, 0, 0), quat, q.pos, p.getQuaternionFromEuler(q.rot))
        p.createMultiBody(baseMass=0, baseVisualShapeIndex=vs, basePosition=pos,
                          baseOrientation=rot, physicsClientId=cid)
        half = {"box": lambda z: z, "cylinder": lambda z: (z[0], z[0], z[1] / 2),
                "sphere": lambda z: (z[0],) * 3}[q.kind](q.size)
        corners = np.array(list(product(*[(-h, h) for h in half])))
        rm = np.asarray(p.getMatrixFromQuaternion(rot)).reshape(3, 3)
        return corners @ rm.T + np.asarray(pos)

    def close(self) -> None:
        try:
            self.p.disconnect(physicsClientId=self.cid)
        except Exception:  # pragma: no cover - already gone
            pass

    def view_params(self, v: Viewpoint) -> dict:
        """Camera eye, target, light direction (world, toward the light) of viewpoint ``v``."""
        basis = camera_basis(v.azimuth, v.elevation, v.roll)
        d = v.distance * self.radius / np.sin(np.deg2rad(FOV_DEG / 2))
        la, le = np.deg2rad([v.light_azimuth, v.light_elevation])
        light = np.array([np.cos(le) * np.sin(la), np.sin(le), np.cos(le) * np.cos(la)]) @ basis
        return {"eye": self.centre + d * basis[2], "up": basis[1], "dist": d, "light": light}

    def render(self, v: Viewpoint) -> np.ndarray:
        """Render viewpoint ``v`` -> uint8 (size, size, 3) on the background colour."""
        rgb, mask = self.render_masked(v)
        bg = (self.background * 255 + 0.5).astype(np.uint8)
        return np.where(mask[..., None], rgb, bg)

    def render_masked(self, v: Viewpoint) -> tuple[np.ndarray, np.ndarray]:
        """Render viewpoint ``v`` -> (uint8 (size, size, 3) colours, bool (size, size) object mask)."""
        p, q = self.p, self.view_params(v)
        view = p.computeViewMatrix(q["eye"].tolist(), self.centre.tolist(), q["up"].tolist())
        proj = p.computeProjectionMatrixFOV(FOV_DEG, 1.0, max(q["dist"] - 2 * self.radius, 1e-3),
                                            q["dist"] + 2 * self.radius)
        _, _, rgb, _, seg = p.getCameraImage(
            self.size, self.size, view, proj, renderer=p.ER_TINY_RENDERER,
            lightDirection=q["light"].tolist(), lightColor=[1, 1, 1], lightAmbientCoeff=0.45,
            lightDiffuseCoeff=0.6, lightSpecularCoeff=0.1, shadow=0, physicsClientId=self.cid)
        rgb = np.asarray(rgb, dtype=np.uint8).reshape(self.size, self.size, 4)[..., :3]
        mask = np.asarray(seg).reshape(self.size, self.size) >= 0
        return rgb, mask

    def render_many(self, views: list[Viewpoint]) -> list[np.ndarray]:
        """Render ``views``; rolls that are multiples of 90 reuse the roll-0 image (rot90)."""
        out, done = [], {}
        for v in views:
            if v.roll % 90 == 0:
                base = Viewpoint(v.azimuth, v.elevation, 0.0, v.distance, v.light_azimuth,
                                 v.light_elevation)
                if base not in done:
                    done[base] = self.render(base)
                out.append(np.ascontiguousarray(np.rot90(done[base], k=int(v.roll % 360) // 90)))
            else:
                out.append(self.render(v))
        return out


def viewpoint_grid(azimuths=AZIMUTHS, elevations=ELEVATIONS, rolls=ROLLS, distances=(1.0,),
                   lights=((45.0, 45.0),)) -> list[Viewpoint]:
    """All combinations, in the order azimuth, elevation, roll, distance, light."""
    return [Viewpoint(float(a), float(e), float(r), float(d), float(la), float(le))
            for a, e, r, d, (la, le) in product(azimuths, elevations, rolls, distances, lights)]


def _render_object(args) -> tuple[str, list[bytes], list[str]]:
    """Worker: render one object at every view -> (name, PNG bytes, pixel digests)."""
    obj, views, size, background = args
    r = Renderer(obj, size, background)
    try:
        imgs = r.render_many(views)
    finally:
        r.close()
    return obj.name, [encode_png(i) for i in imgs], [hashlib.sha256(i.tobytes()).hexdigest() for i in imgs]


def render_images(objects: list[RenderObject], views: list[Viewpoint], *, size: int = SIZE,
                  background=BACKGROUND, workers: int | None = None) -> dict[str, list[np.ndarray]]:
    """In memory: object name -> list of uint8 (size, size, 3) images, one per view."""
    out = {}
    for obj in objects:
        r = Renderer(obj, size, background)
        try:
            out[obj.name] = r.render_many(views)
        finally:
            r.close()
    return out


def make_viewpoints(out: str | Path | None = None, *, seed: int = 0, objects: list[str] | None = None,
                    azimuths=AZIMUTHS, elevations=ELEVATIONS, rolls=ROLLS, distances=(1.0,),
                    lights=((45.0, 45.0),), size: int = SIZE, background=BACKGROUND,
                    workers: int | None = None) -> StimulusSet:
    """Materialise the viewpoint set: every object of ``objects`` (default: all of
    :data:`OBJECTS`) at every viewpoint of the grid.  Writes ``images/<object>_<view>.png`` and
    a manifest (``category`` = the object's ImageNet label, ``condition`` = the view name,
    ``level`` = angular distance from the canonical view in degrees, ``params`` = azimuth,
    elevation, roll, distance, light direction).  ``seed`` is recorded (rendering is
    deterministic).  Cached by content in the user cache unless ``out`` is given."""
    names = list(objects) if objects is not None else list(OBJECTS)
    unknown = [n for n in names if n not in OBJECTS]
    if unknown:
        raise StimulusError(f"unknown object(s) {unknown}; known: {sorted(OBJECTS)}")
    objs = [OBJECTS[n] for n in names]
    views = viewpoint_grid(azimuths, elevations, rolls, distances, lights)
    if not views:
        raise StimulusError("empty viewpoint grid")
    default_d = float(distances[0]) if len(distances) == 1 else 1.0
    default_l = tuple(map(float, lights[0])) if len(lights) == 1 else (45.0, 45.0)
    cond = [v.name(default_d, default_l) for v in views]
    if len(set(cond)) != len(cond):
        raise StimulusError("two viewpoints of the grid have the same name (duplicate values?)")
    import pybullet_data
    key = hashlib.sha256(json.dumps({
        "objects": [repr(o) for o in objs], "views": [repr(v) for v in views], "size": size,
        "background": list(map(float, background)), "version": RENDER_VERSION, "seed": int(seed),
        "pybullet_data": os.path.basename(os.path.dirname(pybullet_data.getDataPath())),
    }, sort_keys=True).encode()).hexdigest()
    final, done = output_folder("viewpoints", key, out)
    if done is not None:
        return done
    with staging(final) as tmp:
        (tmp / "images").mkdir()
        jobs = [(o, views, size, tuple(background)) for o in objs]
        nw = workers if workers is not None else min(len(jobs), os.cpu_count() or 1, 4)
        if nw > 1:
            with ProcessPoolExecutor(nw) as ex:
                results = list(ex.map(_render_object, jobs))
        else:
            results = [_render_object(j) for j in jobs]
        rows, pix = [], hashlib.sha256()
        for obj, (_, pngs, digests) in zip(objs, results):
            for v, c, data, dg in zip(views, cond, pngs, digests):
                sid = f"{obj.name}_{c}"
                (tmp / "images" / f"{sid}.png").write_bytes(data)
                pix.update(f"{sid}\t{dg}\n".encode())
                params = {"object": obj.name, "azimuth": v.azimuth, "elevation": v.elevation,
                          "roll": v.roll, "distance": v.distance, "light_azimuth": v.light_azimuth,
                          "light_elevation": v.light_elevation, "seed": int(seed),
                          "imagenet": list(obj.imagenet)}
                rows.append({"stimulus_id": sid, "path": f"images/{sid}.png", "condition": c,
                             "category": obj.label, "params": json.dumps(params, sort_keys=True),
                             "sha256": sha256_bytes(data), "imagename": f"{sid}.png",
                             "level": round(angular_distance(v), 6), "object": obj.name})
        df = pd.DataFrame(rows)
        info = {"name": "viewpoints", "key": key, "pixel_key": pix.hexdigest(), "n": len(df),
                "render_version": RENDER_VERSION, "objects": names, "seed": int(seed)}
        (tmp / "set.json").write_text(json.dumps(info, indent=1, sort_keys=True))
        write_manifest(df, tmp)
    return read_manifest(final, name="viewpoints")


def viewpoint_set(seed: int = 0, objects: list[str] | None = None, azimuths=AZIMUTHS,
                  elevations=ELEVATIONS, rolls=ROLLS, distances=(1.0,), lights=((45.0, 45.0),),
                  cache: str | None = None, label: str = "view") -> StimulusSet:
    """Hydra factory (``_target_: psychobench.stimuli.render.viewpoint_set``).

    ``label``: ``"view"`` names each condition after the whole viewpoint
    (``az030_el15_roll000``); ``"roll"`` after the in-plane rotation alone, written as the
    model-vs-human rotation experiment writes it (``"0"``, ``"90"``, ``"180"``, ``"270"``: image
    content turned counter-clockwise), so that accuracy over in-plane rotation of rendered
    objects can be set beside people's on the rotated photographs (condition level).
    """
    if label not in ("view", "roll"):
        raise ValueError(f"label must be 'view' or 'roll', not {label!r}")
    stim = cached_set(Path(cache), "viewpoints") if cache is not None else None
    if stim is None:
        to_list = (lambda x: None if x is None else [
            tuple(i) if isinstance(i, (list, tuple)) or hasattr(i, "__len__") and not isinstance(i, str)
            else i for i in x])
        stim = make_viewpoints(cache, seed=seed, objects=None if objects is None else list(objects),
                               azimuths=list(azimuths), elevations=list(elevations),
                               rolls=list(rolls), distances=list(distances), lights=to_list(lights))
    if label == "roll":
        man = stim.manifest.copy()
        roll = man["params"].map(lambda p: float(json.loads(p)["roll"]) % 360.0)
        if not (roll % 90 == 0).all():
            raise ValueError("label='roll' needs rolls that are multiples of 90 degrees")
        man["condition"] = roll.astype(int).astype(str)
        man["level"] = np.minimum(roll, 360.0 - roll)        # angular distance from upright
        stim = StimulusSet(name=stim.name, root=stim.root, manifest=man)
    return stim


def bench_render(n_views: int = 100, obj: str = "mug", distinct: bool = True) -> float:
    """Rendered views per second (one process; ``distinct``: every view a new camera, no rot90 reuse)."""
    r = Renderer(OBJECTS[obj])
    try:
        r.render(CANONICAL)                          # warm-up
        az = np.linspace(0, 360, n_views, endpoint=False)
        views = [Viewpoint(float(a), 15.0, 0.0 if distinct else float(90 * (i % 4)))
                 for i, a in enumerate(az)]
        t0 = time.perf_counter()
        if distinct:
            for v in views:
                r.render(v)
        else:
            r.render_many(views)
        dt = time.perf_counter() - t0
    finally:
        r.close()
    return n_views / dt


# --------------------------------------------------------------------------------------------
# objects placed at known positions and scales on varied backgrounds (layer decoding)

#: ranges of the category-orthogonal variables of :func:`make_placed_objects` (Hong et al. 2016
#: vary position, size and pose in the same way; ranges here keep every variable linear in the
#: image: in-depth rotation within 60 degrees of the canonical view, in-plane within 45)
PLACED_RANGES = {"x_position": (-0.25, 0.25), "y_position": (-0.15, 0.15), "scale": (0.35, 0.8),
                 "rotation_in_plane": (-45.0, 45.0), "rotation_in_depth": (-60.0, 60.0)}
PLACED_VERSION = "1"


def pink_background(rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    """A colour 1/f noise texture, uint8 (size, size, 3): each channel's amplitude spectrum falls
    as 1/f with random phases (natural images' second-order statistics), scaled to mean 0.5 and
    standard deviation 0.15 of the range and clipped."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    f = np.hypot(fx, fy)
    f[0, 0] = 1.0
    amp = 1.0 / f
    amp[0, 0] = 0.0
    ph = rng.uniform(0, 2 * np.pi, (3,) + amp.shape)
    x = np.fft.irfft2(amp * np.exp(1j * ph), s=(size, size), axes=(1, 2))
    x = (x - x.mean(axis=(1, 2), keepdims=True)) / x.std(axis=(1, 2), keepdims=True)
    return (np.clip(0.5 + 0.15 * x, 0, 1) * 255 + 0.5).astype(np.uint8).transpose(1, 2, 0)


def place(rgb: np.ndarray, mask: np.ndarray, background: np.ndarray, scale: float, x: float, y: float) -> np.ndarray:
    """Paste the object (``rgb`` where ``mask``) shrunk to ``scale`` of the image side onto
    ``background``, its centre shifted by (``x``, ``y``) image widths (x to the right, y up)."""
    from PIL import Image

    n = background.shape[0]
    k = max(2, int(round(scale * n)))
    obj = np.asarray(Image.fromarray(rgb).resize((k, k), Image.BILINEAR))
    m = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((k, k), Image.BILINEAR)) / 255.0
    out = background.astype(np.float64).copy()
    c0, r0 = int(round(n / 2 + x * n - k / 2)), int(round(n / 2 - y * n - k / 2))
    rs, cs = slice(max(r0, 0), min(r0 + k, n)), slice(max(c0, 0), min(c0 + k, n))
    o_r, o_c = slice(rs.start - r0, rs.stop - r0), slice(cs.start - c0, cs.stop - c0)
    a = m[o_r, o_c][..., None]
    out[rs, cs] = a * obj[o_r, o_c] + (1 - a) * out[rs, cs]
    return (out + 0.5).astype(np.uint8)


def make_placed_objects(out: str | Path | None = None, *, n_per_object: int = 40, seed: int = 0,
                        objects: list[str] | None = None, size: int = SIZE) -> StimulusSet:
    """Each object of ``objects`` (default: all of :data:`OBJECTS`) rendered ``n_per_object``
    times at a random in-depth rotation (camera azimuth) and in-plane rotation (camera roll),
    elevation 15 degrees, then placed at a random scale and position on its own 1/f noise
    background (:data:`PLACED_RANGES`, uniform, seeded).  The manifest carries every variable
    (``x_position``, ``y_position``, ``scale``, ``rotation_in_plane``, ``rotation_in_depth``)
    beside ``category`` and ``object``.  Cached by content in the user cache unless ``out``."""
    names = list(objects) if objects is not None else list(OBJECTS)
    unknown = [n for n in names if n not in OBJECTS]
    if unknown:
        raise StimulusError(f"unknown object(s) {unknown}; known: {sorted(OBJECTS)}")
    if n_per_object < 2:
        raise StimulusError(f"n_per_object must be >= 2, got {n_per_object}")
    import pybullet_data

    key = hashlib.sha256(json.dumps({
        "objects": [repr(OBJECTS[n]) for n in names], "n": int(n_per_object), "seed": int(seed), "size": size,
        "ranges": PLACED_RANGES, "version": PLACED_VERSION, "render_version": RENDER_VERSION,
        "pybullet_data": os.path.basename(os.path.dirname(pybullet_data.getDataPath())),
    }, sort_keys=True).encode()).hexdigest()
    final, done = output_folder("placed_objects", key, out)
    if done is not None:
        return done
    rng = np.random.default_rng([seed, 2016])
    draws = {k: rng.uniform(lo, hi, (len(names), n_per_object)) for k, (lo, hi) in PLACED_RANGES.items()}
    with staging(final) as tmp:
        (tmp / "images").mkdir()
        rows, pix = [], hashlib.sha256()
        for i, name in enumerate(names):
            obj = OBJECTS[name]
            r = Renderer(obj, size)
            try:
                for j in range(n_per_object):
                    v = Viewpoint(float(draws["rotation_in_depth"][i, j]), 15.0, float(draws["rotation_in_plane"][i, j]))
                    rgb, mask = r.render_masked(v)
                    img = place(rgb, mask, pink_background(np.random.default_rng([seed, i, j]), size),
                                float(draws["scale"][i, j]), float(draws["x_position"][i, j]),
                                float(draws["y_position"][i, j]))
                    sid = f"{name}_{j:03d}"
                    data = encode_png(img)
                    (tmp / "images" / f"{sid}.png").write_bytes(data)
                    pix.update(f"{sid}\t{hashlib.sha256(img.tobytes()).hexdigest()}\n".encode())
                    row = {"stimulus_id": sid, "path": f"images/{sid}.png", "condition": "placed",
                           "category": obj.label, "object": name, "sha256": sha256_bytes(data),
                           "imagename": f"{sid}.png"}
                    row.update({k: float(draws[k][i, j]) for k in PLACED_RANGES})
                    row["params"] = json.dumps({"object": name, "seed": int(seed), "elevation": 15.0,
                                                "imagenet": list(obj.imagenet),
                                                **{k: row[k] for k in PLACED_RANGES}}, sort_keys=True)
                    rows.append(row)
            finally:
                r.close()
        df = pd.DataFrame(rows)
        info = {"name": "placed_objects", "key": key, "pixel_key": pix.hexdigest(), "n": len(df),
                "objects": names, "seed": int(seed), "ranges": PLACED_RANGES}
        (tmp / "set.json").write_text(json.dumps(info, indent=1, sort_keys=True))
        write_manifest(df, tmp)
    return read_manifest(final, name="placed_objects")
