"""``threads_for_free_cores``: the CLI's compute commands leave the cores other jobs hold."""

import os

import pytest
import torch

from zoo.devices import threads_for_free_cores


@pytest.fixture
def two_cores(monkeypatch):
    threads = torch.get_num_threads()
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    torch.set_num_threads(2)
    yield monkeypatch
    torch.set_num_threads(threads)


def test_busy_cores_leave_one_thread_and_say_so(two_cores):
    two_cores.setattr(os, "getloadavg", lambda: (3.6, 2.0, 1.0))
    note = threads_for_free_cores()
    assert torch.get_num_threads() == 1
    assert "2 of 2 CPU cores are busy" in note and "load 3.6" in note and "OMP_NUM_THREADS" in note


def test_one_busy_core_of_two_leaves_one_thread(two_cores):
    two_cores.setattr(os, "getloadavg", lambda: (1.2, 1.0, 1.0))
    assert threads_for_free_cores() is not None and torch.get_num_threads() == 1


def test_a_quiet_machine_and_the_users_choice_are_left_alone(two_cores):
    two_cores.setattr(os, "getloadavg", lambda: (0.7, 0.2, 0.1))  # e.g. the command just finished
    assert threads_for_free_cores() is None and torch.get_num_threads() == 2
    two_cores.setattr(os, "getloadavg", lambda: (9.0, 9.0, 9.0))
    two_cores.setenv("OMP_NUM_THREADS", "2")
    assert threads_for_free_cores() is None and torch.get_num_threads() == 2
