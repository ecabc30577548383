"""BrokerCore hands titanic.* to an in-process handler, up to its capacity, before any
worker (handle_locally); past the capacity, requests go to the service's workers."""

from __future__ import annotations

from support.broker_frames import C1, C2, SVC, T0, V01, V02, W1, ready, request, sends

from raspy.cores.broker import BrokerCore, LocalRequest
from raspy.protocol import mdp


def test_requests_go_to_the_handler_up_to_its_capacity_then_to_a_worker() -> None:
    core = BrokerCore()
    core.on_frames(W1, ready(V02), T0)
    core.handle_locally(SVC, 2)
    first = core.on_frames(C1, request(V01, b"a"), T0)
    second = core.on_frames(C2, request(V02, b"b"), T0)
    assert first == [LocalRequest(C1, mdp.ClientRequest(V01, SVC, (b"a",)))]
    assert second == [LocalRequest(C2, mdp.ClientRequest(V02, SVC, (b"b",)))]
    # full: the third goes to the registered worker, as any MDP request
    (to_worker,) = sends(core.on_frames(C1, request(V01, b"c"), T0))
    assert to_worker.peer == W1
    # one answer frees one place
    core.local_answered(SVC)
    fourth = core.on_frames(C2, request(V02, b"d"), T0)
    assert fourth == [LocalRequest(C2, mdp.ClientRequest(V02, SVC, (b"d",)))]


def test_no_handler_means_workers_only_and_mmi_still_answers() -> None:
    core = BrokerCore()
    core.handle_locally(SVC, 3)
    core.handle_locally(SVC, 0)  # the handler left
    assert core.on_frames(C1, request(V02, b"x"), T0) == []  # queued for a worker
    core.local_answered(SVC)  # an answer after it left changes nothing
    (assigned,) = sends(core.on_frames(W1, ready(V02), T0))
    assert assigned.peer == W1
    (mmi,) = sends(core.on_frames(C1, request(V02, SVC, service=b"mmi.service"), T0))
    assert mmi.frames[-1] == b"200"
