"""The drawing kind: a line drawing of the 68 points becomes the target's face (pix2pix)."""
