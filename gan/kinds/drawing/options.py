"""The values a pix2pix run may take, named once and Keras-free, so flags are checked at once."""

from __future__ import annotations

SUPPORTED_SIZES = tuple(2**k for k in range(6, 10))  # 64..512: the U-Net halves down to 1 px
LAMBDA_L1 = 100.0  # the paper's weight of the L1 term against the adversarial one
GAN_LOSSES = ("bce", "lsgan")
REGIONS = ("face", "mouth")  # reference recipe: what the generator may change
RECIPES = ("pix2pix", "reference")  # the drawing alone; or the drawing plus a retrieved photo
# Reference recipe: photos mixed into one reference (reference.blend_weights). Training mixes
# from its 4 candidates less one left out at random, so at most 3. Three: on franck's held-out tail
# identity went from a loss to retrieval (+0.005 with two) to level (+0.000 [-0.002, +0.003]), and
# under cap12 the output moved 0.90x franck's own video rather than 1.02x (docs/results.md).
REFERENCES = 3
MAX_REFERENCES = 3
