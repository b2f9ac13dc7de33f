"""Every supported file layout reads into the same FieldData; bad files are named with their problem."""

import h5py
import numpy as np
import pytest
import torch

from zoo.data import FieldData, OperatorPairs, TimeWindows, bundled_path, load_fields
from zoo.data.formats import describe
from zoo.data.store import DataFileError


def trajectories(n=3, t=5, c=2, x=8, y=6, seed=0):
    return np.random.default_rng(seed).standard_normal((n, t, c, x, y)).astype(np.float32)


def test_bundled_neuralop_darcy_reads_as_static_coefficient_and_one_step_solution():
    raw = torch.load(bundled_path("darcy_test_16.pt"), weights_only=True)
    data = load_fields(bundled_path("darcy_test_16.pt"))
    assert data.trajectories.shape == (50, 1, 1, 16, 16) and data.static.shape == (50, 1, 16, 16)
    assert torch.equal(data.static[:, 0], raw["x"].float()) and torch.equal(data.trajectories[:, 0, 0], raw["y"])
    x, y = OperatorPairs(data, target_times=(0,))[3]
    assert torch.equal(x, raw["x"][3:4].float()) and torch.equal(y, raw["y"][3:4])


def test_bundled_neuralop_burgers_keeps_its_trajectories_and_viscosity():
    raw = torch.load(bundled_path("burgers_lowres.pt"), weights_only=True)
    data = load_fields(bundled_path("burgers_lowres.pt"))
    assert data.trajectories.shape == (1200, 17, 1, 16) and data.metadata["viscosity"] == 0.01
    x, y = OperatorPairs(data, input_times=(0,), target_times=(-1,))[5]
    assert torch.equal(x[0], raw["input"][5].float()) and torch.equal(y[0], raw["output"][5, -1].float())


def test_pdebench_single_tensor_layout(tmp_path):
    u = trajectories(c=1)[:, :, 0, :, 0]  # (N, T, X): PDEBench 1D
    path = tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5"
    with h5py.File(path, "w") as f:
        f["tensor"] = u
        f["x-coordinate"] = np.linspace(0, 1, 8, endpoint=False)
        f["t-coordinate"] = np.arange(6) * 0.01  # one stamp more than steps, as PDEBench stores
    data = load_fields(path)
    assert np.array_equal(data.trajectories[:, :, 0].numpy(), u)
    assert torch.allclose(data.times, torch.arange(5, dtype=torch.float64) * 0.01)


def test_pdebench_darcy_layout_has_the_coefficient_as_static_field(tmp_path):
    rng = np.random.default_rng(1)
    nu, u = rng.random((4, 8, 8)).astype(np.float32), rng.random((4, 1, 8, 8)).astype(np.float32)
    path = tmp_path / "2D_DarcyFlow_beta1.0.hdf5"
    with h5py.File(path, "w") as f:
        f["nu"], f["tensor"] = nu, u
    data = load_fields(path)
    assert np.array_equal(data.static[:, 0].numpy(), nu) and np.array_equal(data.trajectories[:, :, 0].numpy(), u)


def test_pdebench_named_variables_layout(tmp_path):
    u = trajectories(c=3)
    path = tmp_path / "2D_CFD.hdf5"
    with h5py.File(path, "w") as f:
        for c, name in enumerate(["density", "pressure", "Vx"]):
            f[name] = u[:, :, c]
        f["t-coordinate"] = np.arange(6) * 0.05
    data = load_fields(path)
    assert data.channels == ["density", "pressure", "Vx"] and np.array_equal(data.trajectories.numpy(), u)


def test_pdebench_per_sample_group_layout(tmp_path):
    u = trajectories(c=2)
    path = tmp_path / "2D_diff-react.h5"
    with h5py.File(path, "w") as f:
        for n in range(u.shape[0]):
            f[f"{n:04d}/data"] = np.moveaxis(u[n], 1, -1)  # (T, X, Y, C)
            f[f"{n:04d}/grid/t"] = np.arange(5) * 0.1
    data = load_fields(path)
    assert np.array_equal(data.trajectories.numpy(), u) and data.channels == ["u0", "u1"]


def write_the_well(path, scalar, vector, static):
    n, t, x, y = vector.shape[:4]
    with h5py.File(path, "w") as f:
        f.attrs.update(dataset_name="toy", grid_type="cartesian", n_spatial_dims=2, n_trajectories=n,
                       simulation_parameters=["Re"], Re=100.0)
        dims = f.create_group("dimensions")
        dims.attrs["spatial_dims"] = ["x", "y"]
        dims["time"], dims["x"], dims["y"] = np.arange(t) * 0.5, np.linspace(0, 1, x), np.linspace(0, 1, y)
        t0 = f.create_group("t0_fields")
        t0.attrs["field_names"] = ["pressure", "mask"]
        t0["pressure"] = scalar
        t0["pressure"].attrs.update(sample_varying=True, time_varying=True)
        t0["mask"] = static  # not sample varying, not time varying: (X, Y)
        t0["mask"].attrs.update(sample_varying=False, time_varying=False)
        t1 = f.create_group("t1_fields")
        t1.attrs["field_names"] = ["velocity"]
        t1["velocity"] = vector
        t1["velocity"].attrs.update(sample_varying=True, time_varying=True)
        f.create_group("t2_fields").attrs["field_names"] = []


def test_the_well_layout_flattens_vectors_into_named_channels(tmp_path):
    u = trajectories(c=3)
    static = np.arange(48, dtype=np.float32).reshape(8, 6)
    path = tmp_path / "toy.hdf5"
    write_the_well(path, u[:, :, 0], np.moveaxis(u[:, :, 1:], 2, -1), static)
    data = load_fields(path)
    assert data.channels == ["pressure", "velocity_x", "velocity_y"]
    assert np.array_equal(data.trajectories.numpy(), u)
    assert data.static_channels == ["mask"] and np.array_equal(data.static[2, 0].numpy(), static)
    assert data.metadata["Re"] == 100.0 and torch.allclose(data.times, torch.arange(5.0, dtype=torch.float64) * 0.5)


def test_the_well_wrong_shape_is_named(tmp_path):
    u = trajectories(c=3)
    path = tmp_path / "bad.hdf5"
    write_the_well(path, u[:, :, 0, :, :5], np.moveaxis(u[:, :, 1:], 2, -1), np.zeros((8, 6), np.float32))
    with pytest.raises(DataFileError, match=r"bad.hdf5: /t0_fields/pressure has shape \(3, 5, 8, 5\), expected \(3, 5, 8, 6\)"):
        load_fields(path)


def test_missing_key_is_named(tmp_path):
    path = tmp_path / "x_only.pt"
    torch.save({"x": torch.zeros(2, 4, 4)}, path)
    with pytest.raises(DataFileError, match=r"x_only.pt: missing key\(s\) \['y'\]"):
        load_fields(path)
    with h5py.File(tmp_path / "empty.h5", "w") as f:
        f["something"] = np.zeros(3)
    with pytest.raises(DataFileError, match="empty.h5: no PDEBench layout found"):
        load_fields(tmp_path / "empty.h5")


def test_truncated_files_are_named(tmp_path):
    for name in ("darcy_test_16.pt",):
        data = bundled_path(name).read_bytes()
        (tmp_path / name).write_bytes(data[: len(data) // 2])
        with pytest.raises(DataFileError, match=f"{name}: not a tensor file zoo can read"):
            load_fields(tmp_path / name)
    path = tmp_path / "t.h5"
    with h5py.File(path, "w") as f:
        f["tensor"] = np.zeros((20, 5, 64), np.float32)
    (tmp_path / "cut.h5").write_bytes(path.read_bytes()[:3000])
    with pytest.raises(DataFileError, match="cut.h5: .*truncated or corrupt"):
        load_fields(tmp_path / "cut.h5")


def test_nan_values_are_named(tmp_path):
    u = trajectories(c=1)[:, :, 0, :, 0]
    u[1, 2, 3] = np.nan
    with h5py.File(tmp_path / "nan.h5", "w") as f:
        f["tensor"] = u
    with pytest.raises(DataFileError, match="nan.h5: trajectories hold 1 NaN/Inf"):
        load_fields(tmp_path / "nan.h5")


def test_time_windows_flatten_history_oldest_first_and_append_static():
    u = torch.arange(2 * 6 * 2 * 3 * 3, dtype=torch.float32).reshape(2, 6, 2, 3, 3)
    static = torch.full((2, 1, 3, 3), -1.0)
    data = FieldData(u, ["a", "b"], torch.arange(6.0, dtype=torch.float64), static, ["k"])
    windows = TimeWindows(data, history=3, horizon=2)
    assert len(windows) == 2 * 2
    x, y = windows[3]  # sample 1, window starting at t = 1
    assert torch.equal(x[:6], u[1, 1:4].reshape(6, 3, 3)) and torch.equal(x[6:], static[1])
    assert torch.equal(y, u[1, 4:6].reshape(4, 3, 3))
    with pytest.raises(ValueError, match="cannot hold history=5 \\+ horizon=2"):
        TimeWindows(data, history=5, horizon=2)


def test_subsampling_takes_every_kth_point_like_the_fno_convention():
    u = torch.randn(2, 3, 1, 8, 8)
    data = FieldData(u, ["w"], torch.arange(3.0, dtype=torch.float64), torch.randn(2, 1, 8, 8), ["a"])
    coarse = data.subsample(4)
    assert torch.equal(coarse.trajectories, u[..., ::4, ::4]) and coarse.static.shape == (2, 1, 2, 2)


def test_describe_reports_shapes_and_channels():
    summary = describe(bundled_path("darcy_train_16.pt"))
    assert summary["trajectories"] == [1000, 1, 1, 16, 16] and summary["static_channels"] == ["a"]


def test_zoo_data_subsampled_shard_by_shard_equals_subsampled_whole(tmp_path):
    from zoo.data.equations import darcy_recipe
    from zoo.data.generate import generate

    generate(tmp_path / "d", darcy_recipe(resolution=21), samples=5, seed=0, shard_size=2, progress=False)
    whole = load_fields(tmp_path / "d")
    for samples in (None, (1, 4)):
        part = whole if samples is None else whole.select(samples=slice(*samples))
        read = load_fields(tmp_path / "d", samples=samples, subsample=5)
        assert read.spatial_shape == (5, 5)
        assert torch.equal(read.trajectories, part.subsample(5).trajectories) and torch.equal(read.static, part.subsample(5).static)
