"""provisioner.views.console: the live view names the task running now, with its elapsed time on a
long task, from ansible-runner's start events (recorded event shapes, a hand-driven clock)."""

from __future__ import annotations

import io

from rich.console import Console

from provisioner.results.report import RunReport
from provisioner.views.console import LiveView


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ev(kind: str, host: str | None = None, **data) -> dict:
    return {"event": kind, "event_data": {**({"host": host} if host else {}), **data}}


def text(renderable) -> str:
    console = Console(record=True, width=200, force_terminal=False)
    console.print(renderable)
    return console.export_text()


def feed(report: RunReport, view: LiveView, *events: dict) -> None:
    """What the run's event sink does: the report first, then the view."""
    for event in events:
        report.handle_event(event)
        view(event)


def live_view(action: str, clock: Clock | None = None) -> tuple[RunReport, LiveView]:
    """A report and the live view over it, rendering to memory (nothing reaches the terminal)."""
    report = RunReport(run_id="r", action=action, inventory="i")
    extra = {"clock": clock} if clock else {}
    return report, LiveView(report, Console(file=io.StringIO()), **extra)


def test_a_long_task_is_named_while_it_runs_with_its_elapsed_time():
    clock = Clock()
    report, view = live_view("check", clock)
    feed(report, view,
         ev("playbook_on_task_start", task="Scan the PCI bus for GPUs", role="preflight"),
         ev("runner_on_start", "gpu1", task="Scan the PCI bus for GPUs", role="preflight"),
         ev("runner_on_ok", "gpu1", task="Scan the PCI bus for GPUs", role="preflight", res={"changed": False}),
         ev("playbook_on_task_start", task="Measure storage throughput", role="preflight"),
         ev("runner_on_start", "gpu1", task="Measure storage throughput", role="preflight"))
    assert view.title() == "autoglm-provision check — preflight : Measure storage throughput"
    clock.now += 8.2  # no event for 8 s: the storage test runs
    shown = text(view.render())
    assert "preflight : Measure storage throughput (8 s)" in shown  # the title and the host's row
    assert shown.count("Measure storage throughput (8 s)") == 2
    assert "Scan the PCI bus" not in shown  # not the previous task for the whole of a long one
    clock.now += 117
    assert view.title().endswith("Measure storage throughput (2 min 05 s)")


def test_a_short_task_shows_no_clock_and_a_finished_host_no_task():
    clock = Clock()
    report, view = live_view("site", clock)
    feed(report, view,
         ev("playbook_on_task_start", task="Install the driver", role="nvidia_driver"),
         ev("runner_on_start", "a", task="Install the driver", role="nvidia_driver"),
         ev("runner_on_start", "b", task="Install the driver", role="nvidia_driver"))
    clock.now += 1.0
    assert view.current_task("a") == "nvidia_driver : Install the driver"
    feed(report, view, ev("runner_on_failed", "b", task="Install the driver", role="nvidia_driver",
                          res={"msg": "no such package"}))
    assert view.current_task("b") == "" and view.current_task("a") == "nvidia_driver : Install the driver"
    assert report.hosts["b"].failed == 1


def test_the_view_decides_nothing():
    """Run events reach the report through the run's event sink; the view alone changes no result."""
    report, view = live_view("check")
    view(ev("runner_on_ok", "a", task="Publish", res={"ansible_facts": {"autoglm_report_cuda": {"version": "11.8"}}}))
    assert report.hosts == {}


def test_plain_output_names_each_task_at_its_start():
    report = RunReport(run_id="r", action="check", inventory="i")
    console = Console(record=True, width=200, force_terminal=False)
    with LiveView(report, console) as view:
        assert view.live is None  # not a terminal: plain lines for CI logs
        feed(report, view, ev("playbook_on_task_start", task="Measure storage throughput", role="preflight"),
             ev("runner_on_start", "a", task="Measure storage throughput", role="preflight"),
             ev("runner_on_unreachable", "a", task="Measure storage throughput", res={"msg": "ssh: timeout"}))
    assert console.export_text().splitlines() == ["TASK [Measure storage throughput]", "  UNREACHABLE a: ssh: timeout"]


def test_on_a_terminal_each_refresh_renders_afresh(tmp_path):
    """rich's Live refreshes 4 times a second; each refresh asks the view again, so the clock moves
    during a task that sends no event."""
    report, clock = RunReport(run_id="r", action="smoke", inventory="i"), Clock()
    with open(tmp_path / "tty", "w") as out:
        console = Console(file=out, force_terminal=True, width=200)
        with LiveView(report, console, clock=clock) as view:
            feed(report, view, ev("playbook_on_task_start", task="Run the GPU smoke test", role="gpu_smoke"))
            clock.now += 30
            assert "gpu_smoke : Run the GPU smoke test (30 s)" in text(view.live.get_renderable())
            clock.now += 30
            shown = " ".join(text(view.live.get_renderable()).split())  # a narrow table wraps its title
            assert "gpu_smoke : Run the GPU smoke test (1 min 00 s)" in shown


def test_summary_and_status_show_the_smoke_codes_and_what_to_do(tmp_path):
    from provisioner.results import state  # noqa: PLC0415
    from provisioner.results.smoke import host_verdict  # noqa: PLC0415
    from provisioner.views.console import print_summary, status_table  # noqa: PLC0415
    from tests.fixtures.signoff_run import faulty_smoke_report  # noqa: PLC0415

    report = RunReport(run_id="r", action="smoke", inventory="i")
    report.handle_event(ev("runner_on_failed", "gpu-a01", task="Fail the host on a failed smoke verdict",
                           role="gpu_smoke", res={"msg": "GPU smoke test (standard) FAILED"}))
    report.finish(2, "failed", 1.0)
    report.hosts["gpu-a01"].smoke = host_verdict(faulty_smoke_report("gpu-a01"))
    data = report.to_dict()
    console = Console(record=True, width=400, force_terminal=False)
    print_summary(console, data, "/runs/r")
    out = console.export_text()
    assert "gpu-a01: qualification" in out
    assert "FAIL GPU_H2D_LOW (degraded) gpu0 h2d_gbs: 44% of spec peak" in out
    assert "next: re-run the smoke test" in out and "WARN GPU_PERSISTENCE_OFF (degraded) gpu1" in out
    state.record_run(data, tmp_path)
    shown = text(status_table(state.status_rows(["gpu-a01"], tmp_path)))
    assert "smoke codes" in shown and "GPU_H2D_LOW, GPU_PERSISTENCE_OFF" in shown
