"""The CycleGAN kind (`train-cyclegan`): two generators and two PatchGANs on unpaired face crops."""
