# The CLI's event transport, loaded by ansible-playbook (never imported by the CLI itself).
#
# ansible-runner forces ANSIBLE_STDOUT_CALLBACK=awx_display and looks for that plugin first in
# AWX_LIB_DIRECTORY. The CLI points AWX_LIB_DIRECTORY here (provisioner/run/events.py), so this file
# replaces runner's callback for the CLI's runs only. Runner's callback encodes each event three
# times over (a partial JSON file, base64 markers on the pty, runner's own re-read and re-write);
# that was the CLI's largest extra cost over plain ansible-playbook (bench/event_transport.py and
# bench/fleet_scale.py measure it; figures in bench/README.md). This one prints exactly what
# the stdout callback the user chose prints (runner keeps it in ORIGINAL_STDOUT_CALLBACK), and
# appends each event as one JSON line, in runner's event shape, to the file named by
# AUTOGLM_EVENTS_FILE, which the CLI follows. Without AUTOGLM_EVENTS_FILE it only prints.
#
# Self-contained on purpose: it runs inside ansible-playbook, which may not import the CLI package; it
# imports only Ansible and this collection's plugin_utils (the CLI puts the collection on its path).

from __future__ import annotations

import datetime
import functools
import importlib
import json
import os
import uuid

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.plugins.loader import callback_loader
from ansible.release import __version__ as ANSIBLE_CORE_VERSION
from ansible.utils.display import Display
from ansible_collections.autoglm.provision.plugins.plugin_utils.url_credentials import strip_url_credentials

# The private APIs this file uses (docs/development.md, "Private APIs and what breaks at ansible-core
# 2.20 / ansible-runner 2.5"), each looked up here, once: a release without one stops ansible-playbook
# with one message naming it and the supported versions (pyproject.toml's pins), not a traceback.
SUPPORTED = "ansible-core>=2.19,<2.20 and ansible-runner>=2.4,<2.5"


def _missing(what: str, exc: Exception) -> AnsibleError:
    return AnsibleError(
        f"autoglm-provision's event callback (awx_display) needs {what}, a private API of ansible-core, which "
        f"ansible-core {ANSIBLE_CORE_VERSION} does not have ({type(exc).__name__}: {exc}). autoglm-provision "
        f"supports {SUPPORTED}: install those (pip install 'ansible-core>=2.19,<2.20' 'ansible-runner>=2.4,<2.5'), "
        "or an autoglm-provision release that supports this ansible-core")


def _private(module: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise _missing(f"the module {module}", exc) from None


def _private_attr(owner, name: str, qualified: str):
    try:
        return getattr(owner, name)
    except AttributeError as exc:
        raise _missing(qualified, exc) from None


# The encoder Ansible's own callbacks use for what the C encoder cannot write (no public equivalent).
_fallback_to_str = _private("ansible.module_utils._internal._json._profiles._fallback_to_str")

DOCUMENTATION = """
    name: awx_display
    type: stdout
    short_description: the user's stdout callback, plus autoglm-provision's event stream
    description:
      - Prints what the stdout callback named in ORIGINAL_STDOUT_CALLBACK (default C(default)) prints.
      - Appends each playbook event as a JSON line to the file named by AUTOGLM_EVENTS_FILE.
    extends_documentation_fragment:
      - default_callback
      - result_format_callback
"""

EVENTS_FILE_ENV = "AUTOGLM_EVENTS_FILE"
CENSORED = "the output has been hidden due to the fact that 'no_log: true' was specified for this result"
# Runner drops a result larger than this (its MAX_EVENT_RES): events stay readable at any size.
MAX_EVENT_BYTES = int(os.getenv("MAX_EVENT_RES", "700000"))

_ORIGINAL = os.getenv("ORIGINAL_STDOUT_CALLBACK") or "default"
_Base = callback_loader.get(_ORIGINAL, class_only=True)
if _Base is None:  # as ansible-playbook itself, refuse a stdout callback it cannot load, by name
    raise AnsibleError(f"the stdout callback {_ORIGINAL!r} (ANSIBLE_STDOUT_CALLBACK) was not found")


def _jsonable(value):
    """What the C encoder cannot write (a set, bytes, a date), as Ansible's own callbacks write it.
    Results reach callbacks as native types already (CallbackTaskResult.result), so this is rare;
    Ansible's encoder for everything costs several times the C encoder's time per event
    (bench/README.md, "The CLI's own event transport")."""
    return json.loads(json.dumps(value, cls=_fallback_to_str.Encoder))


class _EventWriter:
    """One JSON line per event, one write(2) each on an O_APPEND descriptor: the CLI's follower
    never sees half an event from a finished write, and sees each as soon as it happens."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.counter = 0
        self.pid = os.getpid()

    def emit(self, event: str, event_data: dict) -> None:
        if os.getpid() != self.pid:  # a forked worker: events are the controller process's alone
            return
        self.counter += 1
        record = {"event": event, "uuid": str(uuid.uuid4()), "counter": self.counter, "pid": self.pid,
                  "created": datetime.datetime.now(datetime.UTC).isoformat(), "event_data": event_data}
        line = json.dumps(record, default=_jsonable)
        if len(line) > MAX_EVENT_BYTES and "res" in event_data:
            event_data["res"] = {"msg": f"result left out: over {MAX_EVENT_BYTES} bytes as JSON"}
            line = json.dumps(record, default=_jsonable)
        line = strip_url_credentials(line)  # https://user:password@bmc: never in the event log
        os.write(self.fd, (line + "\n").encode("ascii"))  # \u escapes: valid UTF-8 whatever the bytes


_writer: _EventWriter | None = None


def _emit(event: str, **event_data) -> None:
    if _writer is not None:
        _writer.emit(event, event_data)


def _warning_events(original):
    """Display warnings are not callback calls; runner wraps Display for them, and so does this.
    Only in the controller process (workers proxy theirs to it), and only those Display shows
    (it drops repeats)."""

    @functools.wraps(original)
    def wrapper(self, warning, *args, **kwargs):
        shown_before = len(getattr(self, "_warns", ()))
        result = original(self, warning, *args, **kwargs)
        if getattr(self, "_final_q", None) is None and len(getattr(self, "_warns", ())) > shown_before:
            event = getattr(warning, "event", None)
            _emit("warning", warning=str(getattr(event, "msg", warning)))
        return result

    return wrapper


Display._warning = _warning_events(_private_attr(Display, "_warning", "ansible.utils.display.Display._warning"))


def _res(result) -> dict:
    """The module result as runner's events carry it: no_log results censored, and the fact
    gathering's ansible_env (the login environment of the host, which may hold tokens) left out."""
    res = result.result
    if res.get("_ansible_no_log"):
        return {"censored": CENSORED}
    if isinstance(res.get("results"), list) and any(isinstance(i, dict) and i.get("_ansible_no_log")
                                                    for i in res["results"]):
        res = dict(res, results=[{"censored": CENSORED} if isinstance(i, dict) and i.get("_ansible_no_log")
                                 else i for i in res["results"]])
    facts = res.get("ansible_facts")
    if isinstance(facts, dict) and "ansible_env" in facts:
        res = dict(res, ansible_facts={k: v for k, v in facts.items() if k != "ansible_env"})
    return res


def _task(task) -> dict:
    data = {"task": task.name or task.action, "task_action": task.action, "task_uuid": str(task._uuid)}
    role = getattr(task, "_role", None)
    if role is not None:
        data["role"] = role._role_name
    return data


class CallbackModule(_Base):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "awx_display"

    def __init__(self, *args, **kwargs) -> None:
        global _writer
        super().__init__(*args, **kwargs)
        path = os.getenv(EVENTS_FILE_ENV)
        if path and _writer is None:
            _writer = _EventWriter(path)
        self._play_context: dict = {}

    def set_options(self, *args, **kwargs):
        # As runner's awx_display: the options of the user's stdout callback are this one's too.
        base = C.config.get_configuration_definition(_Base._load_name, plugin_type="callback")
        mine = C.config.get_configuration_definition(self._load_name, plugin_type="callback")
        C.config.initialize_plugin_configuration_definitions("callback", self._load_name, base | mine)
        return super().set_options(*args, **kwargs)

    def _result_event(self, event: str, result, **extra) -> None:
        """An event about one host's result: the play, the host, the task, then ``extra``."""
        _emit(event, **self._play_context, host=result.host.get_name(), remote_addr=result.host.address,
              **_task(result.task), **extra)

    def v2_playbook_on_start(self, playbook):
        _emit("playbook_on_start", playbook=getattr(playbook, "_file_name", ""))
        super().v2_playbook_on_start(playbook)

    def v2_playbook_on_play_start(self, play):
        pattern = ",".join(play.hosts) if isinstance(play.hosts, list) else play.hosts
        self._play_context = {"play": play.get_name().strip() or pattern, "play_pattern": pattern}
        _emit("playbook_on_play_start", name=self._play_context["play"], pattern=pattern)
        super().v2_playbook_on_play_start(play)

    def v2_playbook_on_task_start(self, task, is_conditional):
        _emit("playbook_on_task_start", **self._play_context, **_task(task), is_conditional=is_conditional)
        super().v2_playbook_on_task_start(task, is_conditional)

    def v2_playbook_on_handler_task_start(self, task):
        _emit("playbook_on_task_start", **self._play_context, **_task(task), is_conditional=True)
        super().v2_playbook_on_handler_task_start(task)

    def v2_playbook_on_no_hosts_matched(self):
        _emit("playbook_on_no_hosts_matched", **self._play_context)
        super().v2_playbook_on_no_hosts_matched()

    def v2_playbook_on_no_hosts_remaining(self):
        _emit("playbook_on_no_hosts_remaining", **self._play_context)
        super().v2_playbook_on_no_hosts_remaining()

    def v2_playbook_on_notify(self, handler, host):
        _emit("playbook_on_notify", host=host.get_name(), handler=handler.get_name())
        super().v2_playbook_on_notify(handler, host)

    def v2_playbook_on_stats(self, stats):
        _emit("playbook_on_stats", changed=stats.changed, dark=stats.dark, failures=stats.failures,
              ignored=stats.ignored, ok=stats.ok, processed=stats.processed, rescued=stats.rescued,
              skipped=stats.skipped, artifact_data=stats.custom.get("_run", {}))
        super().v2_playbook_on_stats(stats)

    def v2_runner_on_start(self, host, task):
        _emit("runner_on_start", host=host.get_name(), **self._play_context, **_task(task))
        super().v2_runner_on_start(host, task)

    def v2_runner_on_ok(self, result):
        self._result_event("runner_on_ok", result, res=_res(result))
        super().v2_runner_on_ok(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result_event("runner_on_failed", result, res=_res(result), ignore_errors=ignore_errors)
        super().v2_runner_on_failed(result, ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._result_event("runner_on_skipped", result)
        super().v2_runner_on_skipped(result)

    def v2_runner_on_unreachable(self, result):
        self._result_event("runner_on_unreachable", result, res=_res(result))
        super().v2_runner_on_unreachable(result)

    def v2_runner_retry(self, result):
        self._result_event("runner_retry", result, res=_res(result))
        super().v2_runner_retry(result)

    def v2_runner_item_on_ok(self, result):
        self._result_event("runner_item_on_ok", result, res=_res(result))
        super().v2_runner_item_on_ok(result)

    def v2_runner_item_on_failed(self, result):
        self._result_event("runner_item_on_failed", result, res=_res(result))
        super().v2_runner_item_on_failed(result)

    def v2_runner_item_on_skipped(self, result):
        self._result_event("runner_item_on_skipped", result, res=_res(result))
        super().v2_runner_item_on_skipped(result)

    def v2_runner_on_async_ok(self, result):
        self._result_event("runner_on_async_ok", result, res=_res(result))
        super().v2_runner_on_async_ok(result)

    def v2_runner_on_async_failed(self, result):
        self._result_event("runner_on_async_failed", result, res=_res(result))
        super().v2_runner_on_async_failed(result)

    def v2_on_file_diff(self, result):
        self._result_event("runner_on_file_diff", result, diff=result.result.get("diff"))
        super().v2_on_file_diff(result)
