"""checker.worker.ImportGate: a learner module's first import is awaited by the other workers that need it."""

from __future__ import annotations

import threading
import time

from checker.worker import ImportGate


def enter_in_thread(gate: ImportGate, module: str, timeout: float = 5.0) -> tuple[threading.Thread, list]:
    roles: list[str] = []
    thread = threading.Thread(target=lambda: roles.append(gate.enter(module, timeout)))
    thread.start()
    return thread, roles


def test_the_first_worker_leads_and_the_others_wait_for_its_import():
    gate = ImportGate()
    assert gate.enter("client", 5.0) == ImportGate.LEAD
    thread, roles = enter_in_thread(gate, "client")
    time.sleep(0.2)
    assert thread.is_alive() and roles == []  # still waiting for the leader's import
    assert gate.enter("api", 5.0) == ImportGate.LEAD  # another module is not held up
    gate.settle("client", hung=False)
    thread.join(5)
    assert roles == [ImportGate.GO]
    assert gate.enter("client", 5.0) == ImportGate.GO


def test_a_module_that_hung_once_is_reported_hung_to_every_later_worker():
    gate = ImportGate()
    assert gate.enter("client", 5.0) == ImportGate.LEAD
    waiting = [enter_in_thread(gate, "client") for _ in range(3)]
    gate.settle("client", hung=True)
    for thread, roles in waiting:
        thread.join(5)
        assert roles == [ImportGate.HUNG]
    assert gate.enter("client", 5.0) == ImportGate.HUNG


def test_a_leader_that_never_settles_holds_the_others_no_longer_than_their_deadline():
    gate = ImportGate()
    gate.enter("client", 5.0)
    thread, roles = enter_in_thread(gate, "client", timeout=0.2)
    thread.join(10)
    assert not thread.is_alive() and roles == [ImportGate.GO]  # then it tries the import itself
