"""`forking.fork_map`: chunks shared by the caller and forked workers come back in order,
through the given codec; a chunk a worker cannot send, or never sends, is done by the caller."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence

import pytest

from reconciler import forking


def _tagged(items: Sequence[int]) -> list[tuple[int, int]]:
    return [(item, os.getpid()) for item in items]


def _slow(items: Sequence[int]) -> list[tuple[int, int]]:
    time.sleep(0.005)  # long enough that the workers start before the caller is done
    return _tagged(items)


JSON: forking.Codec[tuple[int, int]] = forking.Codec(
    encode=lambda results: json.dumps(results).encode(),
    decode=lambda blob: [(a, b) for a, b in json.loads(blob)],
)


@pytest.mark.parametrize("codec", [forking.PICKLE, JSON], ids=["pickle", "json"])
def test_chunks_come_back_in_order_from_several_processes(
    codec: forking.Codec[tuple[int, int]],
) -> None:
    results = forking.fork_map(range(400), _slow, workers=3, chunk=7, codec=codec)
    assert [item for item, _ in results] == list(range(400))
    assert len({pid for _, pid in results}) >= 2  # the workers did chunks too


def test_a_chunk_a_worker_cannot_encode_is_done_by_the_caller(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def encode(results: list[tuple[int, int]]) -> bytes:
        raise ValueError("cannot encode")  # the worker stops at its first chunk

    codec = forking.Codec(encode=encode, decode=JSON.decode)
    results = forking.fork_map(range(300), _slow, workers=2, chunk=10, codec=codec)
    assert results == [(i, os.getpid()) for i in range(300)]
    assert "did not return chunk" in caplog.text


def test_one_worker_or_one_item_runs_in_the_caller() -> None:
    here = os.getpid()
    assert forking.fork_map(range(50), _tagged, workers=1) == [(i, here) for i in range(50)]
    assert forking.fork_map([7], _tagged, workers=4) == [(7, here)]
