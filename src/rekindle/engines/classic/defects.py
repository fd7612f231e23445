"""Scratch, crack, dust and speck detection, and their removal by inpainting.

Detection of bright defects (cracks and scratches expose the light paper base): `crack_response`
scores how far a pixel rises above the bright envelope of its background (the dilated grey
opening, Soille, "Morphological Image Analysis", 2003, ch. 4), relative to the local contrast of
that background; a hysteresis threshold and shape tests on connected components (skeleton length
from cv2.ximgproc.thinning, mean width = area / length) keep long thin cracks and tiny strong
specks. The classic-1 high-contrast top-hat detector (absolute thresholds, Hessian ridge test,
Frangi et al., MICCAI 1998) is kept in the union, gated by the same envelope test. On a
monochrome photo, where no chroma tells paint from paper, a bright candidate must also be nearly
as bright as the paper (`_stands_out`): a scratch exposes the paper base, a picture line
is lit like its scene. Dark defects: tiny specks only. Monochrome prints (no chroma given) also
get `hairline_cracks`, an oriented two-sided line detector for the 1-2 px cracks of a crazed
emulsion, which the isotropic envelope misses beside bright content (a face, a collar) and on
shaded backgrounds; hairline cracks (and every defect of a print crazed all over) are grown by
2 px instead of 1, so that the dark rim of a crack goes with it. The mask is capped at
`_MAX_FRACTION` of the photo. It all runs on a copy downscaled to at most `_WORK_PIXELS`, so a
24-MP scan costs what a 2-MP one does.
Removal: OpenCV's Telea inpainting (Telea, J. Graphics Tools 9(1), 2004; cv2.inpaint docs).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from rekindle.engines.classic import faces, tone

_WORK_PIXELS = 2_000_000
_SE = 7  # opening element (px at work scale): defects up to ~5 px wide
_ENV = 4  # px: the bright envelope of the background reaches this far
_BG_K = 2.0  # × local median response subtracted (texture suppression)
_BG_WINDOW = 21  # px at work scale, for the local median of the response
_SD_WINDOW = 15  # px at work scale, for the local contrast of the background
_FLOOR, _FLOOR_PER_SIGMA = 4.0, 3.0  # contrast floor (grey levels): max(4, 3 sigma)
_LO, _HI = 15.0, 50.0  # hysteresis thresholds on `crack_response` (tenths of local contrast)
_MIN_LEN = 0.06  # shortest scratch skeleton, as a fraction of the short side
_MIN_EXTENT = 1.0  # × the shortest skeleton: the bounding-box diagonal a line must span
_MAX_WIDTH = 4.0  # px at work scale: mean width of a crack component (area / skeleton length)
_MAX_DEFECT_CHROMA = 24.0  # mean |chroma| (YCrCb levels) of a bright defect in a colour photo
_MAX_FRACTION = 0.12  # safety cap on the detected area
_AREA, _AREA_EXCESS = 7, 40.0  # px, grey levels: a defect stands out of its whole area (tune split:
# 4, 12, 25, 40, 60 tried; 40 kept every clean photo above 35 dB and lost nothing on scratches)
# Monochrome: a bright defect's core is nearly as bright as the paper (`_stands_out`).
# Tune split: the cores of 472 true scratch components read 0.67 / 0.79 / 0.95 of the paper's
# level (1st / 5th / 50th percentile), the picture lines taken for scratches on clean photos
# 0.69-0.86; 0.70, 0.75, 0.78 and 0.82 tried: 0.78 gained most on clean photos with nothing lost
# on a damaged preset, 0.82 lost 0.07 dB on scratched.
_CORE_SHARE, _PAPER_SHARE = 0.3, 0.78
_DARK_LO, _DARK_HI = 30.0, 80.0
_LO_ABS, _HI_ABS = 30.0, 80.0  # classic-1 detector, grey levels
_ENVELOPE_MIN = 3.0
_ANISO = 0.5  # dark speck thresholds on the black-hat excess, grey levels
_INPAINT_RADIUS = 3
# Repeated specks are content (`_drop_repeated_specks`); tune split: of 169 dust specks of the
# scratched preset 159 have 0-3 look-alike spots within 30 px and 3 have 6 or more; the spots
# the detector took for dust on set12-couple's clean photo have 11 or more. 4, 6 tried: 6 keeps
# the scratched preset's score and gains 0.4 dB on clean photos.
_SPECK_AREA, _SPECK_EXTENT = 30, 10
_SPOT_LEVEL = 20  # grey levels of top-hat: the least a spot worth counting stands out
_ALIKE = 4.0  # look-alike spots: area within this factor of the speck's
_REPEAT_RADIUS, _REPEAT_COUNT = 30.0, 6
# Hairline cracks of monochrome prints (`hairline_cracks`); tuned on scratch-couple-soldier against
# false positives on the bw-* scans and the grey versions of the clean references
# (docs/benchmarks.md).
_HL_BLUR = 0.8  # px: pre-smoothing, so a 1-px jagged crack gives a continuous ridge
_HL_SIDE = 2.0  # px: side samples, either side of the line
_HL_TAPS = (-1.5, 0.0, 1.5)  # px along the line: each side sample averages three points
_HL_ORIENT = 8  # orientations (22.5 degrees apart)
_HL_ASYM = 0.5  # × |left - right| subtracted: a crack has the same background on both sides
_HL_SE, _HL_SD_WINDOW = 5, 11  # background contrast: std of the 5-px opening over 11 px
_HL_LO, _HL_HI = 0.6, 2.0  # hysteresis on the contrast-normalised response
_HL_COV_LO, _HL_COV_HI = 0.04, 0.16  # and on the response / (paper white - background)
_HL_COV_FLOOR = 25.0  # grey levels: (paper white - background) is taken as at least this
_HL_WINDOW = 15  # px: local median of the response (texture) and density of candidate lines
_HL_DENSITY = 0.12  # skeleton pixels per pixel over 15×15: more is hair or texture, not cracks
_HL_BLOB_SE, _HL_BLOB_MIN, _HL_BLOB_GROW = 15, 25, 4  # dark blobs (pupils, nostrils, mouth
# corners) found by a black top-hat of the 5-px opening; lines within 4 px of one are not cracks
_HL_MAX_WIDTH = 2.6  # px: mean width (area / skeleton length) of a hairline component
_HL_MIN_LEN = 0.06  # shortest hairline skeleton, as a fraction of the short side (at least 15 px)
_HL_NETWORK = 0.005  # hairline cracks on this share of the print: a crazed print (see below)


def detect_defects(
    y: np.ndarray, sigma: float, chroma: np.ndarray | None = None, use_faces: bool = True
) -> np.ndarray:
    """Find scratches, cracks, dust and specks, bright and dark.

    y: H×W uint8 luminance. sigma: noise sigma left in `y` (grey levels). chroma: optional H×W
    uint8 chroma magnitude (0 = neutral) of a colour photo: bright defects expose the paper base,
    which is near-neutral, so strongly coloured bright lines (paint, flowers) are not defects.
    Without chroma the photo is taken for a monochrome print, and `hairline_cracks` searches the
    skin of the faces found (`faces.find_faces`, when `use_faces`): only there, so that text,
    line art, hair, rigging and fabric never pass for cracks. The faces' eyes, brows, nostrils and
    lips are never masked. Returns an H×W uint8 mask, 255 where a defect is (slightly dilated to
    cover its soft edges).
    """
    h, w = y.shape
    scale = min(1.0, math.sqrt(_WORK_PIXELS / (h * w)))
    ys = (
        y if scale >= 1.0 else cv2.resize(y, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    )
    cs = chroma if scale >= 1.0 else _shrink(chroma, scale)
    s = sigma * scale**0.5
    # A light median first, so that grain does not chain into fake lines.
    base = cv2.medianBlur(ys, 3) if sigma > 4 else ys
    short = min(ys.shape)
    response = crack_response(base, s)
    mask = _bright(response, short, cs)
    se = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (_SE, _SE))
    th = cv2.morphologyEx(base, cv2.MORPH_TOPHAT, se)
    rel = th.astype(np.int16) - 3 * cv2.medianBlur(th, _BG_WINDOW).astype(np.int16)
    rel[~_ridge(base)] = 0
    # The high-contrast detector of classic-1 (best on bold scratches across busy colour), kept
    # only where a pixel also stands above its bright envelope (no eye whites, lip highlights).
    above = cv2.dilate((response > _ENVELOPE_MIN).astype(np.uint8), np.ones((3, 3), np.uint8))
    del response
    mask |= _select_abs(rel, s, short, False, cs) * above
    paper = _paper_level(base) if chroma is None else None
    mask = _drop_repeated_specks(_stands_out(mask, base, paper), th)
    # Dust: darker than everything around it (a line's end or a corner of dark content is not).
    dark = _stands_out(_dark_specks(base, s), cv2.bitwise_not(base))
    mask |= _drop_repeated_specks(dark, cv2.morphologyEx(base, cv2.MORPH_BLACKHAT, se))
    del dark
    wide = None
    hair = hairline_cracks(base, s, paper) if paper is not None and use_faces else None
    # Faces only matter where there is a candidate to keep or protect: the Haar search is most of
    # the time on a photo of 1 MP or less, so it is skipped when nothing was found.
    found = mask.any() or (hair is not None and hair.any())
    boxes = faces.find_faces(ys) if use_faces and found else []
    skin, features = faces.face_zones(ys.shape, boxes)
    if hair is not None and boxes:
        hair[~skin] = 0
        mask |= hair
        # A crack in an emulsion has a dark rim (the lifted edge's shadow): hairline cracks grow
        # by 2 px instead of 1, and so does the whole mask of a crazed print (a network of them).
        network = np.count_nonzero(hair) >= _HL_NETWORK * hair.size
        wide = mask if network else hair
    del hair
    mask[features] = 0
    mask = _cap_area(mask, base)
    grow = max(1, round(1 / scale))
    out: np.ndarray = cv2.dilate(_enlarge(mask, scale, (w, h)), _disk(grow))
    if wide is not None and wide.any():
        wide = _enlarge(cv2.bitwise_and(wide, mask), scale, (w, h))
        out = cv2.bitwise_or(out, cv2.dilate(wide, _disk(2 * grow)))
    return out


def crack_response(y: np.ndarray, sigma: float) -> np.ndarray:
    """How strongly each pixel of `y` (H×W uint8) stands out as a thin bright line, H×W float32.

    Three steps, each aimed at a kind of false positive:
    1. Excess over the local bright envelope: the grey opening (element `_SE`) removes structures
       thinner than the element and its dilation by `_ENV` px is the brightest background nearby.
       A crack stands above everything around it; an eye white or a lip highlight does not
       (the skin beside it is as bright), so it scores about zero.
    2. Minus `_BG_K` × the local median of that excess: hair, lace and foliage fire everywhere
       around, a crack stands alone.
    3. Divided by the local contrast of the background (standard deviation of the opening over
       `_SD_WINDOW` px) plus a noise floor: a line on smooth paper or cloth counts, the same
       excess inside busy texture does not. The result is in tenths of that contrast.
    """
    se = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (_SE, _SE))
    opened = cv2.morphologyEx(y, cv2.MORPH_OPEN, se)
    env = cv2.dilate(
        opened, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * _ENV + 1, 2 * _ENV + 1))
    )
    excess = cv2.subtract(y, env)
    bg = cv2.medianBlur(excess, _BG_WINDOW)
    rel = cv2.subtract(excess.astype(np.float32), _BG_K * bg.astype(np.float32))
    np.maximum(rel, 0, out=rel)
    of = opened.astype(np.float32)
    mean = cv2.blur(of, (_SD_WINDOW, _SD_WINDOW))
    var = cv2.blur(of * of, (_SD_WINDOW, _SD_WINDOW)) - mean * mean
    floor = max(_FLOOR, _FLOOR_PER_SIGMA * sigma)
    return rel * 10.0 / (cv2.sqrt(np.maximum(var, 0)) + floor)


def _bright(rel: np.ndarray, short: int, chroma: np.ndarray | None) -> np.ndarray:
    """Bright cracks, scratches and specks: hysteresis on `rel` (`crack_response`), then shape
    tests.

    A line needs one strong pixel, a skeleton at least `_MIN_LEN` of the short side long and a
    mean width (area / skeleton length) of at most `_MAX_WIDTH` px: a crack network is one long
    thin component, texture clumps are short or fat. A speck is tiny and very strong.
    """
    weak = (rel > _LO).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(weak, connectivity=8)
    if n <= 1:
        return np.zeros_like(weak)
    strong = np.zeros(n, bool)
    strong[np.unique(labels[rel >= _HI])] = True
    very_strong = np.zeros(n, bool)
    very_strong[np.unique(labels[rel >= _HI * 1.4])] = True
    area = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    extent = np.hypot(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    min_len = max(15.0, _MIN_LEN * short)
    # A crack runs across the print; a compact curly shape (a letter of a shop sign, an
    # ornament) has a long skeleton folded into a small box: its extent must reach the length
    # test as well. Only such components are thinned (thinning is local to a component, so
    # the skeletons are the same; texture makes thousands of small ones).
    line = strong & (extent >= _MIN_EXTENT * min_len)
    line[0] = False
    skeleton = cv2.ximgproc.thinning(np.where(line[labels], 255, 0).astype(np.uint8))
    length = np.bincount(labels[skeleton > 0], minlength=n).astype(np.float64)
    line &= (length >= min_len) & (area / np.maximum(length, 1.0) <= _MAX_WIDTH)
    if chroma is not None:
        mean_chroma = np.bincount(labels.ravel(), weights=chroma.ravel(), minlength=n) / area
        line &= mean_chroma <= _MAX_DEFECT_CHROMA
    speck = (area <= 30) & (extent <= 10) & very_strong
    keep = line | speck
    keep[0] = False
    return np.where(keep[labels], 255, 0).astype(np.uint8)


def _select_abs(
    th: np.ndarray, sigma: float, short: int, dark: bool, chroma: np.ndarray | None
) -> np.ndarray:
    """Components of the background-relative top-hat `th` (int16) that look like scratches or
    specks (255), else 0.

    Dark candidates may only be tiny specks (dust): dark lines are everywhere in real content
    (glasses frames, moustaches, cables, window frames) and look exactly like dark scratches,
    while real print damage is mostly bright (emulsion gone, paper showing). Give an explicit
    mask for dark scratches.
    """
    strict = 1.4 if dark else 1.0
    lo = strict * max(_LO_ABS, 3.5 * sigma)
    hi = strict * max(_HI_ABS, 6.0 * sigma)
    weak = (th > lo).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(weak, connectivity=8)
    if n <= 1:
        return np.zeros_like(weak)
    # Peak top-hat per component decides the hysteresis: a component needs one strong pixel.
    strong = np.zeros(n, bool)
    strong[np.unique(labels[th >= hi])] = True
    very_strong = np.zeros(n, bool)
    very_strong[np.unique(labels[th >= hi * 1.4])] = True
    bw, bh, area = (
        stats[:, cv2.CC_STAT_WIDTH],
        stats[:, cv2.CC_STAT_HEIGHT],
        stats[:, cv2.CC_STAT_AREA],
    )
    extent = np.hypot(bw, bh)
    # No width test: the top-hat already kept only structures thinner than its element, and
    # crossing scratches or a crack network are wide as a whole.
    line = (extent >= max(20.0, _MIN_LEN * short)) & strong & (not dark)
    if chroma is not None and not dark:
        counts = np.maximum(np.bincount(labels.ravel(), minlength=n), 1)
        mean_chroma = np.bincount(labels.ravel(), weights=chroma.ravel(), minlength=n) / counts
        line &= mean_chroma <= _MAX_DEFECT_CHROMA
    speck = (area <= (6 if dark else 30)) & (extent <= (4 if dark else 10)) & very_strong
    keep = line | speck
    keep[0] = False
    return np.where(keep[labels], 255, 0).astype(np.uint8)


def _dark_specks(y: np.ndarray, sigma: float) -> np.ndarray:
    """Tiny isolated dark specks (dust). Dark lines are everywhere in real content (glasses
    frames, moustaches, cables, window frames) and look exactly like dark scratches, while real
    print damage is mostly bright (emulsion gone, paper showing): give an explicit mask for those.
    """
    se = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (_SE, _SE))
    th = cv2.morphologyEx(y, cv2.MORPH_BLACKHAT, se)
    bg = cv2.medianBlur(th, _BG_WINDOW)
    rel = th.astype(np.int16) - 3 * bg.astype(np.int16)
    lo = 1.4 * max(_DARK_LO, 3.5 * sigma)
    hi = 1.4 * max(_DARK_HI, 6.0 * sigma)
    weak = (rel > lo).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(weak, connectivity=8)
    if n <= 1:
        return np.zeros_like(weak)
    very_strong = np.zeros(n, bool)
    very_strong[np.unique(labels[rel >= hi * 1.4])] = True
    extent = np.hypot(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    keep = (stats[:, cv2.CC_STAT_AREA] <= 6) & (extent <= 4) & very_strong
    keep[0] = False
    return np.where(keep[labels], 255, 0).astype(np.uint8)


def _drop_repeated_specks(mask: np.ndarray, th: np.ndarray) -> np.ndarray:
    """Drop the specks of `mask` (H×W uint8 255/0) that repeat: content, not dust.

    Dust falls at random and sparsely; a pattern of look-alike spots (a butterfly's wing spots,
    stars, polka dots, sparkles on water) is content. For each speck (a component of at most
    `_SPECK_AREA` px and `_SPECK_EXTENT` px across) the look-alike spots around it are counted:
    within `_REPEAT_RADIUS` px, the components of the top-hat `th` (H×W uint8, the speck's
    polarity) above half the speck's peak whose area is within a factor `_ALIKE` of the speck's.
    `_REPEAT_COUNT` or more and the speck is kept as content. Lines are untouched.
    """
    n, labels, stats, centres = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return mask
    area = stats[:, cv2.CC_STAT_AREA]
    extent = np.hypot(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    speck = (area <= _SPECK_AREA) & (extent <= _SPECK_EXTENT)
    speck[0] = False
    drop = np.zeros(n, bool)
    r = int(_REPEAT_RADIUS)
    h, w = mask.shape
    for i in np.nonzero(speck)[0]:
        cx, cy = (round(float(v)) for v in centres[i])
        y0, y1, x0, x1 = max(0, cy - r), min(h, cy + r + 1), max(0, cx - r), min(w, cx + r + 1)
        own = labels[y0:y1, x0:x1] == i
        win = th[y0:y1, x0:x1]
        peak = float(win[own].max())
        spots = (win >= max(_SPOT_LEVEL, 0.5 * peak)).astype(np.uint8)
        _, lab, st, cen = cv2.connectedComponentsWithStats(spots, connectivity=8)
        d = np.hypot(cen[:, 0] + x0 - centres[i, 0], cen[:, 1] + y0 - centres[i, 1])
        sa = st[:, cv2.CC_STAT_AREA]
        mine = np.unique(lab[own])
        alike = (d <= _REPEAT_RADIUS) & (sa * _ALIKE >= area[i]) & (sa <= _ALIKE * area[i])
        alike[0] = False
        alike[mine] = False
        drop[i] = np.count_nonzero(alike) >= _REPEAT_COUNT
    if not drop.any():
        return mask
    return np.where(drop[labels], 0, mask).astype(np.uint8)


def _stands_out(mask: np.ndarray, y: np.ndarray, paper: float | None = None) -> np.ndarray:
    """Keep the bright candidates (H×W uint8 255/0) that stand out of the picture as damage does.

    y: H×W uint8 (inverted for dark candidates). Each component must pass:
    1. Above its whole area: a crack or scratch shows the paper base, brighter than the picture
       it crosses; the white gaps between the strokes of text, hatching or hair are only as
       bright as the page or the light area around them. The area's level is the brightest
       pixel within `_AREA` px that is not itself a candidate (nor within 2 px of one); the
       component's mean excess over it must be at least `_AREA_EXCESS` grey levels.
    2. When `paper` (grey level, `_paper_level`) is given, which is on a monochrome photo where
       no chroma tells paint from paper: nearly as bright as the paper. A scratch exposes the
       paper base, a picture line (a gutter, a window frame, a wing's edge) is lit like the scene
       around it. The component's core, the mean of its brightest `_CORE_SHARE` of pixels, must
       reach `_PAPER_SHARE` of the paper's level.
    Returns the filtered mask.
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return mask
    around = y.copy()
    around[cv2.dilate(mask, np.ones((5, 5), np.uint8)) > 0] = 0
    area = cv2.dilate(
        around, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * _AREA + 1, 2 * _AREA + 1))
    )
    excess = y.astype(np.float32) - area.astype(np.float32)
    counts = np.maximum(np.bincount(labels.ravel(), minlength=n), 1)
    mean = np.bincount(labels.ravel(), weights=excess.ravel(), minlength=n) / counts
    keep = mean >= _AREA_EXCESS
    keep[0] = False
    if paper is not None:
        for i in np.nonzero(keep)[0]:
            x, top, w, h = stats[i, :4]
            box = np.s_[top : top + h, x : x + w]
            own = y[box][labels[box] == i]
            k = max(1, round(own.size * _CORE_SHARE))
            core = np.partition(own, own.size - k)[-k:]  # the brightest k, unordered
            keep[i] = core.mean() >= _PAPER_SHARE * paper
    return np.where(keep[labels], 255, 0).astype(np.uint8)


def _paper_level(y: np.ndarray) -> float:
    """The paper's grey level on a print (H×W uint8 `y`): its white point, as the levels step
    reads it (`tone.channel_levels`, the 99.5th percentile); at least 1."""
    return max(float(tone.channel_levels(y)[1][0]), 1.0)


def _cap_area(mask: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Safety cap: a mask over `_MAX_FRACTION` of the photo means the detector is reading
    content as damage; keep only its largest components up to the cap (inpainting that much
    would smear the photo)."""
    limit = _MAX_FRACTION * mask.size
    if np.count_nonzero(mask) <= limit:
        return mask
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    order = np.argsort(-stats[1:, cv2.CC_STAT_AREA]) + 1
    cum = np.cumsum(stats[order, cv2.CC_STAT_AREA])
    keep = np.zeros(n, bool)
    keep[order[cum <= limit]] = True
    return np.where(keep[labels], 255, 0).astype(np.uint8)


def inpaint(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Fill the masked pixels from their surroundings (Telea's fast marching method).

    image: H×W×3 or H×W uint8. mask: H×W uint8, nonzero = fill. Returns the same shape and dtype.
    Only the bounding box of the mask (plus a margin) is processed, to bound time and memory.
    """
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return image
    m = 2 * _INPAINT_RADIUS + 2
    y0, y1 = max(0, ys.min() - m), min(mask.shape[0], ys.max() + m + 1)
    x0, x1 = max(0, xs.min() - m), min(mask.shape[1], xs.max() + m + 1)
    out = image.copy()
    out[y0:y1, x0:x1] = cv2.inpaint(
        np.ascontiguousarray(image[y0:y1, x0:x1]),
        np.ascontiguousarray(mask[y0:y1, x0:x1]),
        _INPAINT_RADIUS,
        cv2.INPAINT_TELEA,
    )
    return out


def hairline_cracks(y: np.ndarray, sigma: float, paper: float | None = None) -> np.ndarray:
    """Hairline cracks of a monochrome print: thin (1-2 px), long, brighter than both sides.

    y: H×W uint8 luminance; sigma: noise left in it (grey levels); paper: the print's paper level
    (grey level, `_paper_level` of `y`) when the caller has read it. Returns an H×W uint8 mask
    (255 = crack), not dilated. A pixel is a candidate when, for some orientation, it is brighter
    than both sides 2 px away by clearly more than (a) the contrast of its background (the
    5-px opening, which has no cracks left in it, so a line on skin or cloth counts and the same
    excess among features does not) and (b) a share of the distance from its background to the
    paper white (a crack shows paper, so on a dark coat or hair it must be very bright, which
    sheen on hair and fabric is not). Real edges have different intensities on their two sides
    and are penalised by that difference. Candidates are dropped where lines are dense (hair,
    lace, foliage) and near compact dark blobs (pupils, nostrils, mouth corners, buttons); the
    rest go through hysteresis, the length and extent tests of `_bright` and a stricter width
    test (`_HL_MAX_WIDTH`).
    """
    f = cv2.GaussianBlur(y.astype(np.float32), (0, 0), _HL_BLUR)
    resp, background = _two_sided_line(f)
    clipped = np.clip(resp, 0, 255).astype(np.uint8)
    excess = resp - _BG_K * cv2.medianBlur(clipped, _HL_WINDOW).astype(np.float32)
    del resp, clipped
    se = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (_HL_SE, _HL_SE))
    opened = cv2.morphologyEx(y, cv2.MORPH_OPEN, se)
    of = opened.astype(np.float32)
    win = (_HL_SD_WINDOW, _HL_SD_WINDOW)
    mean = cv2.blur(of, win)
    sd = cv2.sqrt(np.maximum(cv2.blur(of * of, win) - mean * mean, 0))
    del of, mean
    score = excess / (sd + max(_FLOOR, _FLOOR_PER_SIGMA * sigma))
    paper = _paper_level(y) if paper is None else paper
    cover = excess / np.maximum(paper - background, _HL_COV_FLOOR)
    del excess, background, sd
    weak = (score > _HL_LO) & (cover > _HL_COV_LO)
    skeleton = cv2.ximgproc.thinning(weak.astype(np.uint8) * 255) > 0
    weak &= cv2.blur(skeleton.astype(np.float32), (_HL_WINDOW, _HL_WINDOW)) <= _HL_DENSITY
    weak &= ~_dark_blobs(opened)
    strong = weak & (score > _HL_HI) & (cover > _HL_COV_HI)
    del score, cover
    n, labels, stats, _ = cv2.connectedComponentsWithStats(weak.astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros(y.shape, np.uint8)
    keep = np.zeros(n, bool)
    keep[np.unique(labels[strong])] = True
    area = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    extent = np.hypot(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    length = np.bincount(labels[skeleton], minlength=n).astype(np.float64)
    min_len = max(15.0, _HL_MIN_LEN * min(y.shape))
    keep &= (length >= min_len) & (extent >= _MIN_EXTENT * min_len)
    keep &= area / np.maximum(length, 1.0) <= _HL_MAX_WIDTH
    keep[0] = False
    return np.where(keep[labels], 255, 0).astype(np.uint8)


def _two_sided_line(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How much each pixel of `f` (H×W float32) stands above both sides of a line through it.

    For each of `_HL_ORIENT` orientations, the two sides are sampled `_HL_SIDE` px away along
    the normal (each the mean of three points along the line, bilinear); the response is
    f - max(sides) - `_HL_ASYM` × |left - right|. Returns (the best response over orientations,
    the brighter side at that orientation), both H×W float32.
    """
    best = np.full(f.shape, -255.0, np.float32)
    background = np.zeros(f.shape, np.float32)
    for k in range(_HL_ORIENT):
        theta = math.pi * k / _HL_ORIENT
        tx, ty = math.cos(theta), math.sin(theta)
        nx, ny = -ty, tx
        sides = [
            cv2.filter2D(
                f,
                -1,
                _sample_kernel(
                    [
                        (sign * _HL_SIDE * nx + t * tx, sign * _HL_SIDE * ny + t * ty)
                        for t in _HL_TAPS
                    ]
                ),
                borderType=cv2.BORDER_REFLECT,
            )
            for sign in (1.0, -1.0)
        ]
        high = np.maximum(sides[0], sides[1])
        resp = f - high - _HL_ASYM * cv2.absdiff(sides[0], sides[1])
        better = resp > best
        best[better] = resp[better]
        background[better] = high[better]
    return best, background


def _sample_kernel(points: list[tuple[float, float]]) -> np.ndarray:
    """A correlation kernel averaging `f` at the given (dx, dy) offsets, bilinearly."""
    r = math.ceil(max(max(abs(px), abs(py)) for px, py in points)) + 1
    k = np.zeros((2 * r + 1, 2 * r + 1), np.float32)
    for px, py in points:
        x0, y0 = math.floor(px), math.floor(py)
        fx, fy = px - x0, py - y0
        for dx, wx in ((0, 1 - fx), (1, fx)):
            for dy, wy in ((0, 1 - fy), (1, fy)):
                k[r + y0 + dy, r + x0 + dx] += wx * wy / len(points)
    return k


def _dark_blobs(opened: np.ndarray) -> np.ndarray:
    """Compact dark features (pupils, nostrils, mouth corners, buttons) and 4 px around them.

    opened: the print's luminance after a small grey opening (thin bright cracks removed, so the
    patches they enclose do not look like dark blobs). Black top-hat over `_HL_BLOB_SE` px,
    thresholded, then opened with a 5-px disk so thin dark lines do not count. Returns H×W bool.
    """
    se = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (_HL_BLOB_SE, _HL_BLOB_SE))
    dark = cv2.morphologyEx(
        (cv2.morphologyEx(opened, cv2.MORPH_BLACKHAT, se) > _HL_BLOB_MIN).astype(np.uint8),
        cv2.MORPH_OPEN,
        cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)),
    )
    grow = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * _HL_BLOB_GROW + 1,) * 2)
    return cv2.dilate(dark, grow) > 0


def _enlarge(mask: np.ndarray, scale: float, size: tuple[int, int]) -> np.ndarray:
    return mask if scale >= 1.0 else cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _shrink(img: np.ndarray | None, scale: float) -> np.ndarray | None:
    if img is None:
        return None
    return cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def _ridge(y: np.ndarray) -> np.ndarray:
    """Pixels on a bright line-like ridge: the Hessian (Gaussian scale 1 px) has one strongly
    negative eigenvalue across the line and a small one along it (Frangi et al., MICCAI 1998).
    Texture and blobs curve in both directions and fail. y: H×W uint8. Returns H×W bool."""
    g = cv2.GaussianBlur(y.astype(np.float32), (0, 0), 1.0)
    hxx = cv2.Sobel(g, cv2.CV_32F, 2, 0, ksize=3)
    hyy = cv2.Sobel(g, cv2.CV_32F, 0, 2, ksize=3)
    hxy = cv2.Sobel(g, cv2.CV_32F, 1, 1, ksize=3)
    half_trace = (hxx + hyy) * 0.5
    root = cv2.sqrt(((hxx - hyy) * 0.5) ** 2 + hxy * hxy)
    lam_min, lam_max = half_trace - root, half_trace + root
    return (lam_min < 0) & (np.abs(lam_max) < _ANISO * np.abs(lam_min))
