"""D4 augmentation: the eight transforms are the square's symmetry group, and the dataset enumerates them."""

import itertools

import pytest
import torch

from zoo.data.symmetries import DIHEDRAL_ELEMENTS, DihedralAugmented, dihedral_transform


def test_the_eight_elements_are_the_group_generated_by_the_reflections_and_the_transpose():
    grid = torch.arange(16.0).reshape(4, 4)
    generators = (lambda f: f.flip(-2), lambda f: f.flip(-1), lambda f: f.transpose(-1, -2))
    group, frontier = {tuple(grid.flatten().tolist())}, [grid]
    while frontier:  # closure of the generators acting on a grid of distinct values
        images = [g(f) for f in frontier for g in generators]
        frontier = [f for f in images if tuple(f.flatten().tolist()) not in group]
        group |= {tuple(f.flatten().tolist()) for f in frontier}
    elements = {tuple(dihedral_transform(grid, e).flatten().tolist()) for e in range(DIHEDRAL_ELEMENTS)}
    assert len(group) == 8 and elements == group
    assert torch.equal(dihedral_transform(grid, 0), grid)


def test_transform_acts_on_the_last_two_axes_and_refuses_bad_elements():
    field = torch.randn(2, 3, 5, 5)
    for element in range(DIHEDRAL_ELEMENTS):
        moved = dihedral_transform(field, element)
        assert all(torch.equal(moved[b, c], dihedral_transform(field[b, c], element)) for b, c in itertools.product(range(2), range(3)))
    with pytest.raises(ValueError, match=r"in \[0, 8\)"):
        dihedral_transform(field, 8)
    with pytest.raises(ValueError, match="square grid"):
        dihedral_transform(torch.zeros(4, 6), 5)


def test_augmented_dataset_holds_every_pair_under_every_element_alike():
    pairs = [(torch.randn(1, 6, 6), torch.randn(1, 6, 6)) for _ in range(3)]
    augmented = DihedralAugmented(pairs)
    assert len(augmented) == 24
    for index in range(len(augmented)):
        sample, element = divmod(index, 8)
        x, y = augmented[index]
        assert torch.equal(x, dihedral_transform(pairs[sample][0], element)) and torch.equal(y, dihedral_transform(pairs[sample][1], element))
    with pytest.raises(IndexError):
        augmented[24]
