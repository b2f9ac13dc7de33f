"""Data augmentation by the symmetries of the square: the dihedral group D4 (four rotations, four reflections).

An equation whose operator, forcing, boundary condition and input law are all invariant under a
symmetry ``g`` of the domain maps ``g``-transformed inputs to ``g``-transformed solutions, so every
training pair ``(a, u)`` gives eight: ``(g a, g u)``. Darcy flow ``-div(a grad u) = 1`` on the unit
square with ``u = 0`` on its boundary is such an equation (the Laplacian-type operator is isotropic,
``f = 1`` and the boundary are invariant, and the FNO paper's coefficient law is too: its cosine
series has iid coefficients whose variance depends on ``|k|`` only, and a reflection flips the sign
of odd modes). Other problems need checking case by case (a forcing may single out a direction, a
vorticity changes sign under a reflection): the caller decides.
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

# Element e = 4 * transpose + 2 * flip_y + flip_x: transpose the last two axes, then reflect them.
DIHEDRAL_ELEMENTS = 8


def dihedral_transform(field: torch.Tensor, element: int) -> torch.Tensor:
    """``field`` ``(..., H, W)`` under element ``0 <= element < 8`` of D4 (0: identity).

    Bit 2 transposes ``H`` and ``W`` (needs ``H == W``), then bit 1 reflects axis ``-1`` and bit 0
    axis ``-2``; on nodes ``x_i = i / (n - 1)`` a reflection is ``x -> 1 - x`` exactly.
    """
    if not 0 <= element < DIHEDRAL_ELEMENTS:
        raise ValueError(f"a D4 element is an integer in [0, 8), got {element}")
    if element & 4:
        if field.shape[-1] != field.shape[-2]:
            raise ValueError(f"transposing elements (4..7) need a square grid, got {tuple(field.shape[-2:])}")
        field = field.transpose(-1, -2)
    axes = [axis for bit, axis in ((1, -2), (2, -1)) if element & bit]
    return field.flip(axes) if axes else field


class DihedralAugmented(Dataset):
    """``8 N`` items from a dataset of ``N`` pairs: item ``8 i + e`` is pair ``i`` under element ``e``.

    Every tensor of the item (inputs and targets, ``(C, H, W)``) is transformed alike. Enumerating
    the group rather than drawing an element per step keeps the data a fixed, shuffleable set, so a
    resumed run sees exactly the batches an uninterrupted one would; one pass over it is one epoch
    of each of the eight transformed copies.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return DIHEDRAL_ELEMENTS * len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        if not 0 <= index < len(self):
            raise IndexError(f"item {index} out of range for {len(self)} augmented items")
        sample, element = divmod(index, DIHEDRAL_ELEMENTS)
        return tuple(dihedral_transform(tensor, element) for tensor in self.dataset[sample])
