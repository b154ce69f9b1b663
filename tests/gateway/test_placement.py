"""Rendezvous hashing with capacity (slack_rtm.gateway.placement): pure, no I/O."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slack_rtm.gateway.placement import place, ranking, weight

REG = st.text("abcdef0123456789", min_size=1, max_size=8).map(lambda s: "r" + s)
PROC = st.text("abcxyz-", min_size=1, max_size=6)
REGS = st.lists(REG, max_size=60)
PROCS = st.dictionaries(PROC, st.integers(0, 30), max_size=6)


def regs(n: int) -> list[str]:
    return [f"r{i:016x}" for i in range(n)]


def test_weight_is_stable_across_runs() -> None:
    # Fixed expectations: BLAKE2b, not Python's salted hash().
    assert weight("r1", "p1") == weight("r1", "p1")
    assert weight("r1", "p1") != weight("r1", "p2")
    assert weight("r0000000000000001", "gw-a") == int.from_bytes(
        hashlib.blake2b(b"r0000000000000001|gw-a", digest_size=8).digest(), "big"
    )


@given(REGS, PROCS)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_capacity_is_never_exceeded_and_everything_fits_when_it_can(
    registrations: list[str], processes: dict[str, int]
) -> None:
    placed = place(registrations, processes)
    assert set(placed) <= set(registrations)
    assert set(placed.values()) <= {p for p, c in processes.items() if c > 0}
    for proc, cap in processes.items():
        assert sum(1 for v in placed.values() if v == proc) <= cap
    assert len(placed) == min(len(set(registrations)), sum(processes.values()))


@given(REGS, PROCS, st.randoms(use_true_random=False))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_deterministic_whatever_the_order(
    registrations: list[str], processes: dict[str, int], rnd: random.Random
) -> None:
    shuffled = list(registrations)
    rnd.shuffle(shuffled)
    items = list(processes.items())
    rnd.shuffle(items)
    assert place(shuffled, dict(items)) == place(registrations, processes)


@given(REGS, st.lists(PROC, min_size=1, max_size=6, unique=True))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_without_full_processes_each_goes_to_its_first_choice(
    registrations: list[str], names: list[str]
) -> None:
    processes = dict.fromkeys(names, 1000)
    placed = place(registrations, processes)
    assert placed == {r: ranking(r, names)[0] for r in registrations}


@given(REGS, st.lists(PROC, min_size=2, max_size=6, unique=True), st.data())
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_removing_a_process_moves_only_its_own(
    registrations: list[str], names: list[str], data: st.DataObject
) -> None:
    gone = data.draw(st.sampled_from(names))
    before = place(registrations, dict.fromkeys(names, 1000))
    after = place(registrations, {n: 1000 for n in names if n != gone})
    moved = {r for r in registrations if before[r] != after[r]}
    assert moved == {r for r in registrations if before[r] == gone}


def test_adding_one_process_of_three_moves_about_a_quarter() -> None:
    ids = regs(2000)
    three = {"gw-a": 10_000, "gw-b": 10_000, "gw-c": 10_000}
    before = place(ids, three)
    after = place(ids, {**three, "gw-d": 10_000})
    moved = [r for r in ids if before[r] != after[r]]
    assert all(after[r] == "gw-d" for r in moved)  # moved only onto the newcomer
    assert 0.20 < len(moved) / len(ids) < 0.30


def test_with_capacity_adding_a_process_still_moves_few() -> None:
    ids = regs(900)
    three = {"gw-a": 320, "gw-b": 320, "gw-c": 320}  # nearly full
    before = place(ids, three)
    after = place(ids, {**three, "gw-d": 320})
    moved = sum(1 for r in ids if before[r] != after[r])
    assert len(before) == len(after) == 900
    assert moved / len(ids) < 0.40


def test_over_capacity_some_stay_unplaced() -> None:
    placed = place(regs(10), {"a": 3, "b": 4, "zero": 0})
    assert len(placed) == 7
    assert sorted(placed.values()).count("a") == 3
    assert "zero" not in placed.values()
    assert place(regs(3), {}) == {}
    assert place([], {"a": 2}) == {}


def test_repeated_ids_count_once() -> None:
    assert place(["r1", "r1", "r2"], {"a": 2}) == {"r1": "a", "r2": "a"}


def test_ranking_orders_by_weight() -> None:
    names = ["a", "b", "c", "d"]
    order = ranking("r1", names)
    assert sorted(order) == names
    weights = [weight("r1", n) for n in order]
    assert weights == sorted(weights, reverse=True)


@pytest.mark.parametrize(
    ("registrations", "processes", "error"),
    [
        ("r1", {"a": 1}, TypeError),
        ([1], {"a": 1}, TypeError),
        ([""], {"a": 1}, TypeError),
        (None, {"a": 1}, TypeError),
        (["r1"], [("a", 1)], TypeError),
        (["r1"], {"a": 1.5}, TypeError),
        (["r1"], {"a": True}, TypeError),
        (["r1"], {"": 1}, TypeError),
        (["r1"], {"a": -1}, ValueError),
    ],
)
def test_bad_arguments(registrations: object, processes: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        place(registrations, processes)  # type: ignore[arg-type]


def test_ranking_bad_arguments() -> None:
    with pytest.raises(TypeError, match="registration"):
        ranking("", ["a"])
    with pytest.raises(TypeError, match="processes"):
        ranking("r1", ["a", 3])  # type: ignore[list-item]
