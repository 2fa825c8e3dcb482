"""The model kinds, one package each: its networks, losses, data, flags and presets, train step
(kind.py, for gan.core) and bundle (bundle.py, for gan.bundle).

KINDS maps bundle.json's "kind" to the kind's package: adding a kind is a folder, a line here
and its console script; no other kind changes.
"""

KINDS = {
    "pix2pix": "gan.kinds.drawing",  # a line drawing becomes the target's face
    "swap": "gan.kinds.swap",  # the camera's aligned face becomes the target's
    "cyclegan": "gan.kinds.cyclegan",  # the same, by two generators on unpaired faces (CycleGAN)
}
