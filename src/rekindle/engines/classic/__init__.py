"""The `classic` local CPU restoration engine.

Modules, one purpose each: `noise` (sigma estimate), `defects` (scratch/dust detection and
inpainting), `denoise`, `tone` (fade/cast, local contrast, clarity), `sharpen` (+ upscaling), `color`
(monochrome detection and tint), `pipeline` (the order of steps, on arrays), `imageio`
(decode/encode) and `engine` (the `RestorationEngine` the worker calls).
"""

from rekindle.engines.classic.engine import ClassicEngine
from rekindle.engines.classic.options import RestoreOptions
from rekindle.engines.classic.pipeline import MODEL, restore_array

__all__ = ["MODEL", "ClassicEngine", "RestoreOptions", "restore_array"]
