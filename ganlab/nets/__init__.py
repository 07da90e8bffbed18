"""Generator and discriminator families; each file is one family, resolution is an argument."""
