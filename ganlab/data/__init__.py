"""Datamodules and dataset factories (embedded mnist5k, torchvision sets, image folders)."""

from ganlab.data.base import ImageData, InMemoryBatches, fit_images, to_model_space
from ganlab.data.datamodule import GANDataModule

__all__ = ["GANDataModule", "ImageData", "InMemoryBatches", "fit_images", "to_model_space"]
