"""Fixtures shared by the test modules."""

import pytest
import torch


@pytest.fixture
def single_thread():
    """One torch thread, as the Table 2 jobs run: tiny images only pay thread start-up for a second."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
