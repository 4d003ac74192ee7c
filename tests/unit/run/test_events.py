"""provisioner.run.events.EventFollower: reads the event lines a writer appends while it writes them.
The writer here is this test, standing in for ansible-playbook's callback (which
tests/integration/test_event_stream.py runs for real): what is tested is the reading."""

import json
import os
import stat
import threading
import time

import pytest

from provisioner.run.events import CALLBACK_DIR, EventFollower, stream_env


def append(path, *events, raw: bytes = b""):
    with open(path, "ab") as handle:
        handle.write(b"".join(json.dumps(e).encode() + b"\n" for e in events) + raw)


def test_events_reach_the_sink_in_order_while_the_run_goes_on(tmp_path):
    path = tmp_path / "artifacts" / "run-1" / "events.jsonl"
    seen, arrived = [], threading.Event()

    def sink(event):
        seen.append(event["counter"])
        if len(seen) == 3:
            arrived.set()

    with EventFollower(path, sink, poll_s=0.01):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        append(path, *({"event": "runner_on_ok", "counter": n} for n in (1, 2, 3)))
        assert arrived.wait(5), "the follower did not hand on events before the run ended"
        append(path, {"event": "playbook_on_stats", "counter": 4})
    assert seen == [1, 2, 3, 4]  # the last one, written just before the end, is not lost


def test_a_line_written_in_two_parts_is_one_event(tmp_path):
    path = tmp_path / "events.jsonl"
    seen = []
    line = json.dumps({"event": "runner_on_ok", "counter": 1, "event_data": {"res": {"msg": "x" * 5000}}}).encode()
    with EventFollower(path, seen.append, poll_s=0.01), open(path, "ab") as handle:
        handle.write(line[:100])
        handle.flush()
        time.sleep(0.1)  # the follower reads the first part alone
        handle.write(line[100:] + b"\n")
    assert len(seen) == 1 and seen[0]["event_data"]["res"]["msg"] == "x" * 5000


def test_a_cut_off_last_line_and_garbage_are_counted_not_raised(tmp_path):
    path = tmp_path / "events.jsonl"
    seen = []
    with EventFollower(path, seen.append, poll_s=0.01) as follower:
        append(path, {"event": "a", "counter": 1}, raw=b"[1, 2]\nnot json\n{\"event\": \"b\", \"cou")
    assert [e["event"] for e in seen] == ["a"]
    assert follower.count == 1 and follower.unreadable == 3


def test_what_the_sink_raises_is_raised_in_the_callers_thread(tmp_path):
    path = tmp_path / "events.jsonl"

    def sink(event):
        raise RuntimeError(f"bad event {event['counter']}")

    with pytest.raises(RuntimeError, match="bad event 1"), EventFollower(path, sink, poll_s=0.01):
        append(path, {"counter": 1}, {"counter": 2})


def test_a_rerun_starts_an_empty_file(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({"counter": 99}) + "\n")
    seen = []
    with EventFollower(path, seen.append, poll_s=0.01):
        pass
    assert seen == []


def test_the_environment_names_the_callback_that_ansible_runner_loads(tmp_path):
    env = stream_env(tmp_path / "events.jsonl")
    assert env["AUTOGLM_EVENTS_FILE"] == str(tmp_path / "events.jsonl")
    # ansible-runner loads its stdout callback "awx_display" from AWX_LIB_DIRECTORY.
    assert os.path.isfile(os.path.join(env["AWX_LIB_DIRECTORY"], "awx_display.py"))
    assert env["AWX_LIB_DIRECTORY"] == str(CALLBACK_DIR)
