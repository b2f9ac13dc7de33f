"""PDE data: zoo's generated data sets, readers for published formats, and training datasets."""

from zoo.data.fields import FieldData, OperatorPairs, TimeWindows
from zoo.data.formats import bundled_path, describe, load_fields
from zoo.data.store import DataFileError

__all__ = ["DataFileError", "FieldData", "OperatorPairs", "TimeWindows", "bundled_path", "describe", "load_fields"]
