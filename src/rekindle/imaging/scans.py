"""Split a scan of several prints into one straightened image per print (OpenCV, no model weights).

A flatbed scan or a phone photo of an album page shows prints on a background: a white scanner lid,
a black or textured album page. `detect_prints` finds each print as a quadrilateral in the scan;
`extract_print` straightens and crops one. The method, after the "Crop and Straighten Photos"
idea of scanner software:

1. Work on a copy whose longest side is `WORK_SIDE` pixels; median blur it so paper texture and
   halftone dots do not read as edges.
2. Model the background from a frame along the scan's edges: its median colour in CIELAB and its
   spread. Pixels far from it (ΔE above a threshold that grows with the spread, so a textured
   page needs more) are foreground; so are the closed outlines of strong edges, which catch
   white-bordered prints on a white lid (where colour alone barely differs), and, on a textured
   page, areas far smoother than it (a print's pale sky matches the paper's colour, not its grain).
3. Each connected region becomes one print when it is a convex quadrilateral that fills its
   minimum-area rectangle (or, in perspective, its four-corner hull) with opposite sides near
   parallel. Regions that are not, typically prints that touch, are split along their
   distance-transform ridges (watershed), or stripped of thin strips, and each piece is tried
   again; two prints joined only by the gap-bridging closing are taken apart again.
4. Guard against splitting a plain photo: when the frame is not a plain background, or no region
   passes, the scan is one print, the whole image.

Coordinates are pixels of the full-size scan, x to the right and y down; a quadrilateral is 4×2
float32, corners in the order top-left, top-right, bottom-right, bottom-left of the straightened
print.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

WORK_SIDE = 1024
"""Longest side, pixels, of the working copy that detection runs on."""
MIN_PRINT_FRACTION = 0.01
"""A print covers at least this fraction of the scan's area."""
MIN_FILL = 0.86
"""Region area / area of its fitted quadrilateral for the region to count as one print."""
MAX_PRINTS = 24
SEAM_SUPPORT = 0.85
"""Share of the lines across a print on which a seam's step edge must be found."""
TEXTURED_SD = 3.0
"""Median local grey standard deviation (0..255 levels) above which the background is textured."""
SMOOTH_SHARE = 0.35
"""An area whose local standard deviation is below this share of a textured background's is a
print's flat area, not the background."""
MAX_SKEW_DEGREES = 8.0
"""Largest angle, degrees, between opposite sides of a print seen in perspective: a phone photo
of a page tilted by a few tens of degrees stays well within it, while the hull of a print with a
fragment or a shadow band attached is a trapezoid or a wedge."""
REFINE_SIDE = 2048
"""Longest side, pixels, of the copy on which each print's edges are refined."""


@dataclass(frozen=True)
class DetectedPrint:
    """One print found in a scan.

    quad: 4×2 float32, scan pixels, top-left, top-right, bottom-right, bottom-left.
    angle_degrees: rotation of the print's top edge from horizontal, degrees, in [-45, 45];
        positive is clockwise on screen (y grows down).
    fill: how well the region fills `quad` (1.0 is a perfect quadrilateral); a confidence.
    whole_image: True when nothing was detected and the scan itself is taken as one print.
    """

    quad: np.ndarray
    angle_degrees: float
    fill: float
    whole_image: bool = False

    def as_list(self) -> list[list[float]]:
        """The quadrilateral as JSON-friendly `[[x, y], ...]`, rounded to 0.1 pixel."""
        return [[round(float(x), 1), round(float(y), 1)] for x, y in self.quad]


def order_corners(points: np.ndarray) -> np.ndarray:
    """Order 4 points (4×2) as top-left, top-right, bottom-right, bottom-left of the print.

    The top edge is the one of the two long-or-short edge pairs whose direction is closest to
    horizontal, so a print rotated by up to 45° keeps its own top; beyond 45° it is taken as
    the other orientation (a quarter turn is a separate, lossless choice for the person).
    """
    pts = np.asarray(points, dtype=np.float32).reshape(4, 2)
    center = pts.mean(axis=0)
    angles = np.arctan2(pts[:, 1] - center[1], pts[:, 0] - center[0])
    pts = pts[np.argsort(angles)]  # clockwise on screen (y down), starting anywhere
    # Choose the start so that the edge pts[0] -> pts[1] is the most horizontal and goes right.
    best, best_score = 0, -np.inf
    for start in range(4):
        a, b = pts[start], pts[(start + 1) % 4]
        dx, dy = b - a
        score = dx / (np.hypot(dx, dy) + 1e-9)  # cos of the angle to +x
        if score > best_score:
            best, best_score = start, score
    return np.roll(pts, -best, axis=0)


def quad_angle(quad: np.ndarray) -> float:
    """Angle, degrees, of the top edge (corner 0 to 1) from horizontal, clockwise positive."""
    (x0, y0), (x1, y1) = quad[0], quad[1]
    return float(np.degrees(np.arctan2(y1 - y0, x1 - x0)))


def _background(lab: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Median CIELAB colour of the scan's frame, the frame's robust spread (ΔE), and the share
    of the frame within a small ΔE of that colour (how plain the frame is)."""
    h, w = lab.shape[:2]
    band = max(2, round(0.02 * min(h, w)))
    frame = np.concatenate(
        [
            lab[:band].reshape(-1, 3),
            lab[-band:].reshape(-1, 3),
            lab[:, :band].reshape(-1, 3),
            lab[:, -band:].reshape(-1, 3),
        ]
    )
    color = np.median(frame, axis=0)
    distance = np.linalg.norm(frame - color, axis=1)
    spread = 1.4826 * float(np.median(distance))
    plain = float(np.mean(distance < max(8.0, 3.0 * spread)))
    return color, spread, plain


def _frame_gradient(gray: np.ndarray) -> float:
    """The 99th percentile of the Sobel gradient magnitude in the scan's frame (background texture)."""
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    magnitude = cv2.magnitude(gx, gy)
    h, w = gray.shape
    band = max(2, round(0.02 * min(h, w)))
    inner = magnitude[band : 2 * band]  # just inside the edge: Sobel at the border itself is skewed
    frame = np.concatenate([inner.ravel(), magnitude[h - 2 * band : h - band].ravel()])
    return float(np.percentile(frame, 99))


def _smoother_than_background(small: np.ndarray) -> np.ndarray | None:
    """H×W bool mask of the areas much smoother than a textured background, or None when the
    background has no texture to compare with.

    small: H×W×3 uint8 RGB working copy, unblurred (the texture is what is measured). A print's
    pale sky or wall can match textured paper in colour, but a photo's flat areas lack the paper's
    fibre and mottling: the local standard deviation of grey (7×7 window) there falls well below
    the frame's.
    """
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    mean = cv2.blur(gray, (7, 7))
    local_sd = np.sqrt(np.maximum(cv2.blur(gray * gray, (7, 7)) - mean * mean, 0.0))
    h, w = gray.shape
    band = max(2, round(0.02 * min(h, w)))
    frame = np.concatenate(
        [
            local_sd[:band].ravel(),
            local_sd[-band:].ravel(),
            local_sd[:, :band].ravel(),
            local_sd[:, -band:].ravel(),
        ]
    )
    texture = float(np.median(frame))
    if texture < TEXTURED_SD:
        return None
    return local_sd < SMOOTH_SHARE * texture


def _edge_bands(image: np.ndarray, level: np.ndarray) -> np.ndarray:
    """The shadow band a scanner lid leaves along an edge, as a per-pixel offset from `level`.

    image: H×W×C float32; level: the background's C values. For each side, the median of each
    line parallel to it (over the whole side, so prints covering part of a line do not count),
    within the outer tenth of the scan. A band is kept only when it is darker than the background
    (channel 0 lower by more than 3) at the very edge, and only up to the first line back within
    3 of the background: a shadow that starts at the edge and fades inwards.
    """
    offset = np.zeros_like(image)
    for axis, reverse in ((0, False), (0, True), (1, False), (1, True)):
        length = image.shape[axis]
        depth = max(2, round(0.1 * length))
        lines = np.moveaxis(image, axis, 0)
        lines = lines[::-1] if reverse else lines
        profile = np.median(lines[:depth], axis=1) - level  # depth×C
        if profile[0, 0] > -3.0:
            continue
        faded = np.nonzero(np.abs(profile[:, 0]) < 3.0)[0]
        end = int(faded[0]) if len(faded) else depth
        band = np.zeros((length, image.shape[2]), np.float32)
        band[:end] = profile[:end]
        band = band[::-1] if reverse else band
        offset += band[:, None, :] if axis == 0 else band[None, :, :]
    return offset


def _foreground(small: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Two H×W uint8 masks (255 = print) of the working copy: with gaps between fragments
    bridged, and without; or None when the frame is no plain background (the scan is then a
    single photo)."""
    blurred = cv2.medianBlur(small, 5)
    lab = cv2.cvtColor(blurred, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab[..., 0] *= 100.0 / 255.0  # OpenCV's 8-bit L is 0..255; ΔE wants 0..100
    lab[..., 1:] -= 128.0
    color, spread, plain = _background(lab)
    if plain < 0.6 or spread > 12.0:
        return None
    threshold = max(4.0, 4.0 * spread)
    # A lid's shadow band along an edge is background, however dark: compare against it.
    distance = np.linalg.norm(lab - color - _edge_bands(lab, color), axis=2)
    mask = (distance > threshold).astype(np.uint8) * 255
    smooth = _smoother_than_background(small)
    if smooth is not None:
        mask[smooth] = 255

    # Outlines of strong edges, closed and filled: a white border on a white lid differs from
    # the lid by a few ΔE only, but its edge (and drop shadow) is a continuous line.
    # A wider median flattens paper texture but keeps a print's edge, a step, sharp.
    gray = cv2.medianBlur(cv2.cvtColor(blurred, cv2.COLOR_RGB2GRAY), 9).astype(np.float32)
    rim = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    level = np.array([float(np.median(rim))], np.float32)
    gray = gray - _edge_bands(gray[..., None], level)[..., 0]
    gray = np.clip(gray, 0, 255).astype(np.uint8)
    # Edges stronger than the background's own texture (textured paper, the lid's grain).
    texture = _frame_gradient(gray)
    edges = cv2.Canny(gray, max(10.0, 1.0 * texture), max(30.0, 2.0 * texture))
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    outlines = np.zeros_like(mask)
    cv2.drawContours(outlines, contours, -1, 255, thickness=cv2.FILLED)
    mask = cv2.bitwise_or(mask, outlines)

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    # Bridge gaps up to about 1% of the scan: a print whose mid-tones match the page breaks into
    # fragments that a wide closing joins again (prints lie further apart than that, or touch).
    bridge = max(5, round(0.012 * max(mask.shape)) | 1)
    bridged = cv2.morphologyEx(
        mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (bridge, bridge))
    )
    bridged = _filled(cv2.morphologyEx(bridged, cv2.MORPH_OPEN, kernel, iterations=2))
    unbridged = _filled(cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel, iterations=2))
    return bridged, unbridged


def _filled(mask: np.ndarray) -> np.ndarray:
    """The mask with its regions' holes filled: a print's bright interior may match the
    background colour."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(mask)
    cv2.drawContours(filled, contours, -1, 255, thickness=cv2.FILLED)
    return filled


def _fit_quads(contour: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """The quadrilaterals that may describe a region's outline, best first, each with how well
    the region fills it.

    A minimum-area rectangle for a flat scan; first the 4-corner approximation of the convex hull
    when it fills the region better (a print photographed at an angle is a general
    quadrilateral). The rectangle stays as the fallback: a hull can also be a print with a strip
    of background attached, which only its edges (see `_accepted`) tell apart.
    """
    area = float(cv2.contourArea(contour))
    rect = cv2.boxPoints(cv2.minAreaRect(contour)).astype(np.float32)
    rect_fill = min(area / max(float(cv2.contourArea(rect)), 1.0), 1.0)
    hull = cv2.convexHull(contour)
    perimeter = cv2.arcLength(hull, True)
    for epsilon in (0.01, 0.02, 0.04):
        approx = cv2.approxPolyDP(hull, epsilon * perimeter, True)
        if len(approx) == 4 and cv2.isContourConvex(approx):
            quad = approx.reshape(4, 2).astype(np.float32)
            quad_area = float(cv2.contourArea(quad))
            fill = min(area, quad_area) / max(area, quad_area, 1.0)
            if fill > rect_fill + 0.01:
                return [(quad, fill), (rect, rect_fill)]
            break
    return [(rect, rect_fill)]


def _accepted(
    contour: np.ndarray, fine_gray: np.ndarray, to_fine: float
) -> tuple[np.ndarray, float] | None:
    """The region as one print, (quadrilateral in `fine_gray` pixels, fill), or None.

    A quadrilateral is a print when the region fills it or a straight edge is found along all
    four sides (a pale print whose inside matched the background in places), and when, once
    fitted to those edges, its opposite sides are near parallel: a wedge is a print with a strip
    of background attached, not a print in perspective.
    """
    for quad, fill in _fit_quads(contour):
        refined, sides = _refine(fine_gray, quad * to_fine)
        if (fill >= MIN_FILL or sides == 4) and _skew(refined) <= MAX_SKEW_DEGREES:
            return refined, max(fill, MIN_FILL)
    return None


def _skew(quad: np.ndarray) -> float:
    """Largest angle, degrees, between the directions of two opposite sides of a 4×2 quad."""

    def direction(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.degrees(np.arctan2(b[1] - a[1], b[0] - a[0])))

    q = order_corners(quad)
    return max(
        abs((direction(q[0], q[1]) - direction(q[3], q[2]) + 180.0) % 360.0 - 180.0),
        abs((direction(q[0], q[3]) - direction(q[1], q[2]) + 180.0) % 360.0 - 180.0),
    )


def _split(region: np.ndarray) -> list[np.ndarray]:
    """Split a region that is several touching prints along its distance-transform ridges.

    region: H×W uint8 mask of one connected region. Returns the pieces' masks; with no clear
    necks, the region itself less its thin strips.
    """
    distance = cv2.distanceTransform(region, cv2.DIST_L2, 5)
    peak = float(distance.max())
    if peak <= 0:
        return [region]
    seeds = (distance > 0.6 * peak).astype(np.uint8)
    count, markers = cv2.connectedComponents(seeds)
    if count <= 2:  # one seed: no neck between prints, but maybe a thin strip attached to one
        return [_without_strips(region, peak)]
    markers = markers.astype(np.int32) + 1
    markers[(region > 0) & (seeds == 0)] = 0
    markers[region == 0] = 1
    canvas = cv2.cvtColor(region, cv2.COLOR_GRAY2BGR)
    cv2.watershed(canvas, markers)
    return [
        ((markers == label) & (region > 0)).astype(np.uint8) * 255 for label in range(2, count + 1)
    ]


def _without_strips(region: np.ndarray, peak: float) -> np.ndarray:
    """The region less any part narrower than its own half-width: a lid's shadow band or a
    fragment of background joined to a print. peak: the region's largest distance to its edge,
    pixels (half the print's short side). Only the corners of the print itself round off, and a
    minimum-area rectangle ignores that."""
    radius = max(1, round(0.5 * peak))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.morphologyEx(region, cv2.MORPH_OPEN, disk)


def _regions(mask: np.ndarray, min_area: float) -> list[np.ndarray]:
    """Outlines of the mask's regions that may be prints lying on the background.

    A region touching two or more sides of the scan, or covering most of it, is the content of a
    plain photo, not a print on a background; a long thin one along one side is the shadow band
    a scanner lid leaves.
    """
    h, w = mask.shape
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    kept = []
    for contour in contours:
        area = cv2.contourArea(contour)
        if area < min_area or area > 0.7 * h * w:
            continue
        x, y, bw, bh = cv2.boundingRect(contour)
        sides = (x <= 1) + (y <= 1) + (x + bw >= w - 1) + (y + bh >= h - 1)
        (_, _), (rw, rh), _ = cv2.minAreaRect(contour)
        elongation = max(rw, rh) / max(min(rw, rh), 1.0)
        if sides >= 2 or (sides == 1 and elongation > 5.0):
            continue
        kept.append(contour)
    return kept


def detect_prints(rgb: np.ndarray) -> list[DetectedPrint]:
    """Find the prints in a scan.

    rgb: H×W×3 uint8 RGB scan. Returns the prints, top to bottom then left to right; a scan with
    no distinct prints (a plain photo, for one) gives exactly one print: the whole image, with
    `whole_image=True`. Never raises on a valid array; raises ValueError for a wrong shape/dtype.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected H×W×3 uint8 RGB, got {rgb.shape} {rgb.dtype}")
    h, w = rgb.shape[:2]
    scale = min(1.0, WORK_SIDE / max(h, w))
    small = (
        rgb
        if scale == 1.0
        else cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    )
    whole = _whole(w, h)
    masks = _foreground(small)
    if masks is None:
        return [whole]
    mask, unbridged = masks
    fine_scale = min(1.0, REFINE_SIDE / max(h, w))
    fine = (
        rgb
        if fine_scale == 1.0
        else cv2.resize(
            rgb, (round(w * fine_scale), round(h * fine_scale)), interpolation=cv2.INTER_AREA
        )
    )
    fine_gray = cv2.GaussianBlur(
        cv2.cvtColor(fine, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), 1.0
    )
    min_area = MIN_PRINT_FRACTION * mask.shape[0] * mask.shape[1]
    found: list[DetectedPrint] = []
    to_fine = fine_scale / scale
    for contour in _regions(mask, min_area):
        for quad, fill in _prints_in_bridged_region(
            contour, unbridged, min_area, fine_gray, to_fine
        ):
            full = order_corners(quad / fine_scale)
            found.append(DetectedPrint(full, quad_angle(full), round(fill, 4)))
    if not found or len(found) > MAX_PRINTS:
        return [whole]
    found.sort(
        key=lambda p: (round(float(p.quad[:, 1].min()) / (0.1 * h)), float(p.quad[:, 0].min()))
    )
    return found


def _prints_in_bridged_region(
    contour: np.ndarray,
    unbridged: np.ndarray,
    min_area: float,
    fine_gray: np.ndarray,
    to_fine: float,
) -> list[tuple[np.ndarray, float]]:
    """The prints in one region of the bridged mask, as (quadrilateral in `fine_gray` pixels,
    fill).

    Bridging joins a pale print's fragments, but also two prints lying close: when the region
    holds two or more print-sized parts before bridging and each of them is found to be a print,
    they are the prints; otherwise the bridged region is.
    """
    region = np.zeros_like(unbridged)
    cv2.drawContours(region, [contour], -1, 255, thickness=cv2.FILLED)
    parts, _ = cv2.findContours(
        cv2.bitwise_and(unbridged, region), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE
    )
    parts = [part for part in parts if cv2.contourArea(part) >= min_area]
    if len(parts) >= 2:
        found = [
            _prints_in_region(part, unbridged.shape, min_area, fine_gray, to_fine) for part in parts
        ]
        if all(found):
            return [found_print for prints in found for found_print in prints]
    return _prints_in_region(contour, unbridged.shape, min_area, fine_gray, to_fine)


def _prints_in_region(
    contour: np.ndarray,
    shape: tuple[int, ...],
    min_area: float,
    fine_gray: np.ndarray,
    to_fine: float,
) -> list[tuple[np.ndarray, float]]:
    """The prints in one foreground region, as (quadrilateral in `fine_gray` pixels, fill).

    A region is one print when `_accepted` finds it so. Otherwise it is split along its necks
    (touching prints at different angles) or stripped of thin strips (a shadow band joined to a
    print), and each piece is tried again; every print is finally checked for a seam: the
    straight line where two flush prints meet.
    """
    whole = _accepted(contour, fine_gray, to_fine)
    if whole is not None:
        candidates = [whole]
    else:
        region = np.zeros(shape[:2], np.uint8)
        cv2.drawContours(region, [contour], -1, 255, thickness=cv2.FILLED)
        pieces = [
            _accepted(part, fine_gray, to_fine)
            for piece in _split(region)
            for part in _regions(piece, min_area)
        ]
        candidates = [found for found in pieces if found is not None]
    prints: list[tuple[np.ndarray, float]] = []
    for quad, fill in candidates:
        prints.extend((piece, fill) for piece in _split_at_seams(fine_gray, quad, depth=2))
    return prints


def _split_at_seams(gray: np.ndarray, quad: np.ndarray, depth: int) -> list[np.ndarray]:
    """Split a quadrilateral where two flush prints meet: a straight step edge crossing it from
    side to side, parallel to a side, found on at least `SEAM_SUPPORT` of the lines across it,
    and away from the outer fifth on each side (where a print's own border edges run)."""
    q = order_corners(quad)
    width = round((np.linalg.norm(q[1] - q[0]) + np.linalg.norm(q[2] - q[3])) / 2)
    height = round((np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1])) / 2)
    if depth == 0 or min(width, height) < 40:
        return [q]
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    to_print = cv2.getPerspectiveTransform(q, target)
    flat = cv2.warpPerspective(gray, to_print, (width, height), flags=cv2.INTER_LINEAR)
    best: tuple[float, int, int] = (0.0, 0, 0)  # support, axis, position
    for axis, image in ((0, flat), (1, flat.T)):
        steps = np.abs(np.diff(image, axis=1))
        floor = np.maximum(4.0 * np.median(steps, axis=1, keepdims=True), 1.5)
        local = (steps >= np.roll(steps, 1, axis=1)) & (steps >= np.roll(steps, -1, axis=1))
        strong = local & (steps > floor)
        n = steps.shape[1]
        low, high = int(0.2 * n), int(0.8 * n)
        if high <= low:
            continue
        # A seam may wander by a pixel along its length: count a row as a hit near the column.
        near = strong[:, low - 1 : high - 1] | strong[:, low:high] | strong[:, low + 1 : high + 1]
        support = near.mean(axis=0)
        column = int(np.argmax(support))
        if support[column] > best[0]:
            best = (float(support[column]), axis, low + column + 1)
    support, axis, position = best
    if support < SEAM_SUPPORT:
        return [q]
    back = np.linalg.inv(to_print)
    if axis == 0:
        halves = [
            [[0, 0], [position, 0], [position, height], [0, height]],
            [[position, 0], [width, 0], [width, height], [position, height]],
        ]
    else:
        halves = [
            [[0, 0], [width, 0], [width, position], [0, position]],
            [[0, position], [width, position], [width, height], [0, height]],
        ]
    pieces = []
    for half in halves:
        corners = cv2.perspectiveTransform(np.array([half], np.float32), back)[0]
        pieces.extend(_split_at_seams(gray, corners, depth - 1))
    return pieces


def _side_candidates(
    gray: np.ndarray, a: np.ndarray, b: np.ndarray, outward: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step edges across one side: (points N×2, offset of each along the outward normal,
    index of the profile it lies on). Local maxima of the step strength that stand out from the
    profile's own texture (more than 4 times its median step)."""
    along = np.linspace(0.06, 0.94, 48, dtype=np.float32)
    points = a + along[:, None] * (b - a)
    grid = points[:, None, :] + offsets[None, :, None] * outward
    profiles = cv2.remap(
        gray, grid[..., 0], grid[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    steps = np.abs(np.diff(profiles, axis=1))
    floor = np.maximum(4.0 * np.median(steps, axis=1, keepdims=True), 1.5)
    peak = (
        (steps[:, 1:-1] >= steps[:, :-2])
        & (steps[:, 1:-1] >= steps[:, 2:])
        & (steps[:, 1:-1] > floor)
    )
    rows, cols = np.nonzero(peak)
    where = (offsets[cols + 1] + offsets[cols + 2]) / 2
    return points[rows] + where[:, None] * outward, where, rows


def _outermost_line(
    points: np.ndarray, where: np.ndarray, rows: np.ndarray, profiles: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """The outermost straight line through step edges found on at least 60% of the profiles:
    a print's own edge, outside its border's inner edge and inside any soft shadow. RANSAC over
    pairs of candidates, then a least-squares fit to the inliers."""
    if len(points) < 2:
        return None
    rng = np.random.default_rng(0)
    best: tuple[float, np.ndarray] | None = None
    for _ in range(150):
        i, j = rng.choice(len(points), 2, replace=False)
        if rows[i] == rows[j]:
            continue
        d = points[j] - points[i]
        d = d / (np.linalg.norm(d) + 1e-9)
        normal = np.array([-d[1], d[0]])
        inliers = np.abs((points - points[i]) @ normal) < 1.0
        if len(np.unique(rows[inliers])) < 0.6 * profiles:
            continue
        mean_offset = float(where[inliers].mean())
        if best is None or mean_offset > best[0] + 0.5:
            best = (mean_offset, inliers)
    if best is None:
        return None
    fit = cv2.fitLine(points[best[1]].astype(np.float32), cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
    return np.array(fit[2:], np.float32), np.array(fit[:2], np.float32)


def _refine(gray: np.ndarray, quad: np.ndarray) -> tuple[np.ndarray, int]:
    """Move each side of `quad` onto the print's own edge, by a robust line fit.

    gray: H×W float32, smoothed; quad: 4×2 corners in its pixels. The coarse region may include
    a drop shadow's soft halo, or stop at the inner edge of a pale border that matches the
    background; the print's edge is the outermost sharp, straight step near the side. A side
    with no such step keeps its place. Returns the quadrilateral and how many sides found one.
    """
    center = quad.mean(axis=0)
    size = float(min(np.linalg.norm(quad[1] - quad[0]), np.linalg.norm(quad[3] - quad[0])))
    inward, outward_reach = max(3.0, 0.02 * size), max(4.0, 0.1 * size)
    offsets = np.arange(-inward, outward_reach + 0.25, 0.5, dtype=np.float32)
    lines = []
    found = 0
    for k in range(4):
        a, b = quad[k], quad[(k + 1) % 4]
        direction = (b - a) / max(float(np.linalg.norm(b - a)), 1e-6)
        outward = np.array([-direction[1], direction[0]], np.float32)
        if np.dot(outward, (a + b) / 2 - center) < 0:
            outward = -outward
        line = _outermost_line(*_side_candidates(gray, a, b, outward, offsets), profiles=48)
        found += line is not None
        lines.append(line if line is not None else (a, direction))
    refined = []
    for k in range(4):
        (p1, d1), (p2, d2) = lines[k - 1], lines[k]
        matrix = np.array([d1, -d2]).T
        if abs(np.linalg.det(matrix)) < 1e-6:
            return quad, 0
        t = np.linalg.solve(matrix, p2 - p1)
        refined.append(p1 + t[0] * d1)
    result = np.array(refined, np.float32)
    if np.abs(result - quad).max() > 2 * outward_reach:
        return quad, 0  # the fit ran off: keep the coarse corners
    return result, found


def _whole(width: int, height: int) -> DetectedPrint:
    quad = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    return DetectedPrint(quad, 0.0, 1.0, whole_image=True)


def extract_print(rgb: np.ndarray, quad: np.ndarray, *, border: bool = True) -> np.ndarray:
    """Straighten and crop one print out of a scan by a perspective warp of its quadrilateral.

    rgb: H×W×3 uint8 RGB scan; quad: 4×2 corners (top-left, top-right, bottom-right, bottom-left),
    scan pixels. border=False also trims a uniform light border (a print's white margin). Returns
    h×w×3 uint8 RGB, with the output size from the quadrilateral's mean edge lengths. Raises
    ValueError for a degenerate quadrilateral.
    """
    q = np.asarray(quad, dtype=np.float32).reshape(4, 2)
    width = round((np.linalg.norm(q[1] - q[0]) + np.linalg.norm(q[2] - q[3])) / 2)
    height = round((np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1])) / 2)
    if width < 2 or height < 2:
        raise ValueError("the quadrilateral is degenerate")
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(q, target)
    out = cv2.warpPerspective(
        rgb, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    return out if border else trim_border(out)


def trim_border(rgb: np.ndarray) -> np.ndarray:
    """Crop a print's uniform margin (a white or cream border): rows and columns from each side
    whose pixels stay within a small distance of the outermost row's median colour.

    rgb: h×w×3 uint8. At most a quarter of each side is trimmed, so a pale photo keeps its content.
    """
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    h, w = gray.shape

    def depth(lines: np.ndarray, limit: int) -> int:
        edge = float(np.median(lines[0]))
        if edge < 170.0:  # not a white or cream margin
            return 0
        for i in range(limit):
            if np.percentile(np.abs(lines[i] - edge), 95) > 18.0:
                return i if i >= 2 else 0
        return limit

    top = depth(gray, h // 4)
    bottom = depth(gray[::-1], h // 4)
    left = depth(gray.T, w // 4)
    right = depth(gray.T[::-1], w // 4)
    if top == 0 and bottom == 0 and left == 0 and right == 0:
        return rgb
    return rgb[top : h - bottom, left : w - right]


def load_scan(data: bytes, *, max_side: int = 8000) -> np.ndarray:
    """Decode an uploaded scan (any accepted format) to H×W×3 uint8 RGB, upright, sRGB, its
    longest side at most `max_side` pixels. Raises InvalidImage / UnsupportedMediaType (as
    uploads do) for bytes that are not an accepted image."""
    from rekindle.imaging.decode import open_image, render

    image, _, _ = render(open_image(data), max_side=max_side, reducing_gap=3.0)
    return np.asarray(image.convert("RGB"))


def split_scan(rgb: np.ndarray, *, border: bool = True) -> list[tuple[DetectedPrint, np.ndarray]]:
    """Detect and extract every print of a scan: (the print, its straightened h×w×3 uint8 RGB).

    A scan with no distinct prints gives the whole image once, untouched."""
    prints = detect_prints(rgb)
    return [
        (found, rgb if found.whole_image else extract_print(rgb, found.quad, border=border))
        for found in prints
    ]
